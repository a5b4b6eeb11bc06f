"""LongBench v1 samples and prompts, built the way THUDM/LongBench builds them.

Prompt construction follows `LongBench/pred.py` (THUDM/LongBench commit c5ea10bc, `get_pred`):
the task's template from `config/dataset2prompt.json` filled with the sample's fields, middle
truncation to `max_length` tokens, then the chat template except for the tasks LongBench keeps
raw. The configuration files are carried as data (`longbench_config/`, see SOURCES.md there).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from importlib import resources

from .errors import InputError, SampleError


def _config(name: str) -> dict:
    text = resources.files(__package__).joinpath("longbench_config", name).read_text(encoding="utf-8")
    return json.loads(text)


PROMPTS: dict[str, str] = _config("dataset2prompt.json")
MAX_NEW_TOKENS: dict[str, int] = _config("dataset2maxlen.json")
TASKS = tuple(PROMPTS)

# pred.py: `if dataset not in ["trec", "triviaqa", "samsum", "lsht", "lcc", "repobench-p"]:
# prompt = build_chat(...)` -- "chat models are better off without build prompts on these tasks".
NO_CHAT_TASKS = frozenset({"trec", "triviaqa", "samsum", "lsht", "lcc", "repobench-p"})

# Tasks whose gold answers are spans of the context, so that "where a gold answer occurs" marks
# evidence. Summaries, counts, class labels and code completions do not occur as such: their
# evidence list is empty and ckv-sweep reports evidence_recall as NULL for them (docs/spec/METRICS.md).
EXTRACTIVE_TASKS = frozenset({"narrativeqa", "qasper", "multifieldqa_en", "multifieldqa_zh",
                              "hotpotqa", "2wikimqa", "musique", "dureader", "triviaqa",
                              "passage_retrieval_en", "passage_retrieval_zh"})
# qasper's answers include these verdicts; they are not spans of the article.
NON_SPAN_ANSWERS = frozenset({"yes", "no", "unanswerable"})

_FIELDS = ("input", "context", "answers", "length", "dataset", "language", "all_classes", "_id")


@dataclass
class Sample:
    task: str
    id: str
    fields: dict  # the JSON object as read: the template is filled from it, like pred.py does
    where: str  # FILE:LINE, for messages

    @property
    def answers(self) -> list[str]:
        return self.fields["answers"]

    @property
    def label(self) -> str:
        return f"{self.task}/{self.id} ({self.where})"


def _task_name(name: str) -> str | None:
    """LongBench-E files name their dataset `<task>_e`; both map to the task's template."""
    if name in PROMPTS:
        return name
    if name.endswith("_e") and name[:-2] in PROMPTS:
        return name[:-2]
    return None


def parse_line(obj, where: str, file_task: str | None) -> Sample:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: not a JSON object")
    for key in _FIELDS:
        if key not in obj:
            raise InputError(f"{where}: field '{key}' is missing")
    for key in ("input", "context", "dataset", "language", "_id"):
        if not isinstance(obj[key], str):
            raise InputError(f"{where}: field '{key}' must be a string, got {type(obj[key]).__name__}")
    if not obj["_id"]:
        raise InputError(f"{where}: field '_id' is empty")
    answers = obj["answers"]
    if not isinstance(answers, list):
        raise InputError(f"{where}: field 'answers' must be a list of strings")
    for i, answer in enumerate(answers):
        if not isinstance(answer, str):
            raise InputError(f"{where}: field 'answers': element {i} must be a string, got {type(answer).__name__}")
    if not isinstance(obj["length"], int) or isinstance(obj["length"], bool) or obj["length"] < 0:
        raise InputError(f"{where}: field 'length' must be a non-negative integer")
    classes = obj["all_classes"]
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise InputError(f"{where}: field 'all_classes' must be a list of strings or null")
    task = _task_name(obj["dataset"]) or file_task
    if task is None:
        raise InputError(f"{where}: dataset '{obj['dataset']}' is not a LongBench v1 task "
                         f"(tasks: {', '.join(TASKS)})")
    if file_task is not None and task != file_task:
        raise InputError(f"{where}: dataset '{obj['dataset']}' disagrees with the file name (task '{file_task}')")
    return Sample(task=task, id=obj["_id"], fields=obj, where=where)


