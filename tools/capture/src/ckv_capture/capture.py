"""ckv-capture: a Hugging Face model plus LongBench v1 JSONL -> an attention cache (docs/spec/DATA.md).

One forward pass per sample over the prompt and its answer (gold, teacher-forced) or one
generate() call (the full-cache greedy answer); the attention function of `attention.py` copies
each captured layer's post-RoPE q, k, v off the device as that layer runs, so device memory holds
one layer's copy at a time and host memory one sample. Every file is read back and compared
with what was meant to be written before its index line is added.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import traceback

import torch
import transformers

from . import CAPTURE_VERSION, attention, cache_format, common, longbench, models, tiny
from .errors import EXIT_ERROR, EXIT_INCOMPLETE, EXIT_OK, InputError, SampleError


class Collector:
    """Receives (layer, query, key, value) from the attention function and keeps the rows the
    cache stores: queries of the last r prompt positions and of the answer tokens, keys and values
    of every position. Positions are tracked so that a cache that does not append (a static
    cache, say) is refused instead of silently misread."""

    def __init__(self, layers: list[int], n: int, r: int):
        self.n, self.r = n, r
        self.parts = {layer: {kind: [] for kind in cache_format.LAYER_KINDS} for layer in layers}
        self.next_position = {layer: 0 for layer in layers}

    def __call__(self, layer, query, key, value):
        kv, q = key.shape[2], query.shape[2]
        start = kv - q  # positions [start, kv) are new in this call
        if start != self.next_position[layer]:
            raise SampleError(f"layer {layer}: the attention saw positions from {start}, expected "
                              f"{self.next_position[layer]} (a KV cache that does not append?)")
        self.next_position[layer] = kv
        n, r, parts = self.n, self.r, self.parts[layer]

        def take(tensor, lo, hi, kind):
            lo, hi = max(lo, start), min(hi, kv)
            if lo < hi:
                # [B, heads, positions, d] -> host copy of [heads, positions, d], logical order.
                parts[kind].append(tensor[0, :, lo - start:hi - start].to("cpu"))

        new_keys, new_values = key[:, :, start:kv], value[:, :, start:kv]
        take(query, n - r, n, "q")
        take(query, n, kv, "q_answer")
        take(new_keys, 0, n, "k")
        take(new_values, 0, n, "v")
        take(new_keys, n, kv, "k_answer")
        take(new_values, n, kv, "v_answer")

    def tensors(self, m: int) -> dict[str, torch.Tensor]:
        out = {}
        for layer, parts in self.parts.items():
            if self.next_position[layer] != self.n + m:
                raise SampleError(f"layer {layer}: the attention saw {self.next_position[layer]} positions, "
                                  f"expected {self.n} prompt + {m} answer tokens")
            for kind, pieces in parts.items():
                out[cache_format.tensor_name(layer, kind)] = torch.cat(pieces, dim=1)
        return out


def _cache_kwargs(model, cache) -> dict:
    return {models.cache_keyword(model): cache}


def run_capture(model, tokenizer, session, sample, prompt, layers, r, answer_mode, max_answer_tokens):
    """The captured tensors, the answer's token ids and its source for one sample."""
    n = len(prompt.input_ids)
    limit = getattr(model.config, "max_position_embeddings", None)
    device = model.device
    prompt_ids = torch.tensor([prompt.input_ids], device=device)
    collector = Collector(layers, n, r)
    session.clear()
    session.capture, session.capture_layers, session.prompt_length = collector, set(layers), n
    try:
        with torch.inference_mode():
            if answer_mode == "gold":
                if not sample.answers:
                    raise SampleError("empty answer: the sample has no gold answer")
                answer_ids = tokenizer(sample.answers[0], add_special_tokens=False).input_ids[:max_answer_tokens]
                if not answer_ids:
                    raise SampleError(f"empty answer: the first gold answer {sample.answers[0]!r} tokenizes to no token")
                if limit and n + len(answer_ids) > limit:
                    raise SampleError(f"too long: {n} prompt + {len(answer_ids)} answer tokens exceed the model's "
                                      f"{limit} positions (lower --max-length)")
                ids = torch.cat([prompt_ids, torch.tensor([answer_ids], device=device)], dim=1)
                model(input_ids=ids, use_cache=False, logits_to_keep=1)
                source = "gold"
            else:
                settings = longbench.generation_settings(tokenizer, model, sample.task, n)
                if limit and n + settings["max_new_tokens"] > limit:
                    raise SampleError(f"too long: {n} prompt + up to {settings['max_new_tokens']} new tokens exceed "
                                      f"the model's {limit} positions (lower --max-length)")
                out = model.generate(prompt_ids, attention_mask=torch.ones_like(prompt_ids),
                                     return_dict_in_generate=True, pad_token_id=_pad_id(tokenizer),
                                     **longbench.DYNAMIC_CACHE, **settings)
                answer_ids = out.sequences[0, n:].tolist()
                stops = longbench.stop_token_ids(tokenizer, model, settings)
                if answer_ids and answer_ids[-1] in stops:
                    answer_ids = answer_ids[:-1]  # the stop token is not part of the answer: never fed
                elif answer_ids:
                    # generate() stops after choosing the last token; its q, k, v need one more step.
                    model(input_ids=torch.tensor([answer_ids[-1:]], device=device), use_cache=True,
                          logits_to_keep=1, **_cache_kwargs(model, out.past_key_values))
                if not answer_ids:
                    raise SampleError("empty answer: greedy generation stopped at once")
                source = "generated"
        tensors = collector.tensors(len(answer_ids))
    finally:
        session.clear()
    return tensors, answer_ids, source


