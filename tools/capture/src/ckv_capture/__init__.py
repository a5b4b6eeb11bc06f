"""ckv-capture: the Python half of docs/spec/MISSION.md R11.

`ckv-capture` turns a Hugging Face causal LM plus LongBench v1 JSONL into an attention cache
(docs/spec/DATA.md, format `ckv-cache/1`) that `ckv-sweep` replays; `ckv-generate` generates LongBench
answers under the keep-sets `ckv-sweep export-keep` writes, for `ckv-sweep import-predictions`.
"""

__version__ = "0.1.0"
CAPTURE_VERSION = f"ckv-capture/{__version__}"
