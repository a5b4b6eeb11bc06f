"""Loading a model and its tokenizer from a local directory or the local Hugging Face cache,
and naming them well enough that a capture can be re-run and checked."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from . import attention
from .errors import InputError

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


@dataclass
class ModelInfo:
    model: str  # as given: a local path or a hub id
    resolved: str  # the directory the files came from
    config_hash: str  # sha256 of config.json as stored
    revision: str  # hub snapshot commit, or "" for a plain directory
    tokenizer: str  # class name
    tokenizer_hash: str  # sha256 over the tokenizer files present
    transformers_version: str
    torch_version: str
    num_layers: int


def model_file(model: str, name: str) -> str | None:
    """A file of the model from a local directory or the local hub cache, never downloaded."""
    if os.path.isdir(model):
        path = os.path.join(model, name)
        return path if os.path.isfile(path) else None
    try:
        from transformers.utils import cached_file

        return cached_file(model, name, local_files_only=True, _raise_exceptions_for_missing_entries=False)
    except Exception:
        return None


def sha256_files(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def resolve_device(device: str) -> torch.device:
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is visible to PyTorch")
    return torch.device(device)


def default_dtype(device: torch.device) -> str:
    # bf16 is what current checkpoints are trained in; on a CPU fp32 is the fast path.
    return "bfloat16" if device.type == "cuda" else "float32"


def not_found_message(model: str) -> str:
    """What to do about a model that is neither a model directory nor in the local Hugging Face cache."""
    if os.path.isdir(model):
        return f"--model {model}: this directory has no config.json (not a Hugging Face model directory)"
    if os.path.exists(model):
        return f"--model {model}: not a directory"
    if model.startswith((".", "/", "~")) or model.count("/") > 1:  # a path, not a hub id
        return f"--model {model}: no such directory ({os.path.abspath(os.path.expanduser(model))})"
    try:
        from huggingface_hub.constants import HF_HUB_CACHE as cache
    except ImportError:
        cache = "the local Hugging Face cache"
    return (f"--model {model}: not in the local Hugging Face cache ({cache}), and no directory of that name. "
            f"Nothing is downloaded at run time: download it beforehand with `hf download {model}` "
            f"(`huggingface-cli download {model}` with huggingface_hub before 0.34), or set HF_HOME to the "
            "Hugging Face home that holds it, or give the model's local directory")


@dataclass
class Identity:
    """What names a model across spellings: a relative path, an absolute one, a hub id and its
    snapshot directory are one model when their config.json and tokenizer files are the same
    bytes (what ckv-generate checks against a cache)."""
    resolved: str  # the directory the files come from (symbolic links resolved)
    config_hash: str  # sha256 of config.json
    tokenizer_hash: str  # sha256 over the tokenizer files present
    revision: str  # hub snapshot commit, or ""


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "merges.txt")


def identity(model: str) -> Identity:
    """The model's identity from its files, without loading it."""
    config_path = model_file(model, "config.json")
    if config_path is None:
        raise InputError(not_found_message(model))
    directory = os.path.dirname(config_path)
    snapshot = re.search(r"/snapshots/([0-9a-f]{40})$", directory)
    tokenizer_files = [p for p in (model_file(model, n) for n in TOKENIZER_FILES) if p is not None]
    return Identity(resolved=os.path.realpath(directory), config_hash=sha256_files([config_path]),
                    tokenizer_hash=sha256_files(tokenizer_files), revision=snapshot.group(1) if snapshot else "")


def load(model: str, device: torch.device, dtype: str, base: str):
    """(model, tokenizer, ModelInfo). `base` is the attention that does the work where nothing is
    evicted (sdpa or eager); the registered ckv_<base> wraps it."""
    ident = identity(model)
    tokenizer = load_tokenizer(model)
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(f"--model {model}: {type(tokenizer).__name__} is not a fast tokenizer; evidence spans need "
                         "its offset mapping")
    attention.register()
    try:
        loaded = AutoModelForCausalLM.from_pretrained(model, dtype=DTYPES[dtype], local_files_only=True,
                                                      attn_implementation=attention.implementation_name(base))
    except Exception as e:
        raise InputError(f"--model {model}: cannot load the model: {e}") from None
    loaded = loaded.to(device).eval()
    info = ModelInfo(model=model, resolved=ident.resolved, config_hash=ident.config_hash, revision=ident.revision,
                     tokenizer=type(tokenizer).__name__, tokenizer_hash=ident.tokenizer_hash,
                     transformers_version=transformers.__version__, torch_version=torch.__version__,
                     num_layers=loaded.config.num_hidden_layers)
    return loaded, tokenizer, info


def load_tokenizer(model: str):
    if model_file(model, "config.json") is None:
        raise InputError(not_found_message(model))
    try:
        return AutoTokenizer.from_pretrained(model, local_files_only=True)
    except Exception as e:
        raise InputError(f"--model {model}: cannot load the tokenizer: {e}") from None