def _pad_id(tokenizer):
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def sample_metadata(sample, prompt, info, options, layers, r, answer_ids, source, tokenizer, num_layers):
    return {
        "format": cache_format.FORMAT,
        "task": sample.task,
        "id": sample.id,
        "model": info.model,
        "n_tokens": str(len(prompt.input_ids)),
        "m_answer": str(len(answer_ids)),
        "layers": json.dumps(layers),
        "num_layers_model": str(num_layers),
        "answers": json.dumps(sample.answers, ensure_ascii=False),
        "evidence": json.dumps([list(s) for s in prompt.evidence]),
        "question_span": json.dumps(list(prompt.question_span)),
        "answer_source": source,
        "capture_version": CAPTURE_VERSION,
        # Enough to re-run this sample and check it (input_ids/answer_ids are in the file).
        "model_path": info.resolved,
        "model_revision": info.revision,
        "model_config_sha256": info.config_hash,
        "tokenizer": info.tokenizer,
        "tokenizer_sha256": info.tokenizer_hash,
        "transformers_version": info.transformers_version,
        "torch_version": info.torch_version,
        "dtype": options.dtype,
        "attention": options.attention,
        "query_rows": str(r),
        "max_length": str(options.max_length),
        "chat_template": "true" if prompt.chat else "false",
        "prompt_truncated": "true" if prompt.truncated else "false",
        "prompt_tokens_before_truncation": str(prompt.tokens_before_truncation),
        "answer_text": tokenizer.decode(answer_ids, skip_special_tokens=False),
        # Each prompt token's text, so the cache can be read without the tokenizer.
        **cache_format.token_texts_metadata(tokenizer, prompt.input_ids),
    }


