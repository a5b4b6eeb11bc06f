"""The safetensors writer against the safetensors library, and the read-back check against the
mistake it exists for: a transposed view written in storage order."""

from __future__ import annotations

import json
import struct

import pytest
import torch
from safetensors.torch import save_file

from ckv_capture import cache_format


def _split(path):
    data = open(path, "rb").read()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + length]), length, data[8 + length:]


def _tensors():
    torch.manual_seed(0)
    base = torch.randn(2, 5, 3)
    return {
        "layers.0.q": base.transpose(0, 1).to(torch.float16),  # a non-contiguous view, as attention hands over
        "layers.0.k": torch.randn(4, 3).to(torch.bfloat16),
        "layers.10.v": torch.randn(3, 2),  # sorts before layers.2 by name, as in Python
        "layers.2.v": torch.randn(1, 2, 2),
        "input_ids": torch.tensor([5, 0, 70000], dtype=torch.int32),
        "answer_ids": torch.zeros(0, dtype=torch.int32),
    }


def test_writer_matches_the_safetensors_library(tmp_path):
    tensors = _tensors()
    metadata = {"format": "ckv-cache/1", "task": "hotpotqa", "answers": json.dumps(["Lisbon", "café"])}
    ours, theirs = str(tmp_path / "ours.safetensors"), str(tmp_path / "theirs.safetensors")
    size = cache_format.write_safetensors(ours, tensors, metadata)
    save_file({k: v.contiguous() for k, v in tensors.items()}, theirs, metadata)
    header, length, data = _split(ours)
    their_header, their_length, their_data = _split(theirs)
    assert size == len(open(ours, "rb").read())
    assert length % 8 == 0
    assert header == their_header  # same names, dtypes, shapes, offsets (the library's tensor order)
    assert data == their_data  # and the same bytes
    cache_format.verify_safetensors(ours, tensors, metadata)


def test_read_back_catches_a_tensor_written_in_storage_order(tmp_path):
    tensors = _tensors()
    path = str(tmp_path / "scrambled.safetensors")
    cache_format.write_safetensors(path, tensors, {"format": "x"})
    # What a writer that dumps raw memory (numpy's .data of a view, torch's untyped storage)
    # produces: the right shape, the values in the base tensor's order.
    header, length, data = _split(path)
    begin, end = header["layers.0.q"]["data_offsets"]
    q = tensors["layers.0.q"]
    storage_order = q.transpose(0, 1).contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    assert len(storage_order) == end - begin and storage_order != data[begin:end]
    with open(path, "r+b") as f:
        f.seek(8 + length + begin)
        f.write(storage_order)
    with pytest.raises(cache_format.CacheCheckError, match="tensor 'layers.0.q' reads back with different values"):
        cache_format.verify_safetensors(path, tensors, {"format": "x"})
    with pytest.raises(cache_format.CacheCheckError, match="metadata reads back differently"):
        cache_format.verify_safetensors(path, tensors, {"format": "y"})


def test_layout_rules_refuse_a_shape_the_reader_would_refuse():
    H, G, n, r, m, d = 4, 2, 10, 3, 2, 8
    tensors = {"layers.0.q": torch.zeros(H, r, d), "layers.0.k": torch.zeros(G, n, d), "layers.0.v": torch.zeros(G, n, d),
               "layers.0.q_answer": torch.zeros(H, m, d), "layers.0.k_answer": torch.zeros(G, m, d),
               "layers.0.v_answer": torch.zeros(G, m, d), "input_ids": torch.zeros(n, dtype=torch.int32),
               "answer_ids": torch.zeros(m, dtype=torch.int32)}
    metadata = {"n_tokens": str(n), "m_answer": str(m), "layers": "[0]"}
    cache_format.check_layout(tensors, metadata)
    with pytest.raises(ValueError, match="layers.0.v_answer"):
        cache_format.check_layout(dict(tensors, **{"layers.0.v_answer": torch.zeros(G, m + 1, d)}), metadata)
    with pytest.raises(ValueError, match="input_ids"):
        cache_format.check_layout(dict(tensors, input_ids=torch.zeros(n, dtype=torch.int64)), metadata)


def test_index_lines_are_replaced_not_duplicated(tmp_path):
    entry = {"id": "a", "task": "trec", "path": "trec/a.safetensors", "n_tokens": 3, "m_answer": 1, "layers": [0],
             "file_size": 10}
    cache_format.update_index(str(tmp_path), entry)
    cache_format.update_index(str(tmp_path), dict(entry, id="b"))
    cache_format.update_index(str(tmp_path), dict(entry, file_size=11))
    assert [(e["id"], e["file_size"]) for e in cache_format.read_index(str(tmp_path))] == [("b", 10), ("a", 11)]


def _append_entries(cache_dir, worker, count):
    for i in range(count):
        cache_format.update_index(cache_dir, {"id": f"{worker}-{i}", "task": "trec", "path": f"trec/{worker}-{i}"})


def test_index_lock_file_is_removed_and_still_excludes(tmp_path, monkeypatch):
    lock = tmp_path / "index.jsonl.lock"
    entry = {"id": "a", "task": "trec", "path": "trec/a.safetensors"}
    cache_format.update_index(str(tmp_path), entry)
    assert not lock.exists()
    # An error and Ctrl-C inside the locked update leave no lock file either.
    (tmp_path / "index.jsonl").write_text("{not json\n")
    with pytest.raises(ValueError, match="invalid JSON"):
        cache_format.update_index(str(tmp_path), entry)
    assert not lock.exists()
    (tmp_path / "index.jsonl").unlink()

    def interrupted(_):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_format, "read_index", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache_format.update_index(str(tmp_path), entry)
    assert not lock.exists()
    monkeypatch.undo()
    # Concurrent writers (one process per GPU) still exclude each other: no update is lost
    # although each removes the lock file the others may be waiting on.
    import multiprocessing
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_entries, args=(str(tmp_path), w, 40)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
        assert p.exitcode == 0
    ids = [e["id"] for e in cache_format.read_index(str(tmp_path))]
    assert sorted(ids) == sorted(f"{w}-{i}" for w in range(4) for i in range(40))
    assert not lock.exists()