def load_config(model: str):
    """The model's configuration, its family checked (`check_family`)."""
    if model_file(model, "config.json") is None:
        raise InputError(not_found_message(model))
    try:
        config = AutoConfig.from_pretrained(model, local_files_only=True)
    except Exception as e:
        raise InputError(f"--model {model}: cannot load config.json: {e}") from None
    check_family(model, config)
    return config


# ---- model families ---------------------------------------------------------------------------
#
# ckv-sweep replays softmax(q·k/√d) over every earlier key, in every layer (docs/spec/METHODS.md),
# from the post-RoPE q and k the attention function receives. A family is supported when that is
# what its attention computes: RoPE variants, biases, q/k norms and fused projections all act
# before the attention function and are captured as they are. tests/test_families.py checks each
# family below on a tiny model (tiny.FAMILIES): the captured q/k reproduce the model's attention,
# and the output error of an eviction measured inside the model equals the replayed one.

SUPPORTED = {
    "llama": "Llama 2, 3, 3.1 (rope_type llama3), 3.2",
    "mistral": "Mistral (a sliding window is checked against each sample's length)",
    "qwen2": "Qwen2, Qwen2.5 (biased q/k/v projections)",
    "qwen3": "Qwen3 (q/k RMS norms)",
    "phi3": "Phi-3, Phi-3.5, Phi-4-mini (fused qkv projection, LongRoPE, partial rotary)",
}

# Families whose attention the replay would misrepresent, refused by name whatever the sample.
REFUSED = {
    "gemma2": "Gemma 2",
    "gemma3": "Gemma 3",
    "gemma3_text": "Gemma 3",
}


def attention_differences(config) -> list[tuple[str, str]]:
    """How the attention a configuration describes departs from softmax(q·k/√d) over every earlier
    key in every layer, as far as the configuration says: (what, explanation) pairs, `what` one of
    softcap, scale, sliding_window, layer_types."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    reasons = []
    cap = getattr(text, "attn_logit_softcapping", None)
    if cap:
        reasons.append(("softcap", f"it soft-caps the attention logits (cap·tanh(logit/cap), cap = {cap:g})"))
    scalar = getattr(text, "query_pre_attn_scalar", None)
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    if scalar and scalar != head_dim:
        reasons.append(("scale", f"it scales the logits by 1/sqrt(query_pre_attn_scalar = {scalar:g}), not "
                                 f"1/sqrt(head_dim = {head_dim})"))
    types = list(getattr(text, "layer_types", None) or [])
    window = getattr(text, "sliding_window", None)
    sliding = [i for i, t in enumerate(types) if t == "sliding_attention"]
    if sliding and window:
        kind = "the others attend to every earlier token" if len(sliding) < len(types) else "all of them"
        reasons.append(("sliding_window", f"{len(sliding)} of its {len(types)} layers attend through a sliding "
                                          f"window of {window} tokens ({kind})"))
    other = sorted({t for t in types if t not in ("full_attention", "sliding_attention")})
    if other:
        reasons.append(("layer_types", f"it has layers of type {', '.join(other)}"))
    return reasons


def check_family(model: str, config) -> None:
    """Refuses a family whose attention the replay would misrepresent, naming it and why."""
    model_type = getattr(config, "model_type", "?")
    reasons = attention_differences(config)
    replay = ("ckv-sweep replays softmax(q·k/sqrt(d)) over every earlier key in every layer, so its metrics "
              "would misrepresent this model")
    if model_type in REFUSED:
        why = "; ".join(text for _, text in reasons) or "its attention departs from the replay's"
        raise InputError(f"--model {model}: model type {model_type} ({REFUSED[model_type]}) is not supported: {why}; "
                         f"{replay}")
    if model_type in SUPPORTED:
        return
    # Other families: what the configuration shows is refused here, what only the attention
    # call shows (a scale other than 1/√d, a window shorter than the sample, attention sinks)
    # at the first sample (attention.AttentionSession.check).
    hard = [text for what, text in reasons if what != "sliding_window"]
    if hard:
        raise InputError(f"--model {model}: model type {model_type} is not supported: {'; '.join(hard)}; {replay}")


def family_note(config) -> str | None:
    """A line for a family that is not among the tested ones, or None."""
    model_type = getattr(config, "model_type", "?")
    if model_type in SUPPORTED:
        return None
    return (f"model type {model_type} is not among the families checked against the replay "
            f"({', '.join(SUPPORTED)}); its attention is checked at every call (scale 1/sqrt(d), no soft-capping, "
            "no sliding window shorter than the sample, no attention sinks), not proven equal to the replay")


def cache_keyword(model) -> str:
    """The name of the KV-cache argument of forward(): `cache` in transformers 5.x (where
    `past_key_values` is deprecated), `past_key_values` before."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