def capture_one(model, tokenizer, session, info, sample, options, layers, out_dir):
    prompt = longbench.build_prompt(tokenizer, sample, options.max_length, options.chat)
    n = len(prompt.input_ids)
    r = n if options.query_rows == "all" else min(int(options.query_rows), n)
    max_answer = options.max_answer_tokens or longbench.MAX_NEW_TOKENS[sample.task]
    tensors, answer_ids, source = run_capture(model, tokenizer, session, sample, prompt, layers, r,
                                              options.answer, max_answer)
    for name, t in tensors.items():
        if not torch.isfinite(t).all():
            raise SampleError(f"tensor '{name}' holds NaN or Inf values (float16 overflow? capture with "
                              "--dtype bfloat16 or float32)")
    tensors["input_ids"] = torch.tensor(prompt.input_ids, dtype=torch.int32)
    tensors["answer_ids"] = torch.tensor(answer_ids, dtype=torch.int32)
    metadata = sample_metadata(sample, prompt, info, options, layers, r, answer_ids, source, tokenizer,
                               session.num_layers)
    cache_format.check_layout(tensors, metadata)
    metadata["content_sha256"] = cache_format.content_digest(tensors)
    relative = cache_format.sample_path(sample.task, sample.id)
    path = os.path.join(out_dir, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with common.interrupts_held():  # the file and its index line, whole or not at all
        size = cache_format.write_safetensors(path, tensors, metadata)
        try:
            cache_format.verify_safetensors(path, tensors, metadata)
        except cache_format.CacheCheckError:
            os.unlink(path)
            raise
        cache_format.update_index(out_dir, {"id": sample.id, "task": sample.task, "path": relative, "n_tokens": n,
                                            "m_answer": len(answer_ids), "layers": layers, "file_size": size})
    return n + len(answer_ids)


def parse_layers(text: str, num_layers: int) -> list[int]:
    if text == "all":
        return list(range(num_layers))
    try:
        layers = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise InputError(f"--layers expects 'all' or a comma-separated list such as 0,8,16, got '{text}'") from None
    bad = [layer for layer in layers if not 0 <= layer < num_layers]
    if not layers or bad:
        raise InputError(f"--layers {text}: layers must lie in [0, {num_layers}) (the model has {num_layers})")
    return layers


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ckv-capture",
        description="Capture post-RoPE attention inputs of a Hugging Face causal LM on LongBench v1 samples "
                    "into a ckv-sweep attention cache (docs/spec/DATA.md).")
    p.add_argument("--model", help="local model directory, or a hub id already in the local cache (required)")
    p.add_argument("--longbench", nargs="+", metavar="FILE.jsonl",
                   help="LongBench v1 JSONL files or directories holding <task>.jsonl (required)")
    p.add_argument("--out", metavar="CACHE", help="cache directory (created; resumed if it exists; required)")
    p.add_argument("--tasks", nargs="+", help="only these tasks")
    p.add_argument("--samples", type=int, metavar="N", help="the first N samples of each task")
    p.add_argument("--layers", default="all", help="'all' (default; needed for end-to-end checks) or e.g. 0,8,16")
    p.add_argument("--query-rows", default="all", help="'all' (default: every method) or R: the last R prompt "
                   "rows only, e.g. 64 (enough for window methods: SnapKV, PyramidKV, StreamingLLM, ...)")
    p.add_argument("--answer", choices=("gold", "greedy"), default="gold",
                   help="gold: the first gold answer, teacher-forced; greedy: the full-cache greedy answer")
    p.add_argument("--max-length", type=int, metavar="T",
                   help="LongBench's middle truncation of the prompt to T tokens (default: max_position_embeddings - 576)")
    p.add_argument("--max-answer-tokens", type=int, metavar="M",
                   help="with --answer gold: at most M answer tokens (default: the task's max new tokens)")
    p.add_argument("--chat", choices=("auto", "on", "off"), default="auto",
                   help="chat template (except trec, triviaqa, samsum, lsht, lcc, repobench-p): auto = when the "
                        "tokenizer has one")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    p.add_argument("--dtype", choices=tuple(models.DTYPES), help="model and cache dtype (default: bfloat16 on "
                   "cuda, float32 on cpu)")
    p.add_argument("--attention", choices=attention.BASES, default="sdpa",
                   help="the attention that computes the forward pass (the tap is the same)")
    p.add_argument("--shard", metavar="I/N", help="take every N-th sample starting at I (one process per GPU)")
    p.add_argument("--overwrite", action="store_true", help="capture samples already in the cache again")
    first = p.add_argument_group("a first run without downloads (instead of a capture)")
    first.add_argument("--tiny-model", metavar="DIR",
                       help="build a tiny randomly initialised model and its tokenizer (trained on the spot) into "
                            "DIR, for --model DIR; nothing is downloaded")
    first.add_argument("--tiny-family", choices=tiny.USABLE,
                       default="llama", help="the family of --tiny-model (default: llama)")
    first.add_argument("--tiny-longbench", metavar="DIR",
                       help="write a few small LongBench-format samples (hotpotqa, trec) into DIR, for --longbench DIR")
    return p


