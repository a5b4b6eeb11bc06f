"""ckv-generate: keep-all generation is plain greedy generation, token for token, whatever form
the keep-sets take; eviction changes what is generated; bad keep-set files are refused naming
the line."""

from __future__ import annotations

import json
import os
import shlex
import signal

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ckv_capture import attention, cache_format, capture, generate, keepsets, longbench, models
from ckv_capture.errors import InputError

HASH = "ab" * 32


@pytest.fixture(scope="module", params=("llama", "qwen2"))
def captured(request, assets, tmp_path_factory):
    kind = request.param
    out = tmp_path_factory.mktemp(f"cache-{kind}")
    argv = ["--model", assets[kind], "--longbench", assets["longbench"], "--out", str(out), "--device", "cpu",
            "--dtype", "float32", "--max-length", "400", "--query-rows", "64", "--samples", "2"]
    assert capture.main(argv) == 0
    return kind, str(out), cache_format.read_index(str(out))


def _write_keep(path, entries, rows_of):
    with open(path, "w") as f:
        for e in entries:
            layers = {str(layer): rows_of(e["n_tokens"]) for layer in e["layers"]}
            f.write(json.dumps({"id": e["id"], "task": e["task"], "config_hash": HASH, "layers": layers}) + "\n")
    return str(path)


def _plain_greedy(model_dir, prompt_ids, task, tokenizer):
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    ids = torch.tensor([prompt_ids])
    settings = longbench.generation_settings(tokenizer, model, task, len(prompt_ids))
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), pad_token_id=tokenizer.pad_token_id, **settings)
    return out[0, len(prompt_ids):].tolist()


def test_keep_all_generation_is_plain_greedy_generation(captured, assets, tmp_path):
    kind, cache, index = captured
    config = models.load_config(assets[kind])
    G, H = config.num_key_value_heads, config.num_attention_heads
    keep = _write_keep(tmp_path / "keep.jsonl", index, lambda n: [list(range(n))] * G)
    pred = tmp_path / "pred"
    assert generate.main(["--model", assets[kind], "--longbench", assets["longbench"], "--keep", keep,
                          "--out", str(pred), "--cache", cache, "--device", "cpu"]) == 0
    tokenizer = AutoTokenizer.from_pretrained(assets[kind])
    samples = {(s.task, s.id): s for s in longbench.read_longbench([assets["longbench"]])}
    predictions = {}
    for task in ("hotpotqa", "trec"):
        for line in open(pred / f"{task}.jsonl"):
            record = json.loads(line)
            predictions[(task, record["_id"])] = record
            assert record["answers"] == samples[(task, record["_id"])].answers
    assert sorted(predictions) == sorted((e["task"], e["id"]) for e in index)

    # In process, the three accepted forms of a keep-all line (G lists, H lists, one shared list)
    # give the same tokens as plain greedy generation with the stock attention.
    model, tokenizer, _ = models.load(assets[kind], torch.device("cpu"), "float32", "sdpa")
    session = attention.AttentionSession(model)
    for entry in index:
        sample = samples[(entry["task"], entry["id"])]
        prompt = longbench.build_prompt(tokenizer, sample, 400, "auto")
        n = len(prompt.input_ids)
        plain = _plain_greedy(assets[kind], prompt.input_ids, sample.task, tokenizer)
        assert predictions[(sample.task, sample.id)]["pred"] == tokenizer.decode(plain, skip_special_tokens=True)
        for rows in ([list(range(n))] * G, [list(range(n))] * H, list(range(n))):
            line = keepsets.KeepLine(sample.id, sample.task, HASH, {layer: (rows if isinstance(rows[0], list) else [rows])
                                                                    for layer in range(config.num_hidden_layers)}, "x:1")
            masks = keepsets.keep_masks(line, config.num_hidden_layers, H, G, n)
            _, tokens = generate_tokens(model, tokenizer, session, sample, prompt, masks)
            stop = longbench.stop_token_ids(tokenizer, model, longbench.generation_settings(tokenizer, model, sample.task, n))
            assert tokens == (plain[:-1] if plain and plain[-1] in stop else plain), (entry["id"], len(rows))


def generate_tokens(model, tokenizer, session, sample, prompt, masks):
    return generate.generate_one(model, tokenizer, session, sample, prompt, masks)


