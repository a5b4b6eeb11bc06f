"""The model families ckv-capture supports, each as a tiny model built offline (ckv_capture/tiny.py):
what makes each family's attention its own is in effect, the captured q/k reproduce the model's
own attention probabilities, and the output error of an eviction measured inside the model equals
the replayed `output_error`. Families whose attention the replay would misrepresent are refused,
naming the model type and what is unsupported. (Llama and Qwen2 are checked in full on every
sample by test_capture.py and test_replay_fidelity.py.)"""

from __future__ import annotations

import json
import math
import os
import shutil

import pytest
import torch
from safetensors import safe_open
from test_capture import _attention_from_cache
from test_replay_fidelity import _answer_outputs
from transformers import AutoConfig, AutoModelForCausalLM

from ckv_capture import attention, cache_format, capture, generate, models, tiny

from conftest import inspect

FAMILIES = ("llama3.1", "mistral", "qwen3", "phi3")
BUDGET, WINDOW = 48, 16


def _capture_argv(model, assets, out, *extra):
    return ["--model", model, "--longbench", assets["longbench"], "--out", str(out), "--device", "cpu",
            "--dtype", "float32", "--max-length", "400", "--tasks", "hotpotqa", "--samples", "1", *extra]


def _family_in_effect(kind, model):
    """The feature that makes the family's attention its own is what the model computes with."""
    config = model.config
    rotary = model.model.rotary_emb
    if kind == "llama3.1":
        # rope_type llama3 lowers the frequencies whose wavelength exceeds the original context
        d, theta = model.model.layers[0].self_attn.head_dim, 500000.0
        plain = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d)
        assert rotary.inv_freq.shape == plain.shape
        assert torch.allclose(rotary.inv_freq[:2], plain[:2]) and rotary.inv_freq[-1] < plain[-1] / 7.9
    elif kind == "mistral":
        assert config.sliding_window == 4096  # every layer is given the window: longer than the sample
    elif kind == "qwen3":
        assert all(hasattr(layer.self_attn, "q_norm") and hasattr(layer.self_attn, "k_norm")
                   for layer in model.model.layers)
    elif kind == "phi3":
        # fused projection, RoPE on half of each head, LongRoPE's attention factor
        # sqrt(1 + ln(2048 / 64) / ln 64) on cos and sin
        assert all(hasattr(layer.self_attn, "qkv_proj") for layer in model.model.layers)
        assert rotary.inv_freq.numel() * 2 == model.model.layers[0].self_attn.head_dim // 2
        assert abs(rotary.attention_scaling - math.sqrt(1 + math.log(2048 / 64) / math.log(64))) < 1e-6