def build_tiny(options) -> int:
    """--tiny-model / --tiny-longbench: the files of a first run, then the command that uses them."""
    for path in (options.tiny_model, options.tiny_longbench):
        if path and os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
            raise InputError(f"{path}: exists and is not an empty directory; give a new one")
    if options.tiny_model:
        tiny.build_model(options.tiny_family, options.tiny_model)
        print(f"ckv-capture: {options.tiny_model}: a tiny random {options.tiny_family} model and its tokenizer "
              "(its attention is real, its answers are noise)", file=sys.stderr)
    if options.tiny_longbench:
        tiny.write_longbench(options.tiny_longbench)
        print(f"ckv-capture: {options.tiny_longbench}: LongBench-format samples of hotpotqa and trec", file=sys.stderr)
    if options.tiny_model and options.tiny_longbench:
        print("ckv-capture: next: " + shlex.join(["ckv-capture", "--model", options.tiny_model, "--longbench",
                                                   options.tiny_longbench, "--out", "CACHE", "--device", "cpu",
                                                   "--max-length", "400"]), file=sys.stderr)
    return EXIT_OK


EXIT_INTERRUPTED = 128 + signal.SIGINT  # what a shell reports for a command ended by Ctrl-C


def main(argv=None) -> int:
    p = parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    options = p.parse_args(argv)
    try:
        if options.tiny_model or options.tiny_longbench:
            return build_tiny(options)
        missing = [f"--{name}" for name in ("model", "longbench", "out") if getattr(options, name) is None]
        if missing:
            p.error(f"the following arguments are required: {', '.join(missing)}")
        return _main(options, argv)
    except InputError as e:
        print(f"ckv-capture: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        # Before the first sample (loading the model, say): nothing was written but capture.json.
        print(f"\nckv-capture: interrupted; nothing captured. Run again with: {resume_command(argv)}",
              file=sys.stderr)
        return EXIT_INTERRUPTED


def resume_command(argv: list[str]) -> str:
    """The command that resumes an interrupted capture: the same one, less --overwrite (which would
    capture again what the interrupted run kept)."""
    return shlex.join(["ckv-capture"] + [a for a in argv if a != "--overwrite"])


def _main(options, argv: list[str]) -> int:
    if options.samples is not None and options.samples < 1:
        raise InputError("--samples must be at least 1")
    if options.query_rows != "all" and (not options.query_rows.isdigit() or int(options.query_rows) < 1):
        raise InputError(f"--query-rows expects 'all' or a positive number, got '{options.query_rows}'")
    shard_index, shard_count = common.parse_shard(options.shard)
    samples = longbench.select_samples(longbench.read_longbench(options.longbench), options.tasks, options.samples)
    samples = samples[shard_index::shard_count]
    device = models.resolve_device(options.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    options.dtype = options.dtype or models.default_dtype(device)
    config = models.load_config(options.model)
    note = models.family_note(config)
    if note:
        print(f"ckv-capture: note: {note}", file=sys.stderr)
    options.max_length = options.max_length or common.default_max_length(config)
    layers = parse_layers(options.layers, config.num_hidden_layers)

    # The model is named by its identity (config.json and tokenizer files), not by how --model
    # spells it: a relative path, an absolute one and a hub id of the same files are one model.
    ident = models.identity(options.model)
    os.makedirs(options.out, exist_ok=True)
    common.check_manifest(options.out, {
        "model": options.model, "model_path": ident.resolved, "model_config_sha256": ident.config_hash,
        "tokenizer_sha256": ident.tokenizer_hash, "answer": options.answer, "max_length": options.max_length,
        "chat": options.chat, "query_rows": options.query_rows, "layers": layers, "dtype": options.dtype,
        "capture_version": CAPTURE_VERSION, "transformers_version": transformers.__version__})
    model, tokenizer, info = models.load(options.model, device, options.dtype, options.attention)
    session = attention.AttentionSession(model)

    done = {(e["task"], e["id"]) for e in cache_format.read_index(options.out)
            if os.path.exists(os.path.join(options.out, e["path"]))}
    todo = [s for s in samples if options.overwrite or (s.task, s.id) not in done]
    print(f"ckv-capture: {len(todo)} sample(s) to capture ({len(samples) - len(todo)} already in {options.out}); "
          f"model {info.model} ({info.num_layers} layers, transformers {info.transformers_version}), layers "
          f"{'all' if len(layers) == info.num_layers else layers}, query rows {options.query_rows}, answer "
          f"{options.answer}, max length {options.max_length}, {options.dtype} on {device}", file=sys.stderr)
    failures = []
    progress = common.Progress(len(todo), "capture")

    def interrupted(code: int, in_progress=None) -> int:
        """The closing account; `in_progress`: the sample a second signal cut short, whose file and
        index line were written with the signals held back (capture_one), so whole or not at all."""
        progress.close()
        indexed = {(e["task"], e["id"]) for e in cache_format.read_index(options.out)}
        left = sum((s.task, s.id) not in indexed for s in samples)
        what = ""
        if in_progress is not None:
            state = "kept" if (in_progress.task, in_progress.id) in indexed else "abandoned"
            what = f"sample {in_progress.label} was {state}, "
        print(f"\nckv-capture: interrupted; {what}{len(indexed)} sample(s) are in {options.out}, {left} of the "
              f"{len(samples)} selected still to capture. Resume (from this directory) with: "
              f"{resume_command(argv)}", file=sys.stderr)
        return code

    with common.StopRequest(lambda message: progress.write(f"ckv-capture: {message}")) as stop:
        for sample in todo:
            if stop.requested:
                return interrupted(stop.exit_code)
            try:
                tokens = capture_one(model, tokenizer, session, info, sample, options, layers, options.out)
                progress.advance(tokens)
            except KeyboardInterrupt:  # a second stop signal
                return interrupted(stop.exit_code, sample)
            except attention.UnsupportedModel as e:
                progress.close()
                raise InputError(f"--model {options.model}: {e}") from None
            except (SampleError, cache_format.CacheCheckError) as e:
                failures.append((sample, str(e)))
                progress.write(f"ckv-capture: sample {sample.label}: {e}")
                progress.advance(0)
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                failures.append((sample, "out of device memory"))
                progress.write(f"ckv-capture: sample {sample.label}: out of device memory (lower --max-length, "
                               "capture fewer --layers or --query-rows 64)")
                progress.advance(0)
            except Exception as e:  # an unexpected failure of one sample must not lose the others
                failures.append((sample, f"{type(e).__name__}: {e}"))
                progress.write(f"ckv-capture: sample {sample.label}: {type(e).__name__}: {e}\n{traceback.format_exc()}")
                progress.advance(0)
    progress.close()
    if failures:
        print(f"ckv-capture: {len(failures)} of {len(todo)} sample(s) not captured: "
              + ", ".join(f"{s.task}/{s.id}" for s, _ in failures), file=sys.stderr)
        return EXIT_INCOMPLETE
    print(f"ckv-capture: {options.out}: {len(todo)} sample(s) captured", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
