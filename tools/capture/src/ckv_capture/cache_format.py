"""The attention cache on disk (docs/spec/DATA.md, docs/cache-format.md): safetensors files, one per sample,
`index.jsonl`, and the read-back check every written file goes through.

The writer streams one tensor at a time from host memory (no second copy of the sample) in the
byte layout of Python's safetensors writer: tensors ordered by dtype (descending in safetensors'
`Dtype` enum: F32 > I32 > BF16 > F16), then by name, the header padded with spaces to a multiple
of 8 bytes. Tensors are written through `.contiguous()`: the attention module hands over
transposed views, and the raw memory of a view is not its logical order.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import struct
from contextlib import contextmanager

import torch

FORMAT = "ckv-cache/1"
DTYPE_NAMES = {torch.float16: "F16", torch.bfloat16: "BF16", torch.int32: "I32", torch.float32: "F32"}
_DTYPE_RANK = {"F16": 0, "BF16": 1, "I32": 2, "F32": 3}
LAYER_KINDS = ("q", "k", "v", "q_answer", "k_answer", "v_answer")


class CacheCheckError(Exception):
    """A written file did not read back as written."""


def tensor_name(layer: int, kind: str) -> str:
    return f"layers.{layer}.{kind}"


def _header(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> tuple[bytes, list[str]]:
    for name, t in tensors.items():
        if t.dtype not in DTYPE_NAMES:
            raise ValueError(f"tensor '{name}': dtype {t.dtype} is not one of F16, BF16, F32, I32")
    order = sorted(tensors, key=lambda name: (-_DTYPE_RANK[DTYPE_NAMES[tensors[name].dtype]], name))
    header: dict = {}
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    offset = 0
    for name in order:
        t = tensors[name]
        size = t.numel() * t.element_size()
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return text, order


def content_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of the data section as write_safetensors lays it out: every tensor's bytes in
    the header's order. Recorded as `content_sha256` (docs/cache-format.md), it lets ckv-sweep
    check a file's content at open and plan with --trust-recorded-digests."""
    order = sorted(tensors, key=lambda name: (-_DTYPE_RANK[DTYPE_NAMES[tensors[name].dtype]], name))
    digest = hashlib.sha256()
    for name in order:
        digest.update(_bytes(tensors[name]).numpy().data)
    return digest.hexdigest()


