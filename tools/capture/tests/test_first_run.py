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


def test_ctrl_c_keeps_the_captured_samples_and_says_how_to_resume(assets, tmp_path):
    capture_cmd = console_script("ckv-capture")
    # enough samples that the run is still going when the first one is in the index
    lines = [json.loads(line) for line in open(os.path.join(assets["longbench"], "hotpotqa.jsonl"))][:1] * 12
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
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    kept = cache_format.read_index(str(cache))
    assert 1 <= len(kept) < 12
    assert f"{len(kept)} sample(s) are in {cache}, {12 - len(kept)} of the 12 selected still to capture" in err, err
    # nothing half-written is left, and every kept sample is whole
    assert not [name for _, _, names in os.walk(cache) for name in names if ".tmp." in name]
    assert all(os.path.getsize(cache / e["path"]) == e["file_size"] for e in kept)
    # the printed command resumes (--overwrite left out: it would capture the kept ones again)
    resume = err.split("Resume (from this directory) with: ")[1].strip()
    words = shlex.split(resume)
    assert words[0] == "ckv-capture" and "--overwrite" not in words and words[1:] == argv[:-1]
    resumed = run([capture_cmd, *words[1:]])
    assert f"{12 - len(kept)} sample(s) to capture ({len(kept)} already in {cache})" in resumed.stderr
    assert len(cache_format.read_index(str(cache))) == 12


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
