"""What a new user meets first, with the installed commands: `ckv-capture --tiny-model` and
`--tiny-longbench` give a model and samples without downloading anything, and the user guide's
smoke test runs on them; the same model given by another path resumes its cache; Ctrl-C keeps
what was captured and says how to resume; a model missing from the local Hugging Face cache
gets how to download it."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time

from ckv_capture import cache_format, capture, generate, models

from conftest import console_script, inspect, run


def test_tiny_model_smoke_test_and_the_same_model_by_another_path(tmp_path, ckv_sweep, monkeypatch, capfd):
    # the user guide's first run with the installed commands, in tmp_path as the working directory
    capture_cmd = console_script("ckv-capture")
    made = run([capture_cmd, "--tiny-model", "tiny/llama", "--tiny-longbench", "tiny/longbench"], cwd=tmp_path)
    assert "ckv-capture --model tiny/llama --longbench tiny/longbench --out CACHE" in made.stderr
    assert all(os.path.isfile(tmp_path / "tiny/llama" / name) for name in ("config.json", "tokenizer.json"))
    assert sorted(os.listdir(tmp_path / "tiny/longbench")) == ["hotpotqa.jsonl", "trec.jsonl"]
    first = ["--longbench", "tiny/longbench", "--out", "tiny/cache", "--device", "cpu", "--max-length", "400"]
    run([capture_cmd, "--model", "tiny/llama", *first], cwd=tmp_path)
    index = cache_format.read_index(str(tmp_path / "tiny/cache"))
    assert len(index) == 5
    result = inspect(ckv_sweep, str(tmp_path / "tiny/cache"), "hp00", 0, "snapkv", budget=32, window=8)
    assert len(result["keep"]) == 2 and all(len(k) == 32 for k in result["keep"])

    # the rest in this process (each command started afresh costs seconds of imports)
    monkeypatch.chdir(tmp_path)
    capfd.readouterr()
    assert capture.main(["--tiny-model", "tiny/llama"]) == 1  # a non-empty directory is not built over
    assert "tiny/llama: exists and is not an empty directory" in capfd.readouterr().err
    # the same model by its absolute path, and by an identical copy, resumes the cache
    absolute = str(tmp_path / "tiny/llama")
    assert capture.main(["--model", absolute, *first]) == 0
    assert "0 sample(s) to capture (5 already in tiny/cache)" in capfd.readouterr().err
    assert capture.main(["--tiny-model", "copy"]) == 0  # seeded: the same files again, elsewhere
    a, b = models.identity("copy"), models.identity(absolute)
    assert (a.config_hash, a.tokenizer_hash) == (b.config_hash, b.tokenizer_hash) and a.resolved != b.resolved
    assert capture.main(["--model", "copy", *first]) == 0
    manifest = json.loads((tmp_path / "tiny/cache/capture.json").read_text())
    assert manifest["model"] == "tiny/llama" and manifest["model_path"] == os.path.realpath(absolute)
    # ...while another model is refused, naming both
    assert capture.main(["--tiny-model", "tiny/qwen2", "--tiny-family", "qwen2"]) == 0
    capfd.readouterr()
    assert capture.main(["--model", "tiny/qwen2", *first]) == 1
    assert ("this cache was captured from another model: 'tiny/llama' there, 'tiny/qwen2' now (different "
            "config.json); give the model it was captured from") in capfd.readouterr().err

    # ckv-generate takes the model by either path, into one prediction directory
    with open("keep.jsonl", "w") as f:
        for e in index:
            f.write(json.dumps({"id": e["id"], "task": e["task"], "config_hash": "ab" * 32,
                                "layers": {str(layer): list(range(e["n_tokens"])) for layer in e["layers"]}}) + "\n")
    common = ["--longbench", "tiny/longbench", "--cache", "tiny/cache", "--keep", "keep.jsonl", "--out", "tiny/pred",
              "--device", "cpu", "--tasks", "trec"]
    assert generate.main(["--model", "tiny/llama", *common]) == 0
    capfd.readouterr()
    assert generate.main(["--model", absolute, *common]) == 0
    assert "0 sample(s) to generate (2 already in tiny/pred)" in capfd.readouterr().err
    assert generate.main(["--model", "tiny/qwen2", *common]) == 1
    assert ("its config.json differs from the one the cache tiny/cache was captured with (tiny/llama)"
            in capfd.readouterr().err)


def _interrupted_capture(assets, tmp_path, total, signals, number=signal.SIGINT):
    """ckv-capture of `total` copies of one sample, sent `signals` signals `number` once the first
    is in the index; returns (argv, err, kept index entries)."""
    capture_cmd = console_script("ckv-capture")
    lines = [json.loads(line) for line in open(os.path.join(assets["longbench"], "hotpotqa.jsonl"))][:1] * total
    lb = tmp_path / "lb"
    lb.mkdir()
    (lb / "hotpotqa.jsonl").write_text("".join(json.dumps(dict(line, _id=f"s{k:02d}")) + "\n"
                                               for k, line in enumerate(lines)))
    cache = tmp_path / "cache"
    argv = ["--model", assets["llama"], "--longbench", str(lb), "--out", str(cache), "--device", "cpu",
            "--dtype", "float32", "--max-length", "400", "--query-rows", "64", "--overwrite"]
    process = subprocess.Popen([capture_cmd, *argv], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while not cache_format.read_index(str(cache)) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    for _ in range(signals):
        process.send_signal(number)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 128 + number, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and "Exception ignored" not in err, err
    kept = cache_format.read_index(str(cache))
    assert 1 <= len(kept) < total
    assert f"{len(kept)} sample(s) are in {cache}, {total - len(kept)} of the {total} selected still to capture" in err
    # nothing half-written is left, and every kept sample is whole
    assert not [name for _, _, names in os.walk(cache) for name in names if ".tmp." in name]
    assert all(os.path.getsize(cache / e["path"]) == e["file_size"] for e in kept)
    return argv, err, kept


def test_ctrl_c_keeps_the_captured_samples_and_says_how_to_resume(assets, tmp_path):
    # enough samples (about 50 a second here) that the run is still going when the signal comes
    total = 40
    argv, err, kept = _interrupted_capture(assets, tmp_path, total, signals=1)
    # one Ctrl-C is a request, never lost: Python's own KeyboardInterrupt, raised inside a
    # tokenizer's __del__, was dropped there ("Exception ignored") and the run went on to the end
    assert "ckv-capture: Ctrl-C: stopping once the sample in progress is written (Ctrl-C again to stop at once)" in err
    cache = argv[argv.index("--out") + 1]
    assert f"ckv-capture: interrupted; {len(kept)} sample(s) are in {cache}, " in err, err
    # the printed command resumes (--overwrite left out: it would capture the kept ones again)
    resume = err.split("Resume (from this directory) with: ")[1].strip()
    words = shlex.split(resume)
    assert words[0] == "ckv-capture" and "--overwrite" not in words and words[1:] == argv[:-1]
    resumed = run([console_script("ckv-capture"), *words[1:]])
    assert f"{total - len(kept)} sample(s) to capture ({len(kept)} already in {cache})" in resumed.stderr
    assert len(cache_format.read_index(cache)) == total


def test_slurms_sigterm_stops_a_capture_like_ctrl_c(assets, tmp_path):
    # a time limit or scancel: SIGTERM, then SIGKILL KillWait seconds later (30 by default)
    _, err, _ = _interrupted_capture(assets, tmp_path, 40, signals=1, number=signal.SIGTERM)
    assert "ckv-capture: SIGTERM: stopping once the sample in progress is written (SIGTERM again" in err
    assert "Resume (from this directory) with: ckv-capture " in err


def test_a_second_ctrl_c_stops_at_once_and_still_leaves_whole_samples(assets, tmp_path):
    # the second signal either finds the sample in progress (abandoned, or kept when it came while
    # the file was being written) or, should the first stop come first, nothing left to interrupt
    _, err, _ = _interrupted_capture(assets, tmp_path, 40, signals=2)
    assert "Resume (from this directory) with: ckv-capture " in err


class _CtrlCInDel:
    """Ctrl-C that arrives while a __del__ runs (the CI failure: a tokenizer's regex objects have
    one): Python's own KeyboardInterrupt raised there is dropped as "Exception ignored"."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)


