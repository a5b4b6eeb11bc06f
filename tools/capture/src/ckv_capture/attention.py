"""One attention function, registered with transformers' attention-function interface, that taps
and evicts for every model whose attention calls `ALL_ATTENTION_FUNCTIONS` (Llama, Qwen2,
Mistral, ... in transformers 4.57 and 5.x).

transformers' attention modules project and rotate the hidden states, update the KV cache, and
then call `attention_interface(module, query, key, value, attention_mask, scaling=..., ...)`
with query [B, H, q, d] and key/value [B, G, kv, d]: post-RoPE, and before `repeat_kv` (GQA
heads not yet repeated). That is exactly what the cache format stores (docs/spec/DATA.md), so the tap
copies these arguments and no model code is copied or patched. The function is registered
under its own names (`ckv_sdpa`, `ckv_eager`) with `AttentionInterface.register` and the
matching mask builder with `AttentionMaskInterface.register`, and selected with
`attn_implementation=...` when the model is loaded.

Eviction is masking: after the prefill (which attends to the whole prompt, as every eviction
method's prefill does), queries past the prompt see a prompt key only if it is in the keep-set
of their head, by an additive mask of the dtype's minimum (what eager attention uses for masked
positions, so exp underflows to exactly 0). The softmax over the kept keys plus the generated
ones is then exactly the softmax of a cache from which the other keys were removed, and the new
tokens' positions keep counting from the full prompt length, as kvpress and KVCache-Factory do
when they prune the cache after the prefill.
"""

from __future__ import annotations

import math

import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

BASES = ("sdpa", "eager")


def implementation_name(base: str) -> str:
    return f"ckv_{base}"


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """[B, G, s, d] -> [B, G * n_rep, s, d]; query head h reads KV head h // n_rep (the mapping
    of transformers' repeat_kv and of ckv-sweep's LayerInput::kv_head)."""
    if n_rep == 1:
        return x
    b, g, s, d = x.shape
    return x[:, :, None, :, :].expand(b, g, n_rep, s, d).reshape(b, g * n_rep, s, d)