def _jsonl_files(paths: list[str]) -> list[str]:
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".jsonl"))
            if not found:
                raise InputError(f"{path}: directory holds no .jsonl file")
            files.extend(found)
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or directory")
    return files


def read_longbench(paths: list[str]) -> list[Sample]:
    """Samples of LongBench JSONL files (or directories of `<task>.jsonl`), in file order.

    The task is the line's `dataset` (`<task>_e` for LongBench-E); a file named after a task
    must agree with it. A malformed line raises InputError naming FILE:LINE and the field.
    """
    samples: list[Sample] = []
    seen: dict[tuple[str, str], str] = {}
    for path in _jsonl_files(paths):
        file_task = _task_name(os.path.splitext(os.path.basename(path))[0])
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{where}: invalid JSON: {e}") from None
                sample = parse_line(obj, where, file_task)
                key = (sample.task, sample.id)
                if key in seen:
                    raise InputError(f"{where}: id '{sample.id}' of task {sample.task} already appears at {seen[key]}")
                seen[key] = where
                samples.append(sample)
    return samples


def select_samples(samples: list[Sample], tasks: list[str] | None, per_task: int | None) -> list[Sample]:
    if tasks:
        unknown = [t for t in tasks if t not in PROMPTS]
        if unknown:
            raise InputError(f"unknown task(s) {', '.join(unknown)} (tasks: {', '.join(TASKS)})")
        absent = [t for t in tasks if not any(s.task == t for s in samples)]
        if absent:
            raise InputError(f"no sample of task(s) {', '.join(absent)} in the LongBench files")
    chosen, count = [], {}
    for s in samples:
        if tasks and s.task not in tasks:
            continue
        if per_task is not None and count.get(s.task, 0) >= per_task:
            continue
        count[s.task] = count.get(s.task, 0) + 1
        chosen.append(s)
    return chosen


@dataclass
class Prompt:
    text: str  # what the model reads (after truncation and chat template)
    input_ids: list[int]
    offsets: list[tuple[int, int]]  # character range of each token in `text`
    chat: bool
    truncated: bool
    tokens_before_truncation: int
    evidence: list[tuple[int, int]] = field(default_factory=list)  # [start, end) token ranges
    question_span: tuple[int, int] = (0, 0)


def use_chat_template(tokenizer, task: str, chat: str) -> bool:
    """chat = auto (the tokenizer's template when it has one), on (required) or off."""
    if chat == "off" or task in NO_CHAT_TASKS:
        return False
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if chat == "on" and not has_template:
        raise InputError("--chat on: the tokenizer has no chat template")
    return has_template


def build_prompt(tokenizer, sample: Sample, max_length: int, chat: str) -> Prompt:
    template = PROMPTS[sample.task]
    prompt = template.format(**sample.fields)
    # pred.py: tokenizer(prompt, truncation=False).input_ids[0], special tokens included, and
    # decode(ids[:half]) + decode(ids[-half:]) with skip_special_tokens=True.
    ids = tokenizer(prompt, truncation=False).input_ids
    before = len(ids)
    truncated = before > max_length
    if truncated:
        half = int(max_length / 2)
        prompt = (tokenizer.decode(ids[:half], skip_special_tokens=True)
                  + tokenizer.decode(ids[-half:], skip_special_tokens=True))
    chat_used = use_chat_template(tokenizer, sample.task, chat)
    if chat_used:
        # pred.py's build_chat is per model family (llama2's [INST], vicuna's template, ...);
        # the tokenizer's own chat template is what it generalises to. The template writes its
        # special tokens (BOS included) itself, so the text is tokenized without adding them
        # again (pred.py's tokenizer(prompt) would double a BOS that the template already has).
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
    else:
        text = prompt
    encoded = tokenizer(text, add_special_tokens=not chat_used, return_offsets_mapping=True)
    result = Prompt(text=text, input_ids=list(encoded["input_ids"]),
                    offsets=[tuple(o) for o in encoded["offset_mapping"]], chat=chat_used,
                    truncated=truncated, tokens_before_truncation=before)
    if not result.input_ids:
        raise SampleError("the prompt tokenizes to no token")
    region = _context_region(template, sample, text)
    result.evidence = evidence_spans(sample, text, result.offsets, region)
    question = sample.fields["input"].strip()
    if question:
        start = text.rfind(question)
        if start >= 0:
            span = _token_range(result.offsets, start, start + len(question))
            if span is not None:
                result.question_span = span
    return result


