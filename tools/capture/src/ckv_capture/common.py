"""What ckv-capture and ckv-generate share: options, the cache manifest, progress, exit codes."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

from .errors import InputError

# Room the default --max-length leaves after the prompt: the longest LongBench answer
# (dataset2maxlen.json: 512 new tokens) plus a chat template's few tokens.
_ANSWER_ROOM = 512 + 64


def default_max_length(config) -> int:
    limit = getattr(config, "max_position_embeddings", None)
    if not limit or limit - _ANSWER_ROOM < 256:
        raise InputError(f"the model's max_position_embeddings ({limit}) leaves no room for a default "
                         "--max-length; give --max-length")
    return limit - _ANSWER_ROOM


MANIFEST = "capture.json"
# The model, by its identity (models.Identity: how --model spells it does not matter), and the
# settings every sample of one cache directory must share: mixing them would mix prompts,
# answers or models under one task name.
MODEL_KEYS = ("model_config_sha256", "tokenizer_sha256")
MANIFEST_KEYS = MODEL_KEYS + ("answer", "max_length", "chat", "query_rows", "layers", "dtype")


def check_manifest(cache_dir: str, manifest: dict) -> None:
    """Writes `capture.json` for a new cache, or requires an existing one to agree."""
    path = os.path.join(cache_dir, MANIFEST)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            existing = json.load(f)
        if any(existing.get(k) != manifest.get(k) for k in MODEL_KEYS):
            which = " and ".join(name for k, name in zip(MODEL_KEYS, ("config.json", "tokenizer files"), strict=True)
                                 if existing.get(k) != manifest.get(k))
            raise InputError(f"{path}: this cache was captured from another model: {existing.get('model')!r} there, "
                             f"{manifest.get('model')!r} now (different {which}); give the model it was captured "
                             "from, or capture this one into another --out directory")
        differing = [k for k in MANIFEST_KEYS if existing.get(k) != manifest.get(k)]
        if differing:
            details = "; ".join(f"{k}: {existing.get(k)!r} there, {manifest.get(k)!r} now" for k in differing)
            raise InputError(f"{path}: this cache was captured with other settings ({details}); "
                             "capture with its settings to resume it, or into another --out directory")
        return
    temp = f"{path}.tmp.{os.getpid()}"
    with open(temp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(temp, path)


# What stops a capture or a generation: Ctrl-C, Slurm's SIGTERM at a time limit or scancel, and
# the SIGUSR1 that `sbatch --signal=B:USR1@120` sends ahead of it (as for ckv-sweep, docs/slurm.md).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)


def signal_label(number: int) -> str:
    return "Ctrl-C" if number == signal.SIGINT else signal.Signals(number).name


@contextmanager
def _stop_handlers(handler):
    """`handler` for every stop signal inside the block, the previous handlers back after it;
    yields {signal: previous handler}. Only the main thread can take signals: elsewhere nothing is
    installed and the dict is empty."""
    if threading.current_thread() is not threading.main_thread():
        yield {}
        return
    previous = {number: signal.signal(number, handler) for number in STOP_SIGNALS}
    try:
        yield previous
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


@contextmanager
def interrupts_held():
    """The stop signals wait until the block is done, then go to the handler they would have met:
    what the block writes is written whole."""
    received = []
    with _stop_handlers(lambda number, frame: received.append(number)) as previous:
        yield
    for number in received:  # handed to the handler the block held back (StopRequest's, say)
        handler = previous[number]
        if callable(handler):  # Python's own SIGINT handler among them: KeyboardInterrupt
            handler(number, None)
        elif handler == signal.SIG_DFL:
            signal.raise_signal(number)  # the default action, now that the block is whole: the process ends


class StopRequest:
    """A stop signal (STOP_SIGNALS) in a loop over samples: the first asks the loop to stop once
    the sample in progress is written (`requested`, checked between samples; `exit_code` is 128 +
    its number, as a shell reports a command that signal ended), a second interrupts at once
    (KeyboardInterrupt).

    Python's own SIGINT handler raises KeyboardInterrupt in whatever code runs when the signal
    comes; inside a __del__ (a tokenizer's regex objects have them) the exception is printed as
    "Exception ignored" and dropped, and the run went on as if no Ctrl-C had come. A flag cannot
    be dropped."""

    def __init__(self, say):
        self.say = say
        self.requested = False
        self.number = signal.SIGINT
        self._handlers = _stop_handlers(self._handle)

    @property
    def exit_code(self) -> int:
        return 128 + self.number

    def __enter__(self):
        self._handlers.__enter__()
        return self

    def __exit__(self, *exc):
        return self._handlers.__exit__(*exc)

    def _handle(self, number, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested, self.number = True, number
        name = signal_label(number)
        self.say(f"{name}: stopping once the sample in progress is written ({name} again to stop at once)")


def read_manifest(cache_dir: str) -> dict | None:
    path = os.path.join(cache_dir, MANIFEST)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def parse_shard(text: str | None) -> tuple[int, int]:
    if text is None:
        return 0, 1
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise InputError(f"--shard expects I/N (e.g. 0/8), got '{text}'") from None
    if count < 1 or not 0 <= index < count:
        raise InputError(f"--shard {text}: need 0 <= I < N")
    return index, count


class Progress:
    """Samples done and tokens per second: a bar on a terminal, a line every 30 s in a batch log
    (the convention of ckv-sweep's own progress, docs/spec/MISSION.md R10)."""

    def __init__(self, total: int, what: str):
        from tqdm import tqdm

        interactive = sys.stderr.isatty()
        self.bar = tqdm(total=total, unit="sample", desc=what, file=sys.stderr, dynamic_ncols=interactive,
                        mininterval=0.5 if interactive else 30.0, disable=total == 0)
        self.tokens = 0
        self.start = time.monotonic()

    def advance(self, tokens: int):
        self.tokens += tokens
        elapsed = max(time.monotonic() - self.start, 1e-9)
        self.bar.set_postfix_str(f"{self.tokens / elapsed:,.0f} tok/s", refresh=False)
        self.bar.update(1)

    def write(self, message: str):
        self.bar.write(message, file=sys.stderr)

    def close(self):
        self.bar.close()
