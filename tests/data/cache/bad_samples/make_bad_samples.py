#!/usr/bin/env python3
"""Writes the bad sample files of this folder (tests/test_cache_bad_samples.cpp reads them).

Each is a valid ckv-cache/1 sample (one layer, H = G = 1, d = 2, n = 3 tokens, m = 1 answer
token, F32) with one defect. Rerun to regenerate them byte for byte:
    python3 tests/data/cache/bad_samples/make_bad_samples.py
"""
import hashlib
import json
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = {"q": [1, 3, 2], "k": [1, 3, 2], "v": [1, 3, 2],
          "q_answer": [1, 1, 2], "k_answer": [1, 1, 2], "v_answer": [1, 1, 2]}


def tensors():
    out = {}
    for kind, shape in SHAPES.items():
        count = shape[0] * shape[1] * shape[2]
        out[f"layers.0.{kind}"] = [0.25 * (i + 1) for i in range(count)]
    return out


def write(name, values, digest="ok", answer_source="gold"):
    meta = {"format": "ckv-cache/1", "task": "synth-needle", "id": name, "model": "test",
            "n_tokens": "3", "m_answer": "1", "layers": "[0]", "num_layers_model": "1",
            "answers": "[\"a\"]", "evidence": "[[0, 1]]", "question_span": "[2, 3]",
            "answer_source": answer_source, "capture_version": "test"}
    data = b""
    header = {}
    for tensor in sorted(values):  # one dtype, so the Python writer's order is by name
        raw = b"".join(struct.pack("<f", v) for v in values[tensor])
        header[tensor] = {"dtype": "F32", "shape": SHAPES[tensor.split(".")[2]],
                          "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if digest == "ok":
        meta["content_sha256"] = hashlib.sha256(data).hexdigest()
    elif digest == "stale":  # recorded before one value was changed
        meta["content_sha256"] = hashlib.sha256(data[:-4] + struct.pack("<f", 9.0)).hexdigest()
    elif digest == "garbled":
        meta["content_sha256"] = "sha256:" + hashlib.sha256(data).hexdigest()[:20]
    text = json.dumps({"__metadata__": meta, **header}, separators=(",", ":"))
    text += " " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(HERE, name + ".safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text.encode() + data)


values = tensors()
values["layers.0.k"][3] = math.nan  # head 0, token 1, dim 1
write("nan_in_k", values)
values = tensors()
values["layers.0.q_answer"][0] = -math.inf
write("inf_in_q_answer", values)
values = tensors()
values["layers.0.v"][5] = math.inf
write("inf_in_v", values)
write("digest_mismatch", tensors(), digest="stale")
write("digest_not_hex", tensors(), digest="garbled")