def test_eviction_changes_generation_and_reruns_resume(captured, assets, tmp_path, capfd):
    kind, cache, index = captured
    G = models.load_config(assets[kind]).num_key_value_heads
    pred_all, pred_few = tmp_path / "all", tmp_path / "few"
    for rows_of, out in ((lambda n: [list(range(n))] * G, pred_all), (lambda n: [list(range(4)) + list(range(n - 8, n))] * G, pred_few)):
        keep = _write_keep(tmp_path / f"{out.name}.jsonl", index, rows_of)
        assert generate.main(["--model", assets[kind], "--longbench", assets["longbench"], "--keep", keep,
                              "--out", str(out), "--cache", cache, "--device", "cpu"]) == 0
    def preds(d):
        return {json.loads(text)["_id"]: json.loads(text)["pred"] for t in ("hotpotqa", "trec") for text in open(d / f"{t}.jsonl")}
    full, few = preds(pred_all), preds(pred_few)
    assert full.keys() == few.keys() and any(full[k] != few[k] for k in full)
    # a rerun skips what is there; another configuration into the same directory is refused
    capfd.readouterr()
    keep = str(tmp_path / "few.jsonl")
    assert generate.main(["--model", assets[kind], "--longbench", assets["longbench"], "--keep", keep,
                          "--out", str(pred_few), "--cache", cache, "--device", "cpu"]) == 0
    assert "0 sample(s) to generate (4 already in" in capfd.readouterr().err
    # the unfinished last line a killed run leaves is dropped and its sample generated again
    trec = pred_few / "trec.jsonl"
    whole = trec.read_bytes()
    trec.write_bytes(whole[:-20])
    assert generate.main(["--model", assets[kind], "--longbench", assets["longbench"], "--keep", keep,
                          "--out", str(pred_few), "--cache", cache, "--device", "cpu"]) == 0
    err = capfd.readouterr().err
    assert f"{trec}: dropped an unfinished last line" in err and "1 sample(s) to generate (3 already in" in err, err
    assert trec.read_bytes() == whole
    other = tmp_path / "other.jsonl"
    other.write_text(open(keep).read().replace(HASH, "cd" * 32))
    assert generate.main(["--model", assets[kind], "--longbench", assets["longbench"], "--keep", str(other),
                          "--out", str(pred_few), "--cache", cache, "--device", "cpu"]) == 1
    assert "holds predictions of configuration abababababab" in capfd.readouterr().err


def test_bad_keep_sets_are_refused_naming_the_line(captured, assets, tmp_path, capfd):
    kind, cache, index = captured
    config = models.load_config(assets[kind])
    L, G, H = config.num_hidden_layers, config.num_key_value_heads, config.num_attention_heads
    entry = index[0]
    n = entry["n_tokens"]
    good = {"id": entry["id"], "task": entry["task"], "config_hash": HASH,
            "layers": {str(layer): [list(range(n))] * G for layer in range(L)}}

    def refused(line, message, extra_lines=()):
        path = tmp_path / "bad.jsonl"
        path.write_text("".join(json.dumps(entry) + "\n" for entry in (*extra_lines, line)))
        code = generate.main(["--model", assets[kind], "--longbench", assets["longbench"], "--keep", str(path),
                              "--out", str(tmp_path / "p"), "--cache", cache, "--device", "cpu"])
        err = capfd.readouterr().err
        assert code == 1 and message in err, err
        assert not (tmp_path / "p").exists()  # refused before anything is generated

    where = f"{tmp_path}/bad.jsonl:1"
    missing = dict(good, layers={k: v for k, v in good["layers"].items() if k != str(L - 1)})
    refused(missing, f"{where}: sample '{entry['id']}': the keep-sets cover layers {list(range(L - 1))} but the model "
                     f"has {L} (missing: [{L - 1}])")
    three = dict(good, layers=dict(good["layers"], **{"0": [list(range(n))] * (G + 1)}))
    refused(three, f"{where}: layer 0 has {G + 1} keep lists; expected {G} (one per KV head), {H} (one per query "
                   "head) or 1 (shared)")
    outside = dict(good, layers=dict(good["layers"], **{"1": [[0, n]] * G}))
    refused(outside, f"{where}: layer 1, list 0: token {n} is outside the prompt [0, {n})")
    refused(dict(good, layers=dict(good["layers"], **{"0": [[0, "1"]] * G})),
            f"{where}: layer 0: expected a list of token indices or a list of such lists")
    refused(dict(good, layers=dict(good["layers"], **{"0": [[0, 0, 1]] * G})), f"{where}: layer 0, list 0: a token is listed twice")
    refused(dict(good, id="nope"), f"{where}: sample 'nope' of task {entry['task']} is not in the LongBench files")
    other = dict(good, id=index[1]["id"], task=index[1]["task"], config_hash="cd" * 32,
                 layers={str(layer): [list(range(index[1]["n_tokens"]))] * G for layer in range(L)})
    refused(other, f"{tmp_path}/bad.jsonl:2: configuration cdcdcdcdcdcd differs from {tmp_path}/bad.jsonl:1's",
            extra_lines=(good,))
    refused(dict(good, layers={}), f"{where}: field 'layers' must be an object")
    # prompts rebuilt with other settings than the capture's are caught against input_ids
    path = tmp_path / "good.jsonl"
    path.write_text(json.dumps(good) + "\n")
    code = generate.main(["--model", assets[kind], "--longbench", assets["longbench"], "--keep", str(path),
                          "--out", str(tmp_path / "p"), "--cache", cache, "--device", "cpu", "--max-length", "300"])
    err = capfd.readouterr().err
    assert code == 1 and "differs from the captured input_ids" in err, err


