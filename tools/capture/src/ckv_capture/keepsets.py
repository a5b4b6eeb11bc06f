"""Keep-set files as `ckv-sweep export-keep` writes them (docs/e2e.md): one JSON line per sample,
{"id", "task", "config_hash", "layers": {"L": lists}}. Per layer ckv-generate accepts G lists
(one per KV head: export-keep's output), H lists (one per query head) or one list (shared, as a
flat list of token indices or a list holding one list); anything else is refused naming the
line. Every layer of the model must be present: generation evicts in all of them."""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from .errors import InputError


@dataclass
class KeepLine:
    id: str
    task: str
    config_hash: str
    layers: dict[int, list[list[int]]]  # layer -> rows (1, G or H lists)
    where: str  # FILE:LINE


def read_keep_file(path: str) -> list[KeepLine]:
    lines: list[KeepLine] = []
    seen: dict[tuple[str, str], str] = {}
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        raise InputError(f"{path}: cannot read the keep-set file: {e.strerror}") from None
    with f:
        for number, text in enumerate(f, 1):
            if not text.strip():
                continue
            where = f"{path}:{number}"
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                raise InputError(f"{where}: invalid JSON: {e}") from None
            line = _parse(obj, where)
            key = (line.task, line.id)
            if key in seen:
                raise InputError(f"{where}: sample '{line.id}' of task {line.task} already appears at {seen[key]}")
            seen[key] = where
            lines.append(line)
    if not lines:
        raise InputError(f"{path}: the keep-set file holds no line")
    hashes = {entry.config_hash for entry in lines}
    if len(hashes) > 1:
        other = next(entry for entry in lines if entry.config_hash != lines[0].config_hash)
        raise InputError(f"{other.where}: configuration {other.config_hash[:12]} differs from {lines[0].where}'s "
                         f"{lines[0].config_hash[:12]}; one keep-set file holds one configuration")
    return lines


def _parse(obj, where: str) -> KeepLine:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: not a JSON object")
    for key in ("id", "task", "config_hash"):
        if not isinstance(obj.get(key), str) or not obj[key]:
            raise InputError(f"{where}: field '{key}' must be a non-empty string")
    layers = obj.get("layers")
    if not isinstance(layers, dict) or not layers:
        raise InputError(f"{where}: field 'layers' must be an object mapping layer numbers to keep lists")
    parsed = {}
    for key, value in layers.items():
        if not key.isdigit():
            raise InputError(f"{where}: layer key '{key}' is not a layer number")
        parsed[int(key)] = _rows(value, f"{where}: layer {key}")
    return KeepLine(id=obj["id"], task=obj["task"], config_hash=obj["config_hash"], layers=parsed, where=where)


def _is_index(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _rows(value, where: str) -> list[list[int]]:
    if isinstance(value, list) and all(_is_index(x) for x in value):
        return [value]  # a flat list: one keep-set shared by all heads
    if isinstance(value, list) and value and all(isinstance(row, list) and all(_is_index(x) for x in row)
                                                 for row in value):
        return value
    raise InputError(f"{where}: expected a list of token indices or a list of such lists")


def keep_masks(line: KeepLine, num_layers: int, heads: int, kv_heads: int, n: int) -> dict[int, torch.Tensor]:
    """layer -> bool [rows, n], after checking the line against the model and the prompt."""
    missing = [layer for layer in range(num_layers) if layer not in line.layers]
    extra = sorted(layer for layer in line.layers if layer >= num_layers)
    if extra:
        raise InputError(f"{line.where}: sample '{line.id}': layers {extra} do not exist (the model has {num_layers})")
    if missing:
        raise InputError(f"{line.where}: sample '{line.id}': the keep-sets cover layers {sorted(line.layers)} but the "
                         f"model has {num_layers} (missing: {missing}); generation evicts in every layer, so "
                         "export keep-sets from a cache that captured all layers (ckv-capture --layers all)")
    masks = {}
    for layer, rows in sorted(line.layers.items()):
        if len(rows) not in (1, kv_heads, heads):
            raise InputError(f"{line.where}: layer {layer} has {len(rows)} keep lists; expected {kv_heads} (one per "
                             f"KV head), {heads} (one per query head) or 1 (shared)")
        mask = torch.zeros(len(rows), n, dtype=torch.bool)
        for row, kept in enumerate(rows):
            if kept and (min(kept) < 0 or max(kept) >= n):
                bad = next(j for j in kept if not 0 <= j < n)
                raise InputError(f"{line.where}: layer {layer}, list {row}: token {bad} is outside the prompt "
                                 f"[0, {n}) (sample '{line.id}': was the cache captured with other prompt settings?)")
            if len(set(kept)) != len(kept):
                raise InputError(f"{line.where}: layer {layer}, list {row}: a token is listed twice")
            mask[row, kept] = True
        masks[layer] = mask
    return masks