def write_safetensors(path: str, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> int:
    """Writes atomically (temporary file, fsync, rename); returns the file size."""
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise ValueError(f"metadata '{key}' is not a string")
    header, order = _header(tensors, metadata)
    temp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(temp, "wb") as f:
            f.write(struct.pack("<Q", len(header)))
            f.write(header)
            for name in order:
                # A byte view of the contiguous tensor: its logical order, whatever the dtype
                # (numpy has no bfloat16).
                f.write(_bytes(tensors[name]).numpy().data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return os.path.getsize(path)


def _bytes(t: torch.Tensor) -> torch.Tensor:
    """The tensor's values in logical order as raw bytes (bitwise comparison, NaN included)."""
    t = t.detach().to("cpu").contiguous().reshape(-1)
    return t.view(torch.uint8) if t.numel() else torch.empty(0, dtype=torch.uint8)


def verify_safetensors(path: str, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Reads the file back with the safetensors library (an independent reader) and requires the
    same metadata, names, dtypes, shapes and values, bit for bit. A tensor written in its storage
    order instead of its logical order has a valid shape and wrong values: only this catches it."""
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt") as f:
            stored_metadata = f.metadata() or {}
            if stored_metadata != metadata:
                keys = sorted(set(stored_metadata) ^ set(metadata)) or sorted(
                    k for k in metadata if stored_metadata.get(k) != metadata[k])
                raise CacheCheckError(f"{path}: metadata reads back differently (keys {', '.join(keys)})")
            names = set(f.keys())
            if names != set(tensors):
                raise CacheCheckError(f"{path}: tensors read back as {sorted(names)}, written {sorted(tensors)}")
            for name, expected in tensors.items():
                got = f.get_tensor(name)
                if got.dtype != expected.dtype or tuple(got.shape) != tuple(expected.shape):
                    raise CacheCheckError(f"{path}: tensor '{name}' reads back as {got.dtype} {list(got.shape)}, "
                                          f"written {expected.dtype} {list(expected.shape)}")
                if not torch.equal(_bytes(got), _bytes(expected)):
                    raise CacheCheckError(f"{path}: tensor '{name}' reads back with different values "
                                          "(written in storage order instead of logical order?)")
    except CacheCheckError:
        raise
    except Exception as e:
        raise CacheCheckError(f"{path}: cannot be read back with safetensors: {e}") from None


def check_layout(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """The shape rules of the ckv-cache/1 layout (docs/cache-format.md, `SampleCache::open`), so
    that a file the C++ reader would refuse is never written."""
    n, m = int(metadata["n_tokens"]), int(metadata["m_answer"])
    layers = json.loads(metadata["layers"])
    first = tensors[tensor_name(layers[0], "q")]
    H, r, d = first.shape
    G = tensors[tensor_name(layers[0], "k")].shape[0]
    if H % G or not 1 <= r <= n:
        raise ValueError(f"H = {H}, G = {G}, r = {r}, n = {n} break the layout")
    expected = {"q": (H, r, d), "k": (G, n, d), "v": (G, n, d), "q_answer": (H, m, d), "k_answer": (G, m, d),
                "v_answer": (G, m, d)}
    for layer in layers:
        for kind, shape in expected.items():
            t = tensors[tensor_name(layer, kind)]
            if tuple(t.shape) != shape or not t.is_floating_point():
                raise ValueError(f"tensor {tensor_name(layer, kind)}: {t.dtype} {list(t.shape)}, expected {list(shape)}")
    for name, length in (("input_ids", n), ("answer_ids", m)):
        t = tensors[name]
        if t.dtype != torch.int32 or tuple(t.shape) != (length,):
            raise ValueError(f"tensor {name}: {t.dtype} {list(t.shape)}, expected int32 [{length}]")
    if "token_texts" in metadata and len(json.loads(metadata["token_texts"])) != n:
        raise ValueError(f"metadata token_texts: {len(json.loads(metadata['token_texts']))} entries, expected n = {n}")
    if len(tensors) != 6 * len(layers) + 2:
        raise ValueError(f"{len(tensors)} tensors for {len(layers)} layers")


# ---- index.jsonl ------------------------------------------------------------------------------

@contextmanager
def _locked(path: str):
    # Several capture processes (one per GPU, --shard) may share a cache directory: the index is
    # read, changed and renamed into place under an exclusive flock on `path`. The lock file is
    # removed while the lock is still held, so none is left behind (a normal end, an error,
    # Ctrl-C: the `finally` runs in each). A process that opened the file before it was removed
    # and then waited finds, once it holds the lock, that `path` is gone or is another file, and
    # starts over on the current one: only a lock on the file `path` names excludes the others.
    while True:
        lock = open(path, "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
        except BaseException:
            lock.close()
            raise
        if current is not None and os.path.samestat(current, os.fstat(lock.fileno())):
            break
        lock.close()  # removed by the holder we waited for
    try:
        yield
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        lock.close()  # releases the lock


def read_index(cache_dir: str) -> list[dict]:
    path = os.path.join(cache_dir, "index.jsonl")
    if not os.path.exists(path):
        return []
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{number}: invalid JSON: {e}") from None
    return entries


def update_index(cache_dir: str, entry: dict) -> None:
    """Adds or replaces the line of (task, id), keeping the others in their order."""
    path = os.path.join(cache_dir, "index.jsonl")
    with _locked(path + ".lock"):
        entries = [e for e in read_index(cache_dir) if (e["task"], e["id"]) != (entry["task"], entry["id"])]
        entries.append(entry)
        temp = f"{path}.tmp.{os.getpid()}"
        with open(temp, "w", encoding="utf-8") as f:
            for e in entries:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)


def sample_path(task: str, sample_id: str) -> str:
    """Relative path of a sample file; ids are LongBench's hex `_id`s, anything else is made safe."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in sample_id)
    return f"{task}/{safe}.safetensors"


# ---- token texts ------------------------------------------------------------------------------
#
# Metadata `token_texts` (docs/cache-format.md): one JSON entry per prompt token, so that a cache
# can be read (keep-set views, token classes) without the tokenizer. An entry is
#   - a string: the exact text the token adds to the decoded prompt (a leading space, a newline
#     included), when its bytes are valid UTF-8 on their own;
#   - {"hex": "e4b8"}: the token's bytes in hex, when they are not (a byte-level BPE piece that
#     holds part of a multi-byte character);
#   - {"special": "<s>"}: a special token (BOS, chat-template markers), its text as the
#     tokenizer writes it.
# `token_text_method` records how the bytes were found: "byte-level" (GPT-2 style byte pieces,
# Llama 3, Qwen), "sentencepiece" ("▁" for a space, "<0x0A>" byte fallback: Llama 2, Mistral) or
# "decode" (each token decoded on its own: spaces the tokenizer strips are lost).


def _byte_level_decoder() -> dict[str, int]:
    """The inverse of GPT-2's bytes_to_unicode table: the printable character that stands for each
    byte in a byte-level BPE piece."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


_BYTE_LEVEL = _byte_level_decoder()


def _decoder_kinds(tokenizer) -> set[str]:
    """The `type`s of the fast tokenizer's decoder (nested Sequence decoders included); empty for
    a tokenizer without a `tokenizers` backend."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return set()
    decoder = json.loads(backend.to_str()).get("decoder") or {}
    kinds, stack = set(), [decoder]
    while stack:
        d = stack.pop()
        if isinstance(d, dict):
            kinds.add(d.get("type", ""))
            stack.extend(d.get("decoders") or [])
    return kinds


def token_text_method(tokenizer) -> str:
    kinds = _decoder_kinds(tokenizer)
    if "ByteLevel" in kinds:
        return "byte-level"
    if kinds & {"Metaspace", "ByteFallback"} or getattr(tokenizer, "sp_model", None) is not None:
        return "sentencepiece"
    return "decode"


def token_bytes(tokenizer, ids: list[int], method: str | None = None) -> list[tuple[str, bytes]]:
    """Per token: ("special", text bytes) for special tokens, else ("text", the bytes it adds to the
    decoded prompt)."""
    method = method or token_text_method(tokenizer)
    special = set(tokenizer.all_special_ids)
    pieces = tokenizer.convert_ids_to_tokens(list(ids))
    out = []
    for token_id, piece in zip(ids, pieces, strict=True):
        if piece is None:
            piece = ""
        if token_id in special:
            out.append(("special", piece.encode("utf-8")))
        elif method == "byte-level" and all(c in _BYTE_LEVEL for c in piece):
            out.append(("text", bytes(_BYTE_LEVEL[c] for c in piece)))
        elif method == "sentencepiece":
            if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
                out.append(("text", bytes([int(piece[3:5], 16)])))
            else:
                out.append(("text", piece.replace("▁", " ").encode("utf-8")))
        else:
            out.append(("text", tokenizer.decode([token_id], skip_special_tokens=False).encode("utf-8")))
    return out


def encode_token_texts(tokens: list[tuple[str, bytes]]) -> list:
    """The `token_texts` entries (above) of token_bytes' output."""
    entries = []
    for kind, data in tokens:
        if kind == "special":
            entries.append({"special": data.decode("utf-8", errors="replace")})
            continue
        try:
            entries.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            entries.append({"hex": data.hex()})
    return entries


def token_texts_metadata(tokenizer, ids: list[int]) -> dict[str, str]:
    """The two metadata keys of a captured sample: `token_texts` and `token_text_method`."""
    method = token_text_method(tokenizer)
    texts = encode_token_texts(token_bytes(tokenizer, ids, method))
    return {"token_texts": json.dumps(texts, ensure_ascii=False), "token_text_method": method}


def decode_token_texts(entries: list) -> list[bytes]:
    """The bytes each `token_texts` entry stands for (special tokens: their text)."""
    out = []
    for e in entries:
        if isinstance(e, str):
            out.append(e.encode("utf-8"))
        elif isinstance(e, dict) and "hex" in e:
            out.append(bytes.fromhex(e["hex"]))
        elif isinstance(e, dict) and "special" in e:
            out.append(e["special"].encode("utf-8"))
        else:
            raise ValueError(f"token_texts entry {e!r} is neither a string nor {{'hex'}} / {{'special'}}")
    return out