def eager_attention(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """The eager attention of transformers' Llama/Qwen2/Mistral modeling files (same operations
    in the same order), used as the `eager` base."""
    n_rep = query.shape[1] // key.shape[1]
    key_states, value_states = repeat_kv(key, n_rep), repeat_kv(value, n_rep)
    weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask[:, :, :, : key_states.shape[-2]]
    weights = torch.nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    output = torch.matmul(weights, value_states).transpose(1, 2).contiguous()
    return output, weights


def masked_attention(query, key, value, keep_mask, prompt_length: int, scaling: float):
    """Eager attention for queries past the prompt, prompt keys restricted to the keep-set.

    keep_mask: bool [H, prompt_length] (True = kept) for the query heads. Queries are the last
    q positions of the kv sequence (a dynamic cache appends), so query i sits at kv - q + i and
    sees keys <= that; keys at or past the prompt (generated or answer tokens) are never evicted.
    """
    batch, heads, q_len, _ = query.shape
    kv_len = key.shape[2]
    n_rep = heads // key.shape[1]
    key_states, value_states = repeat_kv(key, n_rep), repeat_kv(value, n_rep)
    weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling
    positions = torch.arange(kv_len, device=query.device)
    query_positions = kv_len - q_len + torch.arange(q_len, device=query.device)
    allowed = (positions[None, :] <= query_positions[:, None])[None].expand(heads, q_len, kv_len).clone()
    allowed[:, :, :prompt_length] &= keep_mask[:, None, :]
    mask = torch.zeros(heads, q_len, kv_len, dtype=weights.dtype, device=query.device)
    mask.masked_fill_(~allowed, torch.finfo(weights.dtype).min)
    weights = weights + mask[None]
    weights = torch.nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    output = torch.matmul(weights, value_states).transpose(1, 2).contiguous()
    return output, weights


class UnsupportedModel(Exception):
    pass


class AttentionSession:
    """Per-model state the attention function reads: what to tap, what to evict.

    One per loaded model; attached to every attention module as `module.ckv_session`.
    """

    def __init__(self, model):
        self.attention_modules = find_attention_modules(model)
        first = self.attention_modules[0]
        config = model.config
        self.model_type = getattr(config, "model_type", "?")
        self.num_layers = len(self.attention_modules)
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        self.head_dim = getattr(first, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.prompt_length: int | None = None
        self.capture = None  # callable(layer, query, key, value) while capturing
        self.capture_layers: set[int] = set()
        self.keep: dict[int, torch.Tensor] = {}  # layer -> bool [H, prompt_length]
        self.record_layers: set[int] = set()  # layers whose attention outputs are recorded
        self.recorded: dict[int, list[torch.Tensor]] = {}
        for module in self.attention_modules:
            module.ckv_session = self

    def set_keep(self, masks: dict[int, torch.Tensor], prompt_length: int):
        """masks: layer -> bool [K, prompt_length] with K = 1 (shared), G (per KV head) or H (per
        query head); stored expanded to the H query heads."""
        self.prompt_length = prompt_length
        self.keep = {}
        heads, groups = self.num_heads, self.num_kv_heads
        for layer, mask in masks.items():
            rows = mask.shape[0]
            if rows == heads:
                expanded = mask
            elif rows == groups:
                expanded = mask.repeat_interleave(heads // groups, dim=0)
            elif rows == 1:
                expanded = mask.expand(heads, prompt_length)
            else:
                raise ValueError(f"layer {layer}: {rows} keep-set rows for H = {heads}, G = {groups}")
            self.keep[layer] = expanded.to(torch.bool).contiguous()

    def clear(self):
        self.prompt_length = None
        self.capture = None
        self.capture_layers = set()
        self.keep = {}
        self.record_layers = set()
        self.recorded = {}

    def check(self, module, query, key, scaling, kwargs):
        """What ckv-sweep's replay assumes, checked on every call (a few comparisons): softmax(q·k/√d) over all
        earlier keys. A model that scales differently, soft-caps logits, adds attention-sink logits
        or attends through a sliding window shorter than the sequence would be replayed wrongly, so
        it is refused, naming its model type."""
        layer = module.layer_idx
        d = query.shape[-1]
        where = f"model type {self.model_type}, layer {layer}"
        if scaling is None or not math.isclose(scaling, d ** -0.5, rel_tol=1e-6):
            raise UnsupportedModel(f"{where} scales attention logits by {scaling}, not 1/sqrt(head_dim) = "
                                   f"{d ** -0.5:.6g}; ckv-sweep replays softmax(q.k/sqrt(d))")
        if kwargs.get("softcap"):
            raise UnsupportedModel(f"{where} soft-caps attention logits ({kwargs['softcap']}); "
                                   "ckv-sweep's replay does not")
        for sinks in ("s_aux", "sinks"):
            if kwargs.get(sinks) is not None:
                raise UnsupportedModel(f"{where} adds learned attention-sink logits ({sinks}) to the softmax; "
                                       "ckv-sweep replays softmax(q.k/sqrt(d)) over the keys alone")
        window = kwargs.get("sliding_window")
        if window and key.shape[2] > window:
            raise UnsupportedModel(f"{where} attends through a sliding window of {window} tokens, "
                                   f"shorter than the sequence ({key.shape[2]}); ckv-sweep replays full attention")
        if query.shape[0] != 1:
            raise UnsupportedModel("batches of more than one sequence are not supported")


def find_attention_modules(model) -> list:
    """The decoder layers' attention modules, in layer order, each with its `layer_idx`."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else model.model
    layers = getattr(decoder, "layers", None)
    if layers is None:
        raise UnsupportedModel(f"{type(model).__name__}: no decoder layers found (model.get_decoder().layers)")
    modules = []
    for index, layer in enumerate(layers):
        attention = getattr(layer, "self_attn", None)
        if attention is None or getattr(attention, "layer_idx", None) != index:
            raise UnsupportedModel(f"{type(model).__name__}: layer {index} has no self_attn with layer_idx = {index}")
        modules.append(attention)
    return modules


def _make_attention(base_name: str):
    def base(module, query, key, value, attention_mask, **kwargs):
        if base_name == "eager":
            return eager_attention(module, query, key, value, attention_mask, **kwargs)
        return ALL_ATTENTION_FUNCTIONS["sdpa"](module, query, key, value, attention_mask, **kwargs)

    def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        session = getattr(module, "ckv_session", None)
        if session is None:
            return base(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
        session.check(module, query, key, scaling, kwargs)
        layer = module.layer_idx
        if session.capture is not None and layer in session.capture_layers:
            session.capture(layer, query, key, value)
        keep = session.keep.get(layer)
        first_query = key.shape[2] - query.shape[2]
        if keep is not None and key.shape[2] > session.prompt_length:
            if first_query < session.prompt_length:
                raise RuntimeError(f"layer {layer}: a forward pass mixes prompt positions with later ones "
                                   f"(queries from {first_query}, prompt of {session.prompt_length}); "
                                   "prefill the prompt first")
            output, weights = masked_attention(query, key, value, keep, session.prompt_length, scaling)
        else:
            output, weights = base(module, query, key, value, attention_mask, scaling=scaling,
                                   dropout=dropout, **kwargs)
        if layer in session.record_layers:
            session.recorded.setdefault(layer, []).append(output.detach())
        return output, weights

    attention.__name__ = f"ckv_{base_name}_attention"
    return attention


def register() -> None:
    """Registers ckv_sdpa and ckv_eager (idempotent), each with its base's mask builder, so the
    masks they receive are what sdpa / eager receive."""
    for base_name in BASES:
        name = implementation_name(base_name)
        AttentionInterface.register(name, _make_attention(base_name))
        AttentionMaskInterface.register(name, AttentionMaskInterface._global_mapping[base_name])