def test_a_ctrl_c_that_lands_in_a_destructor_still_stops_the_capture(assets, tmp_path, monkeypatch, capfd):
    real = capture.capture_one
    calls = []

    def capture_one(*args):
        calls.append(1)
        if len(calls) == 1:
            _CtrlCInDel()  # dropped at once: its __del__ sends the signal
        return real(*args)

    monkeypatch.setattr(capture, "capture_one", capture_one)
    cache = tmp_path / "cache"
    argv = ["--model", assets["llama"], "--longbench", assets["longbench"], "--out", str(cache), "--device", "cpu",
            "--max-length", "400", "--query-rows", "64"]
    assert capture.main(argv) == capture.EXIT_INTERRUPTED
    err = capfd.readouterr().err
    # the sample in progress is finished and kept, and no other is started
    assert len(calls) == 1 and len(cache_format.read_index(str(cache))) == 1
    assert "Ctrl-C: stopping once the sample in progress is written" in err
    assert f"interrupted; 1 sample(s) are in {cache}, 4 of the 5 selected still to capture" in err, err
    assert "Exception ignored" not in err and "KeyboardInterrupt" not in err
    monkeypatch.setattr(capture, "capture_one", real)
    assert capture.main(argv) == 0
    assert "4 sample(s) to capture (1 already in" in capfd.readouterr().err


def test_a_model_missing_from_the_hugging_face_cache_says_how_to_download_it(assets, tmp_path, capfd):
    # with the installed command, in an empty Hugging Face home
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    argv = ["--model", "some-org/some-model", "--longbench", assets["longbench"], "--out", str(tmp_path / "c"),
            "--device", "cpu"]
    result = subprocess.run([console_script("ckv-capture"), *argv], capture_output=True, text=True, env=env)
    assert result.returncode == 1, result.stderr
    hub = tmp_path / "hf" / "hub"
    assert (f"ckv-capture: --model some-org/some-model: not in the local Hugging Face cache ({hub}), "
            "and no directory of that name. Nothing is downloaded at run time: download it beforehand with "
            "`hf download some-org/some-model`") in result.stderr, result.stderr
    assert "HF_HOME" in result.stderr and "connect" not in result.stderr and "Traceback" not in result.stderr
    # ckv-generate says the same
    keep = tmp_path / "keep.jsonl"
    keep.write_text(json.dumps({"id": "hp00", "task": "hotpotqa", "config_hash": "ab" * 32,
                                "layers": {"0": [0]}}) + "\n")
    assert generate.main([*argv, "--keep", str(keep)]) == 1
    err = capfd.readouterr().err
    assert "ckv-generate: --model some-org/some-model: not in the local Hugging Face cache" in err
    assert "`hf download some-org/some-model`" in err
    # a path that does not exist is named as one
    assert capture.main(["--model", "./no/such/model", "--longbench", assets["longbench"], "--out",
                         str(tmp_path / "c")]) == 1
    assert "--model ./no/such/model: no such directory (" in capfd.readouterr().err
