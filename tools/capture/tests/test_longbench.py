"""Prompts as LongBench v1's pred.py builds them, evidence spans, and the JSONL reader's errors."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from ckv_capture import longbench
from ckv_capture.errors import InputError


def pred_py_prompt(tokenizer, fields: dict, template: str, max_length: int) -> str:
    """LongBench/pred.py (THUDM/LongBench c5ea10bc) get_pred, the lines before build_chat, as an
    independent oracle."""
    prompt = template.format(**fields)
    tokenized_prompt = tokenizer(prompt, truncation=False, return_tensors="pt").input_ids[0]
    if len(tokenized_prompt) > max_length:
        half = int(max_length / 2)
        prompt = (tokenizer.decode(tokenized_prompt[:half], skip_special_tokens=True)
                  + tokenizer.decode(tokenized_prompt[-half:], skip_special_tokens=True))
    return prompt


def test_configuration_carried_from_longbench():
    # The 16 English tasks ckv-sweep scores (common/tasks.cpp) and the 5 Chinese ones.
    english = ["narrativeqa", "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "musique", "gov_report", "qmsum",
               "multi_news", "trec", "triviaqa", "samsum", "passage_count", "passage_retrieval_en", "lcc",
               "repobench-p"]
    assert set(longbench.PROMPTS) == set(longbench.MAX_NEW_TOKENS)
    assert set(english) <= set(longbench.PROMPTS) and len(longbench.PROMPTS) == 21
    assert [longbench.MAX_NEW_TOKENS[t] for t in ("hotpotqa", "narrativeqa", "gov_report", "samsum", "trec", "lcc")] \
        == [32, 128, 512, 128, 64, 64]
    assert longbench.PROMPTS["trec"] == ("Please determine the type of the question below. Here are some examples "
                                         "of questions.\n\n{context}\n{input}")
    assert "answer the question as concisely as you can" in longbench.PROMPTS["narrativeqa"].lower()
    assert longbench.NO_CHAT_TASKS == {"trec", "triviaqa", "samsum", "lsht", "lcc", "repobench-p"}


def test_prompts_truncation_and_chat(assets):
    tokenizer = AutoTokenizer.from_pretrained(assets["llama"])
    samples = longbench.read_longbench([assets["longbench"]])
    truncated = 0
    for sample in samples:
        prompt = longbench.build_prompt(tokenizer, sample, 400, "auto")
        raw = pred_py_prompt(tokenizer, sample.fields, longbench.PROMPTS[sample.task], 400)
        if sample.task == "trec":  # no chat template: the text is pred.py's prompt, BOS added
            assert not prompt.chat and prompt.text == raw
            assert prompt.input_ids == tokenizer(raw).input_ids
            assert prompt.input_ids[0] == tokenizer.bos_token_id
        else:  # the chat template wraps pred.py's prompt; its BOS is not doubled
            assert prompt.chat
            assert prompt.text == f"<s><|user|>\n{raw}\n<|assistant|>\n"
            assert prompt.input_ids == tokenizer(prompt.text, add_special_tokens=False).input_ids
            assert prompt.input_ids.count(tokenizer.bos_token_id) == 1
        truncated += prompt.truncated
        if prompt.truncated:  # both halves of 200 tokens survive, the middle is gone
            assert prompt.tokens_before_truncation > 400
            assert abs(len(tokenizer(raw).input_ids) - 400) <= 4
        # without the chat template every task is plain
        plain = longbench.build_prompt(tokenizer, sample, 400, "off")
        assert not plain.chat and plain.text == raw
    assert truncated == 2
    with pytest.raises(InputError, match="--chat on: the tokenizer has no chat template"):
        bare = AutoTokenizer.from_pretrained(assets["llama"])
        bare.chat_template = None
        longbench.build_prompt(bare, samples[0], 400, "on")


def test_evidence_spans_mark_the_gold_answer_in_the_context(assets):
    tokenizer = AutoTokenizer.from_pretrained(assets["llama"])
    samples = {s.id: s for s in longbench.read_longbench([assets["longbench"]])}
    for sample_id, answer in (("hp00", "Lisbon"), ("hp01", "Greta Hugo"), ("hp02", "seven bridges")):
        prompt = longbench.build_prompt(tokenizer, samples[sample_id], 400, "auto")
        assert len(prompt.evidence) == 1, (sample_id, prompt.evidence)
        start, end = prompt.evidence[0]
        assert tokenizer.decode(prompt.input_ids[start:end]).strip() == answer
        # the question (after the context) is its own span, and the evidence lies before it
        q0, q1 = prompt.question_span
        assert tokenizer.decode(prompt.input_ids[q0:q1]).strip() == samples[sample_id].fields["input"]
        assert end <= q0
    # classification labels are not spans: no evidence, so evidence_recall stays NULL
    assert longbench.build_prompt(tokenizer, samples["tr00"], 400, "auto").evidence == []


def test_evidence_needs_whole_words_and_skips_verdicts(assets):
    tokenizer = AutoTokenizer.from_pretrained(assets["llama"])
    fields = {"input": "Which paragraph?", "context": "Paragraph 12: Oslo. Paragraph 1: Lima. yes no",
              "answers": ["Paragraph 1", "yes"], "length": 8, "dataset": "passage_retrieval_en", "language": "en",
              "all_classes": None, "_id": "pr0"}
    sample = longbench.parse_line(fields, "x.jsonl:1", None)
    prompt = longbench.build_prompt(tokenizer, sample, 400, "off")
    assert len(prompt.evidence) == 1
    start, end = prompt.evidence[0]
    assert tokenizer.decode(prompt.input_ids[start:end]).strip() == "Paragraph 1"


def _write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("".join((entry if isinstance(entry, str) else json.dumps(entry)) + "\n" for entry in lines), encoding="utf-8")
    return str(path)


def test_reader_names_file_line_and_field(tmp_path):
    good = {"input": "q", "context": "c", "answers": ["a"], "length": 1, "dataset": "hotpotqa", "language": "en",
            "all_classes": None, "_id": "x1"}
    cases = [
        ({k: v for k, v in good.items() if k != "answers"}, "hotpotqa.jsonl:2: field 'answers' is missing"),
        (dict(good, answers=["a", 3]), "hotpotqa.jsonl:2: field 'answers': element 1 must be a string, got int"),
        (dict(good, length=-1), "hotpotqa.jsonl:2: field 'length' must be a non-negative integer"),
        (dict(good, dataset="trec"), "hotpotqa.jsonl:2: dataset 'trec' disagrees with the file name"),
        (dict(good, _id=""), "hotpotqa.jsonl:2: field '_id' is empty"),
        (dict(good, _id="x0"), "hotpotqa.jsonl:2: id 'x0' of task hotpotqa already appears at"),
        ("{not json", "hotpotqa.jsonl:2: invalid JSON"),
    ]
    for bad, message in cases:
        path = _write(tmp_path, "hotpotqa.jsonl", [dict(good, _id="x0"), bad])
        with pytest.raises(InputError, match=message.replace("(", r"\(")):
            longbench.read_longbench([path])
    path = _write(tmp_path, "mystery.jsonl", [dict(good, dataset="mystery")])
    with pytest.raises(InputError, match="mystery.jsonl:1: dataset 'mystery' is not a LongBench v1 task"):
        longbench.read_longbench([path])
    # LongBench-E names its datasets <task>_e
    path = _write(tmp_path, "hotpotqa_e.jsonl", [dict(good, dataset="hotpotqa_e")])
    assert longbench.read_longbench([path])[0].task == "hotpotqa"
    with pytest.raises(InputError, match="no sample of task"):
        longbench.select_samples(longbench.read_longbench([path]), ["trec"], None)


def test_generation_settings_follow_pred_py(assets):
    tokenizer = AutoTokenizer.from_pretrained(assets["llama"])

    class Model:
        class generation_config:
            eos_token_id = 1

    settings = longbench.generation_settings(tokenizer, Model, "samsum", 100)
    newline = tokenizer.encode("\n", add_special_tokens=False)[-1]
    assert settings == dict(max_new_tokens=128, num_beams=1, do_sample=False, temperature=1.0, min_length=101,
                            eos_token_id=[tokenizer.eos_token_id, newline])
    assert longbench.stop_token_ids(tokenizer, Model, settings) == {tokenizer.eos_token_id, newline}
    settings = longbench.generation_settings(tokenizer, Model, "hotpotqa", 100)
    assert settings["max_new_tokens"] == 32 and "eos_token_id" not in settings
    assert longbench.stop_token_ids(tokenizer, Model, settings) == {1}
