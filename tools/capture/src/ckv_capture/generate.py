"""ckv-generate: LongBench answers generated under exported keep-sets.

For each line of the keep-set file: the full prompt is prefilled (every prompt token attends to
the whole prompt, as in every post-prefill eviction method), then each layer and head keeps only
its kept prompt tokens and the answer is generated greedily with LongBench's settings (pred.py's
generate() arguments, the model's generation config). Predictions are written in LongBench's
`pred/<model>/<task>.jsonl` format with the sample's `_id`, for `ckv-sweep import-predictions`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys

import torch

from . import attention, cache_format, common, keepsets, longbench, models
from .errors import EXIT_ERROR, EXIT_INCOMPLETE, EXIT_OK, InputError, SampleError


def generate_one(model, tokenizer, session, sample, prompt, masks) -> tuple[str, list[int]]:
    """The decoded prediction and its token ids (the stop token excluded)."""
    n = len(prompt.input_ids)
    settings = longbench.generation_settings(tokenizer, model, sample.task, n)
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit and n + settings["max_new_tokens"] > limit:
        raise SampleError(f"too long: {n} prompt + up to {settings['max_new_tokens']} new tokens exceed the model's "
                          f"{limit} positions")
    ids = torch.tensor([prompt.input_ids], device=model.device)
    session.clear()
    session.set_keep({layer: mask.to(model.device) for layer, mask in masks.items()}, n)
    try:
        with torch.inference_mode():
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
            output = model.generate(ids, attention_mask=torch.ones_like(ids), pad_token_id=pad,
                                    **longbench.DYNAMIC_CACHE, **settings)
    finally:
        session.clear()
    new = output[0, n:].tolist()
    stops = longbench.stop_token_ids(tokenizer, model, settings)
    tokens = new[:-1] if new and new[-1] in stops else new
    # pred.py: tokenizer.decode(output[context_length:], skip_special_tokens=True)
    return tokenizer.decode(new, skip_special_tokens=True), tokens


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ckv-generate",
        description="Generate LongBench answers with a Hugging Face model under the keep-sets of `ckv-sweep "
                    "export-keep`, as predictions for `ckv-sweep import-predictions`.")
    p.add_argument("--model", required=True, help="the model the cache was captured with")
    p.add_argument("--longbench", required=True, nargs="+", metavar="FILE.jsonl",
                   help="LongBench v1 JSONL files or directories holding <task>.jsonl")
    p.add_argument("--keep", required=True, metavar="KEEP.jsonl", help="keep-sets from ckv-sweep export-keep")
    p.add_argument("--out", required=True, metavar="PRED_DIR", help="writes PRED_DIR/<task>.jsonl")
    p.add_argument("--cache", metavar="CACHE",
                   help="the captured cache the keep-sets come from: prompt settings are taken from its "
                        "capture.json and every rebuilt prompt must equal the captured input_ids (recommended)")
    p.add_argument("--tasks", nargs="+", help="only these tasks")
    p.add_argument("--max-length", type=int, metavar="T", help="prompt truncation (default: the cache's, else "
                   "max_position_embeddings - 576)")
    p.add_argument("--chat", choices=("auto", "on", "off"), help="chat template (default: the cache's, else auto)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--dtype", choices=tuple(models.DTYPES), help="default: the cache's, else bfloat16 on cuda, "
                   "float32 on cpu")
    p.add_argument("--attention", choices=attention.BASES, default="sdpa",
                   help="attention for the prefill (eviction after it is computed by masking either way)")
    p.add_argument("--overwrite", action="store_true",
                   help="start PRED_DIR/<task>.jsonl afresh instead of skipping ids already predicted")
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    options = parser().parse_args(argv)
    try:
        return _main(options, argv)
    except InputError as e:
        print(f"ckv-generate: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        # Before the first prediction (loading the model, say): nothing was appended to --out.
        print(f"\nckv-generate: interrupted; nothing generated. Resume with: {_resume_command(argv)}",
              file=sys.stderr)
        return EXIT_INTERRUPTED


EXIT_INTERRUPTED = 128 + signal.SIGINT  # what a shell reports for a command ended by Ctrl-C


def _resume_command(argv: list[str]) -> str:
    """The same command, less --overwrite (which would generate again what was kept)."""
    return shlex.join(["ckv-generate"] + [a for a in argv if a != "--overwrite"])


def _cached_input_ids(cache_dir: str, index: dict, task: str, sample_id: str) -> list[int] | None:
    from safetensors import safe_open

    entry = index.get((task, sample_id))
    if entry is None:
        return None
    with safe_open(os.path.join(cache_dir, entry["path"]), framework="pt") as f:
        return f.get_tensor("input_ids").tolist()


def _main(options, argv: list[str]) -> int:
    lines = keepsets.read_keep_file(options.keep)
    if options.tasks:
        lines = [entry for entry in lines if entry.task in options.tasks]
    by_key = {(s.task, s.id): s for s in longbench.read_longbench(options.longbench)}
    manifest, index = None, {}
    if options.cache:
        manifest = common.read_manifest(options.cache)
        if manifest is None:
            raise InputError(f"{options.cache}: no {common.MANIFEST} (not a cache written by ckv-capture)")
        index = {(e["task"], e["id"]): e for e in cache_format.read_index(options.cache)}
    else:
        print("ckv-generate: no --cache given: the rebuilt prompts cannot be checked against the captured "
              "input_ids", file=sys.stderr)
    config = models.load_config(options.model)
    note = models.family_note(config)
    if note:
        print(f"ckv-generate: note: {note}", file=sys.stderr)
    ident = models.identity(options.model)
    max_length = options.max_length or (manifest or {}).get("max_length") or common.default_max_length(config)
    chat = options.chat or (manifest or {}).get("chat") or "auto"
    device = models.resolve_device(options.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = options.dtype or (manifest or {}).get("dtype") or models.default_dtype(device)
    # The model is compared by its identity (config.json, tokenizer files), as ckv-capture does:
    # however --model is spelt, the same files are the same model.
    if manifest and manifest.get("model_config_sha256"):
        if ident.config_hash != manifest["model_config_sha256"]:
            raise InputError(f"--model {options.model}: its config.json differs from the one the cache "
                             f"{options.cache} was captured with ({manifest.get('model')})")

    # Everything that can be checked without the model is checked before it is loaded: prompts
    # rebuilt, keep-sets against the model's shape and the prompt length, input_ids against the cache.
    tokenizer = models.load_tokenizer(options.model)
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    plans = []
    for line in lines:
        sample = by_key.get((line.task, line.id))
        if sample is None:
            raise InputError(f"{line.where}: sample '{line.id}' of task {line.task} is not in the LongBench files "
                             f"({', '.join(options.longbench)})")
        prompt = longbench.build_prompt(tokenizer, sample, max_length, chat)
        if options.cache:
            cached = _cached_input_ids(options.cache, index, line.task, line.id)
            if cached is None:
                raise InputError(f"{line.where}: sample '{line.id}' of task {line.task} is not in the cache "
                                 f"{options.cache}")
            if cached != prompt.input_ids:
                first = next((i for i, (a, b) in enumerate(zip(cached, prompt.input_ids, strict=False)) if a != b),
                             min(len(cached), len(prompt.input_ids)))
                raise InputError(f"{line.where}: sample '{line.id}': the rebuilt prompt ({len(prompt.input_ids)} "
                                 f"tokens) differs from the captured input_ids ({len(cached)} tokens) from token "
                                 f"{first}; generate with the capture's --max-length/--chat and tokenizer")
        masks = keepsets.keep_masks(line, config.num_hidden_layers, heads, kv_heads, len(prompt.input_ids))
        plans.append((line, sample, prompt, masks))

    os.makedirs(options.out, exist_ok=True)
    _check_pred_dir(options.out, lines[0].config_hash if lines else "", options.model, ident, options.overwrite)
    model, tokenizer, info = models.load(options.model, device, dtype, options.attention)
    session = attention.AttentionSession(model)
    done = _predicted_ids(options.out, {entry.task for entry in lines}, options.overwrite)
    todo = [p for p in plans if (p[0].task, p[0].id) not in done]
    print(f"ckv-generate: {len(todo)} sample(s) to generate ({len(plans) - len(todo)} already in {options.out}), "
          f"configuration {lines[0].config_hash[:12] if lines else '-'}, model {info.model}", file=sys.stderr)
    failures = []
    progress = common.Progress(len(todo), "generate")
    written = 0

    def stopped(code: int) -> int:
        progress.close()
        print(f"\nckv-generate: interrupted; {written} prediction(s) written to {options.out} by this run, "
              f"{len(todo) - written} of the {len(plans)} still to generate. Resume with: {_resume_command(argv)}",
              file=sys.stderr)
        return code

    with common.StopRequest(lambda message: progress.write(f"ckv-generate: {message}")) as stop:
        try:
            for line, sample, prompt, masks in todo:
                if stop.requested:
                    return stopped(stop.exit_code)
                try:
                    prediction, tokens = generate_one(model, tokenizer, session, sample, prompt, masks)
                except SampleError as e:
                    failures.append(line)
                    progress.write(f"ckv-generate: sample {sample.label} ({line.where}): {e}")
                    progress.advance(0)
                    continue
                except attention.UnsupportedModel as e:
                    progress.close()
                    raise InputError(f"--model {options.model}: {e}") from None
                record = {"_id": sample.id, "pred": prediction, "answers": sample.answers,
                          "all_classes": sample.fields["all_classes"], "length": sample.fields["length"]}
                with common.interrupts_held(), open(os.path.join(options.out, f"{sample.task}.jsonl"), "a",
                                                    encoding="utf-8") as f:
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")  # the line whole or not at all
                    written += 1
                progress.advance(len(prompt.input_ids) + len(tokens))
        except KeyboardInterrupt:  # a second stop signal: every line written is whole
            return stopped(stop.exit_code)
    progress.close()
    if failures:
        print(f"ckv-generate: {len(failures)} sample(s) not generated", file=sys.stderr)
        return EXIT_INCOMPLETE
    return EXIT_OK


def _check_pred_dir(out: str, config_hash: str, model: str, ident, overwrite: bool) -> None:
    """One prediction directory holds one configuration's predictions (import-predictions takes
    them for one --config) of one model: a second configuration or another model is refused.
    The model is compared by its identity, not by how --model is spelt."""
    path = os.path.join(out, "ckv-generate.json")
    record = {"config_hash": config_hash, "model": model, "model_config_sha256": ident.config_hash,
              "tokenizer_sha256": ident.tokenizer_hash}
    if os.path.exists(path) and not overwrite:
        with open(path, encoding="utf-8") as f:
            existing = json.load(f)
        if "model_config_sha256" in existing:  # written by this version
            same_model = all(existing.get(k) == record[k] for k in ("model_config_sha256", "tokenizer_sha256"))
        else:  # an older one named the model only
            same_model = existing.get("model") == model or (
                os.path.isdir(model) and os.path.realpath(existing.get("model", "")) == ident.resolved)
        if existing.get("config_hash") != config_hash or not same_model:
            raise InputError(f"{path}: this directory holds predictions of configuration "
                             f"{existing.get('config_hash', '?')[:12]} ({existing.get('model')}); use another --out")
        return
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
        f.write("\n")


def _predicted_ids(out: str, tasks: set[str], overwrite: bool) -> set[tuple[str, str]]:
    done = set()
    for task in tasks:
        path = os.path.join(out, f"{task}.jsonl")
        if not os.path.exists(path):
            continue
        if overwrite:
            os.unlink(path)
            continue
        _drop_torn_tail(path)
        with open(path, encoding="utf-8") as f:
            for number, text in enumerate(f, 1):
                if text.strip():
                    try:
                        done.add((task, json.loads(text)["_id"]))
                    except (json.JSONDecodeError, KeyError):
                        raise InputError(f"{path}:{number}: not a prediction line (use --overwrite to start afresh)") from None
    return done


def _drop_torn_tail(path: str) -> None:
    """Every prediction line is appended whole with its newline; bytes after the last newline are
    what a killed run (SIGKILL, a lost node) left of one line: dropped, so that the sample is
    generated again and the next line does not join them."""
    with open(path, "rb+") as f:
        data = f.read()
        if not data or data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        f.truncate(keep)
    print(f"ckv-generate: {path}: dropped an unfinished last line ({len(data) - keep} bytes, left by a run that was "
          "killed); its sample is generated again", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
