"""What ckv-capture writes is what the model's attention saw: the captured q and k reproduce the
model's own attention probabilities (eager attention, output_attentions), the C++ reader accepts
every file, and the greedy answer is the model's own greedy generation."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import torch
import transformers
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer

from ckv_capture import cache_format, capture, longbench

from conftest import inspect

MODELS = ("llama", "qwen2")


def _capture(assets, kind, out, *extra):
    argv = ["--model", assets[kind], "--longbench", assets["longbench"], "--out", str(out), "--device", "cpu",
            "--max-length", "400", *extra]
    assert capture.main(argv) == 0
    return cache_format.read_index(str(out))


def _load(path):
    with safe_open(path, framework="pt") as f:
        return f.metadata(), {k: f.get_tensor(k) for k in f.keys()}


def _attention_from_cache(tensors, layer):
    """softmax(q·kᵀ/√d) with the causal mask, over prompt and answer, from the stored tensors,
    in float32 with eager attention's operations: what is compared is the inputs, not float32's
    rounding of the logits (about 1e-5 on the sharpest rows of these models)."""
    q = torch.cat([tensors[f"layers.{layer}.q"], tensors[f"layers.{layer}.q_answer"]], dim=1).float()
    k = torch.cat([tensors[f"layers.{layer}.k"], tensors[f"layers.{layer}.k_answer"]], dim=1).float()
    H, N, d = q.shape
    k = k.repeat_interleave(H // k.shape[0], dim=0)  # query head h reads KV head h // (H/G)
    logits = torch.matmul(q, k.transpose(1, 2)) * d ** -0.5
    logits = logits + torch.zeros(N, N).masked_fill(torch.ones(N, N, dtype=torch.bool).triu(1),
                                                    torch.finfo(torch.float32).min)
    return torch.softmax(logits, dim=-1, dtype=torch.float32).double()


@pytest.mark.parametrize("kind", MODELS)
def test_captured_qk_reproduce_the_models_attention(assets, kind, tmp_path, ckv_sweep):
    # Captured through eager attention, the reference's own: with sdpa the later layers' inputs
    # differ from the reference's by float32 rounding (the attention is sharp enough to turn that
    # into ~1e-5 on probabilities), which is not what this test is about.
    out = tmp_path / "cache"
    index = _capture(assets, kind, out, "--query-rows", "all", "--dtype", "float32", "--attention", "eager")
    assert sorted((e["task"], e["id"]) for e in index) == [("hotpotqa", "hp00"), ("hotpotqa", "hp01"),
                                                           ("hotpotqa", "hp02"), ("trec", "tr00"), ("trec", "tr01")]
    model = AutoModelForCausalLM.from_pretrained(assets[kind], dtype=torch.float32, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(assets[kind])
    samples = {(s.task, s.id): s for s in longbench.read_longbench([assets["longbench"]])}
    L = model.config.num_hidden_layers
    H, G = model.config.num_attention_heads, model.config.num_key_value_heads
    for entry in index:
        metadata, tensors = _load(os.path.join(out, entry["path"]))
        n, m = entry["n_tokens"], entry["m_answer"]
        # the storage model of docs/user-guide.md: per layer b·d·(H·r + H·m + 2·G·(n + m)) bytes,
        # 4·(n + m) of token ids, the header (8-byte length + JSON) on top
        d, b = tensors["layers.0.q"].shape[2], 4
        path = os.path.join(out, entry["path"])
        with open(path, "rb") as f:
            header = 8 + int.from_bytes(f.read(8), "little")
        assert os.path.getsize(path) == entry["file_size"] == header + L * b * d * (H * n + H * m + 2 * G * (n + m)) + 4 * (n + m)
        sample = samples[(entry["task"], entry["id"])]
        # the file names what produced it and holds what the model read
        prompt = longbench.build_prompt(tokenizer, sample, 400, "auto")
        assert tensors["input_ids"].tolist() == prompt.input_ids
        assert tensors["answer_ids"].tolist() == tokenizer(sample.answers[0], add_special_tokens=False).input_ids
        assert metadata["model"] == assets[kind] and metadata["transformers_version"] == transformers.__version__
        assert len(metadata["model_config_sha256"]) == 64 and metadata["answer_source"] == "gold"
        assert json.loads(metadata["layers"]) == list(range(L)) and metadata["num_layers_model"] == str(L)
        assert json.loads(metadata["evidence"]) == [list(s) for s in prompt.evidence]
        # every prompt token's text: together, byte for byte, the prompt the tokenizer decodes
        texts = json.loads(metadata["token_texts"])
        assert len(texts) == n and metadata["token_text_method"] == "byte-level"
        assert b"".join(cache_format.decode_token_texts(texts)).decode("utf-8") == tokenizer.decode(
            prompt.input_ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        ids = torch.cat([tensors["input_ids"], tensors["answer_ids"]]).long()[None]
        with torch.no_grad():
            attentions = model(ids, output_attentions=True, use_cache=False).attentions
        for layer in range(L):
            theirs = attentions[layer][0].double()
            ours = _attention_from_cache(tensors, layer)
            assert theirs.shape == ours.shape == (model.config.num_attention_heads, n + m, n + m)
            assert (theirs - ours).abs().max().item() <= 1e-5, (entry["id"], layer)
            # ...and the C++ reader takes the file: ckv-sweep replays every layer of it
            result = inspect(ckv_sweep, str(out), entry["id"], layer, "snapkv", budget=64, window=16)
            assert result["n"] == n and len(result["keep"]) == model.config.num_key_value_heads
            assert all(len(kept) == 64 for kept in result["keep"])
            assert 0.0 < result["metrics"]["attn_recall"] <= 1.0
    # the attention that computes the capture pass does not change what is captured (beyond
    # float32 rounding): sdpa's capture agrees with eager's
    sdpa = tmp_path / "sdpa"
    _capture(assets, kind, sdpa, "--query-rows", "all", "--dtype", "float32", "--attention", "sdpa")
    for entry in index:
        _, eager_tensors = _load(os.path.join(out, entry["path"]))
        _, sdpa_tensors = _load(os.path.join(sdpa, entry["path"]))
        assert eager_tensors.keys() == sdpa_tensors.keys()
        for name, t in eager_tensors.items():
            assert torch.allclose(sdpa_tensors[name], t, rtol=1e-4, atol=1e-4), name


@pytest.mark.parametrize("kind", MODELS)
def test_window_capture_and_storage_dtype(assets, kind, tmp_path):
    full = _capture(assets, kind, tmp_path / "full", "--query-rows", "all", "--dtype", "float32", "--tasks", "trec")
    window = _capture(assets, kind, tmp_path / "window", "--query-rows", "64", "--dtype", "float32", "--tasks", "trec",
                      "--layers", "0")
    for a, b in zip(full, window, strict=True):
        _, big = _load(os.path.join(tmp_path / "full", a["path"]))
        metadata, small = _load(os.path.join(tmp_path / "window", b["path"]))
        assert sorted(small) == sorted(["input_ids", "answer_ids"] + [f"layers.0.{k}" for k in cache_format.LAYER_KINDS])
        assert small["layers.0.q"].shape[1] == 64 and metadata["query_rows"] == "64"
        assert torch.equal(small["layers.0.q"], big["layers.0.q"][:, -64:])
        assert torch.equal(small["layers.0.k"], big["layers.0.k"])
        # content_sha256: the SHA-256 of every byte after the header, read from the raw file
        raw = open(os.path.join(tmp_path / "window", b["path"]), "rb").read()
        header_length = int.from_bytes(raw[:8], "little")
        assert metadata["content_sha256"] == hashlib.sha256(raw[8 + header_length:]).hexdigest()
    # a second capture into the same directory with other settings is refused
    argv = ["--model", assets[kind], "--longbench", assets["longbench"], "--out", str(tmp_path / "window"),
            "--device", "cpu", "--max-length", "400", "--query-rows", "all", "--tasks", "trec", "--layers", "0",
            "--dtype", "float32"]
    assert capture.main(argv) == 1


def test_greedy_answer_is_the_models_greedy_generation(assets, tmp_path):
    index = _capture(assets, "qwen2", tmp_path / "greedy", "--answer", "greedy", "--dtype", "float32", "--attention", "eager",
                     "--query-rows", "all", "--tasks", "hotpotqa", "--samples", "2")
    model = AutoModelForCausalLM.from_pretrained(assets["qwen2"], dtype=torch.float32).eval()
    assert len(index) == 2
    for entry in index:
        metadata, tensors = _load(os.path.join(tmp_path / "greedy", entry["path"]))
        assert metadata["answer_source"] == "generated"
        prompt = tensors["input_ids"].long()[None]
        with torch.no_grad():
            plain = model.generate(prompt, max_new_tokens=32, do_sample=False, num_beams=1,
                                   attention_mask=torch.ones_like(prompt))[0, prompt.shape[1]:].tolist()
        if plain and plain[-1] == model.generation_config.eos_token_id:
            plain = plain[:-1]
        assert tensors["answer_ids"].tolist() == plain
        # q/k/v of the answer tokens were tapped during decoding, one token per pass; a single
        # teacher-forced pass agrees up to float32 rounding of the incremental computation (1e-5
        # is exceeded on the sharpest rows, so 1e-4 here; the 1e-5 check is the test above)
        ids = torch.cat([tensors["input_ids"], tensors["answer_ids"]]).long()[None]
        with torch.no_grad():
            attentions = AutoModelForCausalLM.from_pretrained(
                assets["qwen2"], dtype=torch.float32, attn_implementation="eager").eval()(
                ids, output_attentions=True, use_cache=False).attentions
        for layer in range(model.config.num_hidden_layers):
            diff = (attentions[layer][0].double() - _attention_from_cache(tensors, layer)).abs().max().item()
            assert diff <= 1e-4, (entry["id"], layer, diff)


def test_a_sample_that_cannot_be_captured_is_named_and_the_others_go_on(assets, tmp_path, capfd):
    lb = tmp_path / "lb"
    lb.mkdir()
    good = {"input": "Where?", "context": "The painter moved to Lisbon.", "answers": ["Lisbon"], "length": 5,
            "dataset": "hotpotqa", "language": "en", "all_classes": None, "_id": "ok1"}
    lines = [good, dict(good, _id="empty1", answers=[""]), dict(good, _id="long1", context="Oslo " * 3000)]
    (lb / "hotpotqa.jsonl").write_text("".join(json.dumps(entry) + "\n" for entry in lines))
    argv = ["--model", assets["llama"], "--longbench", str(lb), "--out", str(tmp_path / "c"), "--device", "cpu",
            "--dtype", "float32", "--max-length", "4000"]
    assert capture.main(argv) == 3
    err = capfd.readouterr().err
    assert f"sample hotpotqa/empty1 ({lb}/hotpotqa.jsonl:2): empty answer" in err
    assert f"sample hotpotqa/long1 ({lb}/hotpotqa.jsonl:3): too long" in err
    assert "2 of 3 sample(s) not captured" in err
    assert [e["id"] for e in cache_format.read_index(str(tmp_path / "c"))] == ["ok1"]
    # a rerun resumes: the captured sample is not captured again
    assert capture.main(argv) == 3
    assert "2 sample(s) to capture (1 already in" in capfd.readouterr().err


def test_shards_fill_one_cache(assets, tmp_path):
    """--shard I/N: N processes (one per GPU) share one cache directory and its index."""
    whole = _capture(assets, "llama", tmp_path / "whole", "--dtype", "float32", "--query-rows", "64")
    for shard in ("1/2", "0/2"):
        _capture(assets, "llama", tmp_path / "sharded", "--dtype", "float32", "--query-rows", "64", "--shard", shard)
    sharded = cache_format.read_index(str(tmp_path / "sharded"))
    assert sorted(e["id"] for e in sharded) == sorted(e["id"] for e in whole)
    for entry in whole:
        _, a = _load(os.path.join(tmp_path / "whole", entry["path"]))
        _, b = _load(os.path.join(tmp_path / "sharded", entry["path"]))
        assert all(torch.equal(a[k], b[k]) for k in a)
