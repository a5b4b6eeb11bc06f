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


def load(model: str, device: torch.device, dtype: str, base: str):
    """(model, tokenizer, ModelInfo). `base` is the attention that does the work where nothing is
    evicted (sdpa or eager); the registered ckv_<base> wraps it."""
    config_path = model_file(model, "config.json")
    if config_path is None:
        raise InputError(f"--model {model}: no config.json in that directory or in the local Hugging Face cache "
                         "(nothing is downloaded at run time: fetch it first, e.g. `huggingface-cli download "
                         f"{model}`)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
    except Exception as e:
        raise InputError(f"--model {model}: cannot load the tokenizer: {e}") from None
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
    tokenizer_files = [p for p in (model_file(model, n) for n in ("tokenizer.json", "tokenizer_config.json",
                                                             "tokenizer.model", "vocab.json", "merges.txt"))
                       if p is not None]
    resolved = os.path.dirname(config_path)
    snapshot = re.search(r"/snapshots/([0-9a-f]{40})$", resolved)
    info = ModelInfo(model=model, resolved=resolved, config_hash=sha256_files([config_path]),
                     revision=snapshot.group(1) if snapshot else "",
                     tokenizer=type(tokenizer).__name__, tokenizer_hash=sha256_files(tokenizer_files),
                     transformers_version=transformers.__version__, torch_version=torch.__version__,
                     num_layers=loaded.config.num_hidden_layers)
    return loaded, tokenizer, info


def load_tokenizer(model: str):
    try:
        return AutoTokenizer.from_pretrained(model, local_files_only=True)
    except Exception as e:
        raise InputError(f"--model {model}: cannot load the tokenizer: {e}") from None


def load_config(model: str):
    try:
        return AutoConfig.from_pretrained(model, local_files_only=True)
    except Exception as e:
        raise InputError(f"--model {model}: cannot load config.json: {e}") from None


def cache_keyword(model) -> str:
    """The name of the KV-cache argument of forward(): `cache` in transformers 5.x (where
    `past_key_values` is deprecated), `past_key_values` before."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