@pytest.mark.parametrize("kind", FAMILIES)
def test_family_capture_reproduces_the_model_and_its_replay(assets, kind, tmp_path, ckv_sweep):
    out = tmp_path / "cache"
    assert capture.main(_capture_argv(assets[kind], assets, out, "--query-rows", "all", "--attention", "eager")) == 0
    (entry,) = cache_format.read_index(str(out))
    with safe_open(os.path.join(out, entry["path"]), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        assert f.metadata()["model_config_sha256"] == models.identity(assets[kind]).config_hash
    reference = AutoModelForCausalLM.from_pretrained(assets[kind], dtype=torch.float32,
                                                     attn_implementation="eager").eval()
    ids = torch.cat([tensors["input_ids"], tensors["answer_ids"]]).long()[None]
    with torch.no_grad():
        attentions = reference(ids, output_attentions=True, use_cache=False).attentions
    _family_in_effect(kind, reference)
    n, m = entry["n_tokens"], entry["m_answer"]
    assert n > 64 and m >= 2  # past Phi-3's original context: one set of LongRoPE factors throughout
    for layer in range(reference.config.num_hidden_layers):
        theirs, ours = attentions[layer][0].double(), _attention_from_cache(tensors, layer)
        assert theirs.shape == ours.shape == (reference.config.num_attention_heads, n + m, n + m)
        assert (theirs - ours).abs().max().item() <= 1e-5, (kind, layer)

    # eviction inside the model (the attention function's masking) against the replay
    model, _, _ = models.load(assets[kind], torch.device("cpu"), "float32", "eager")
    session = attention.AttentionSession(model)
    prompt_ids, answer_ids = tensors["input_ids"].long()[None], tensors["answer_ids"].long()[None]
    for layer in range(session.num_layers):
        full = _answer_outputs(model, session, prompt_ids, answer_ids, layer, None)
        replay = inspect(ckv_sweep, str(out), entry["id"], layer, "snapkv", budget=BUDGET, window=WINDOW,
                         selection="per_kv_head")
        mask = torch.zeros(session.num_kv_heads, n, dtype=torch.bool)
        for g, kept in enumerate(replay["keep"]):
            mask[g, kept] = True
        kept_output = _answer_outputs(model, session, prompt_ids, answer_ids, layer, mask)
        error = ((kept_output - full).norm(dim=-1) / full.norm(dim=-1)).mean().item()
        assert abs(error - replay["metrics"]["output_error"]) <= 1e-4, (kind, layer, error, replay["metrics"])
        assert error > 1e-3  # the keep-set evicts something that matters: the check can fail


@pytest.mark.parametrize("kind, name, reasons", [
    ("gemma2", "model type gemma2 (Gemma 2) is not supported",
     ["soft-caps the attention logits (cap·tanh(logit/cap), cap = 50)",
      "1 of its 2 layers attend through a sliding window of 32 tokens (the others attend to every earlier token)"]),
    ("gemma3", "model type gemma3_text (Gemma 3) is not supported",
     ["2 of its 2 layers attend through a sliding window of 32 tokens (all of them)"]),
])
def test_gemma_is_refused_by_name_with_the_reason(assets, kind, name, reasons, tmp_path, capfd):
    out = tmp_path / "cache"
    assert capture.main(_capture_argv(assets[kind], assets, out)) == 1
    err = capfd.readouterr().err
    assert name in err and all(r in err for r in reasons), err
    assert "ckv-sweep replays softmax(q·k/sqrt(d)) over every earlier key in every layer" in err
    assert not os.path.exists(out / "index.jsonl")
    # ckv-generate refuses it too
    keep = tmp_path / "keep.jsonl"
    keep.write_text(json.dumps({"id": "hp00", "task": "hotpotqa", "config_hash": "ab" * 32,
                                "layers": {"0": [0, 1]}}) + "\n")
    assert generate.main(["--model", assets[kind], "--longbench", assets["longbench"], "--keep", str(keep),
                          "--out", str(tmp_path / "pred"), "--device", "cpu"]) == 1
    assert name in capfd.readouterr().err


def test_another_family_whose_config_shows_a_difference_is_refused(assets, tmp_path, capfd):
    # VaultGemma is not named anywhere in ckv-capture: its configuration's soft-capping refuses it
    directory = tmp_path / "vaultgemma"
    config = AutoConfig.for_model("vaultgemma", vocab_size=600, hidden_size=32, intermediate_size=64,
                                  num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                                  query_pre_attn_scalar=16, attn_logit_softcapping=30.0)
    config.save_pretrained(directory)
    assets.tokenizer.save_pretrained(directory)
    assert capture.main(_capture_argv(str(directory), assets, tmp_path / "cache")) == 1
    err = capfd.readouterr().err
    assert "model type vaultgemma is not supported: it soft-caps the attention logits" in err, err


def test_a_sliding_window_shorter_than_the_sample_is_refused_at_the_first_sample(assets, tmp_path, capfd):
    # Mistral 7B v0.1's configuration with a window the samples exceed: the attention call shows it
    directory = tmp_path / "mistral-window"
    shutil.copytree(assets["mistral"], directory)
    config = json.loads((directory / "config.json").read_text())
    config["sliding_window"] = 32
    (directory / "config.json").write_text(json.dumps(config))
    assert capture.main(_capture_argv(str(directory), assets, tmp_path / "cache")) == 1
    err = capfd.readouterr().err
    assert ("model type mistral, layer 0 attends through a sliding window of 32 tokens, shorter than the "
            "sequence") in err
    assert cache_format.read_index(str(tmp_path / "cache")) == []


def test_every_usable_tiny_family_is_checked_here_or_in_the_llama_and_qwen2_tests():
    assert set(tiny.USABLE) == set(FAMILIES) | {"llama", "qwen2"}
    assert {tiny.FAMILIES[k][0] for k in tiny.USABLE} == set(models.SUPPORTED)
    assert {tiny.FAMILIES[k][0] for k in tiny.FAMILIES if k not in tiny.USABLE} <= set(models.REFUSED)
