"""Replay fidelity: what ckv-sweep computes from the cache is what the model computes under the
same keep-set.

Eviction at one layer only (every other layer keeps everything, so that layer's inputs are those
of the full run and of the cache): the model's attention output there for the teacher-forced
answer tokens, under the keep-set `ckv-sweep inspect` returns, is o_S, and the output error
measured inside the model, mean over heads and answer tokens of ||o_S - o|| / ||o||, must equal
the replayed `output_error` (docs/spec/METRICS.md) for every layer, for shared and per-KV-head keep-sets.
"""

from __future__ import annotations

import os

import pytest
import torch
from safetensors import safe_open

from ckv_capture import attention, cache_format, capture, models

from conftest import inspect

BUDGET, WINDOW = 48, 16


def _answer_outputs(model, session, prompt_ids, answer_ids, layer, mask):
    """The attention output of `layer` for the answer tokens, [m, H, d]: the prompt prefilled in
    full, then the answer teacher-forced with the prompt keys of `layer` restricted to `mask`."""
    session.clear()
    n = prompt_ids.shape[1]
    session.prompt_length = n
    with torch.inference_mode():
        out = model(input_ids=prompt_ids, use_cache=True)
        if mask is not None:
            session.set_keep({layer: mask}, n)
        session.record_layers = {layer}
        model(input_ids=answer_ids, use_cache=True, **{models.cache_keyword(model): out.past_key_values})
    (recorded,) = session.recorded[layer]
    session.clear()
    return recorded[0].double()  # [m, H, d]


@pytest.mark.parametrize("kind", ("llama", "qwen2"))
def test_replayed_output_error_equals_the_models(assets, kind, tmp_path, ckv_sweep):
    cache = str(tmp_path / "cache")
    assert capture.main(["--model", assets[kind], "--longbench", assets["longbench"], "--out", cache, "--device",
                         "cpu", "--dtype", "float32", "--max-length", "400", "--query-rows", "all",
                         "--samples", "1"]) == 0
    model, _, _ = models.load(assets[kind], torch.device("cpu"), "float32", "eager")
    session = attention.AttentionSession(model)
    G = session.num_kv_heads
    checked = 0
    for entry in cache_format.read_index(cache):
        with safe_open(os.path.join(cache, entry["path"]), framework="pt") as f:
            prompt_ids = f.get_tensor("input_ids").long()[None]
            answer_ids = f.get_tensor("answer_ids").long()[None]
        n = prompt_ids.shape[1]
        assert entry["m_answer"] >= 2 and n > BUDGET
        for layer in range(session.num_layers):
            full = _answer_outputs(model, session, prompt_ids, answer_ids, layer, None)
            for selection in ("shared", "per_kv_head"):
                replay = inspect(ckv_sweep, cache, entry["id"], layer, "snapkv", budget=BUDGET, window=WINDOW,
                                 selection=selection)
                keep = replay["keep"]
                assert len(keep) == G and all(len(kept) == BUDGET for kept in keep)
                if selection == "shared":
                    assert all(kept == keep[0] for kept in keep)
                mask = torch.zeros(G, n, dtype=torch.bool)
                for g, kept in enumerate(keep):
                    mask[g, kept] = True
                kept_output = _answer_outputs(model, session, prompt_ids, answer_ids, layer, mask)
                error = ((kept_output - full).norm(dim=-1) / full.norm(dim=-1)).mean().item()
                replayed = replay["metrics"]["output_error"]
                assert abs(error - replayed) <= 1e-4, (entry["id"], layer, selection, error, replayed)
                assert error > 1e-3  # the keep-set evicts something that matters: the check can fail
                checked += 1
    assert checked == 2 * 2 * session.num_layers