def _context_region(template: str, sample: Sample, text: str) -> tuple[int, int]:
    """Character range of the context inside `text`, found from the template's literal text
    around `{context}` (the prompt may carry a chat header before and truncation inside)."""
    at = template.index("{context}")
    prefix = template[:at]
    rest = template[at + len("{context}"):]
    tail = rest.split("{", 1)[0]  # literal text up to the next placeholder
    start = 0
    if prefix:
        found = text.find(prefix)
        if found >= 0:
            start = found + len(prefix)
    end = len(text)
    if tail.strip():
        found = text.rfind(tail)
        if found >= start:
            end = found
    elif rest.startswith("{input}") and sample.fields["input"]:
        found = text.rfind(sample.fields["input"])
        if found >= start:
            end = found
    return start, end


def _token_range(offsets, start: int, end: int) -> tuple[int, int] | None:
    """Tokens whose characters overlap [start, end); tokens with empty offsets (special tokens
    added by the tokenizer) never do."""
    hits = [i for i, (s, e) in enumerate(offsets) if e > s and s < end and e > start]
    if not hits:
        return None
    return hits[0], hits[-1] + 1


def _boundary_ok(text: str, start: int, end: int, cjk: bool) -> bool:
    # A match must be a whole word ("Paragraph 1" inside "Paragraph 12" is not evidence);
    # Chinese text has no spaces, so there any occurrence counts.
    if cjk:
        return True
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or after.isalnum())


def evidence_spans(sample: Sample, text: str, offsets, region: tuple[int, int]) -> list[tuple[int, int]]:
    """[start, end) token ranges of the context where a gold answer occurs (docs/spec/DATA.md `evidence`),
    merged where they overlap or touch. Empty for non-extractive tasks."""
    if sample.task not in EXTRACTIVE_TASKS:
        return []
    cjk = sample.fields.get("language") == "zh"
    ranges = []
    lo, hi = region
    for answer in sample.answers:
        needle = answer.strip()
        if not needle or needle.lower() in NON_SPAN_ANSWERS:
            continue
        for match in re.finditer(re.escape(needle), text[lo:hi]):
            start, end = lo + match.start(), lo + match.end()
            if not _boundary_ok(text, start, end, cjk):
                continue
            span = _token_range(offsets, start, end)
            if span is not None:
                ranges.append(span)
    ranges.sort()
    merged: list[tuple[int, int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def generation_settings(tokenizer, model, task: str, prompt_length: int) -> dict:
    """The generate() arguments of pred.py for this task: greedy, the task's max new tokens,
    and for samsum a newline stop with at least one new token."""
    settings = dict(max_new_tokens=MAX_NEW_TOKENS[task], num_beams=1, do_sample=False, temperature=1.0)
    if task == "samsum":
        # pred.py: "prevent illegal output on samsum (model endlessly repeat "\nDialogue")"
        newline = tokenizer.encode("\n", add_special_tokens=False)[-1]
        settings.update(min_length=prompt_length + 1, eos_token_id=[tokenizer.eos_token_id, newline])
    return settings


# Passed to generate() besides pred.py's arguments: the taps and the eviction mask read the
# keys a dynamic cache appends; a model whose generation config asks for a static cache would
# hand over its whole preallocated buffer instead. The tokens generated are the same.
DYNAMIC_CACHE = {"cache_implementation": "dynamic"}


def stop_token_ids(tokenizer, model, settings: dict) -> set[int]:
    eos = settings.get("eos_token_id", model.generation_config.eos_token_id)
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        return set()
    return set(eos) if isinstance(eos, (list, tuple)) else {eos}