def test_keep_masks_expand_kv_heads_to_their_query_heads():
    line = keepsets.KeepLine("s", "trec", HASH, {0: [[0, 1], [2]]}, "k:1")
    masks = keepsets.keep_masks(line, 1, 4, 2, 3)
    session = attention.AttentionSession.__new__(attention.AttentionSession)
    session.num_heads, session.num_kv_heads = 4, 2
    attention.AttentionSession.set_keep(session, masks, 3)
    # query heads 0, 1 read KV head 0; 2, 3 read KV head 1 (transformers' repeat_kv, ckv-sweep's kv_head)
    assert session.keep[0].tolist() == [[True, True, False]] * 2 + [[False, False, True]] * 2
    with pytest.raises(InputError, match="missing"):
        keepsets.keep_masks(line, 2, 4, 2, 3)


def test_ctrl_c_stops_generation_after_the_prediction_in_progress(captured, assets, tmp_path, monkeypatch, capfd):
    kind, cache, index = captured
    G = models.load_config(assets[kind]).num_key_value_heads
    keep = _write_keep(tmp_path / "keep.jsonl", index, lambda n: [list(range(n))] * G)
    out = tmp_path / "pred"
    real, calls = generate.generate_one, []

    def generate_one(*args):
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args)

    monkeypatch.setattr(generate, "generate_one", generate_one)
    argv = ["--model", assets[kind], "--longbench", assets["longbench"], "--keep", keep, "--out", str(out),
            "--cache", cache, "--device", "cpu", "--overwrite"]
    capfd.readouterr()
    assert generate.main(argv) == generate.EXIT_INTERRUPTED
    err = capfd.readouterr().err
    assert len(calls) == 1 and sum(len(open(p).readlines()) for p in out.glob("*.jsonl")) == 1
    assert "ckv-generate: Ctrl-C: stopping once the sample in progress is written" in err
    assert f"interrupted; 1 prediction(s) written to {out} by this run, 3 of the 4 still to generate" in err, err
    resume = err.split("Resume with: ")[1].strip()
    assert "--overwrite" not in resume and shlex.split(resume)[1:] == argv[:-1]
    # a second Ctrl-C stops at once; the lines written are whole
    calls.clear()

    def twice(*args):
        calls.append(1)
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        return real(*args)

    monkeypatch.setattr(generate, "generate_one", twice)
    assert generate.main(shlex.split(resume)[1:]) == generate.EXIT_INTERRUPTED
    assert f"interrupted; 0 prediction(s) written to {out} by this run, 3 of the 4" in capfd.readouterr().err
    # SIGUSR1 (sbatch --signal=B:USR1@120) stops it the same way, exit 128 + 10
    calls.clear()
    monkeypatch.setattr(generate, "generate_one", lambda *args: (os.kill(os.getpid(), signal.SIGUSR1), real(*args))[1])
    assert generate.main(shlex.split(resume)[1:]) == 128 + signal.SIGUSR1
    assert "ckv-generate: SIGUSR1: stopping once the sample in progress is written" in capfd.readouterr().err
    monkeypatch.setattr(generate, "generate_one", real)
    assert generate.main(shlex.split(resume)[1:]) == 0
    assert "2 sample(s) to generate (2 already in" in capfd.readouterr().err
