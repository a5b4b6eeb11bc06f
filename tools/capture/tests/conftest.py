"""Session fixtures: the tiny models, tokenizer and LongBench files (ckv_capture/tiny.py), the
ckv-sweep binary (CKV_SWEEP, set by ctest), and the installed console scripts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from ckv_capture import tiny


class Assets(dict):
    """The LongBench files and the tiny models by family (tiny.FAMILIES), each built on first use."""

    def __init__(self, root):
        super().__init__(longbench=tiny.write_longbench(str(root / "longbench")))
        self.root = root
        self.tokenizer = tiny.build_tokenizer(str(root / "tokenizer"))

    def __missing__(self, kind):
        self[kind] = tiny.build_model(kind, str(self.root / kind), self.tokenizer)
        return self[kind]


@pytest.fixture(scope="session")
def assets(tmp_path_factory):
    return Assets(tmp_path_factory.mktemp("assets"))


@pytest.fixture(scope="session")
def ckv_sweep():
    path = os.environ.get("CKV_SWEEP")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("CKV_SWEEP must name the ckv-sweep binary (ctest sets it; by hand: "
                    "CKV_SWEEP=build/tools/ckv_sweep/ckv-sweep)")
    return path


def console_script(name: str) -> str:
    """A command `pip install tools/capture` put beside this interpreter."""
    path = shutil.which(name, path=os.path.dirname(sys.executable))
    if path is None:
        pytest.fail(f"{name} is not installed beside {sys.executable} (pip install tools/capture)")
    return path


def run(command: list[str], expect: int = 0, cwd=None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd)
    if result.returncode != expect:
        raise AssertionError(f"{' '.join(map(str, command))} exited {result.returncode}, expected {expect}\n"
                             f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}")
    return result


def inspect(ckv_sweep: str, cache: str, sample: str, layer: int, method: str, **settings) -> dict:
    command = [ckv_sweep, "inspect", "--cache", cache, "--sample", sample, "--layer", str(layer), "--method", method]
    for key, value in settings.items():
        command += ["--set", f"{key}={value}"]
    return json.loads(run(command).stdout)
