#!/usr/bin/env bash
# Quick start 1: set up, run the demo campaign end to end (embedded, this machine), print its report.
# Builds only ckv-sweep, and CUDA code only when a GPU is visible or CKV_CUDA=ON is given
# (scripts/setup.sh), as a unity build: about 6 CPU-minutes of compiling (3 min on 2 idle cores).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh ckv-sweep
sweep=build/tools/ckv_sweep/ckv-sweep
echo "== running sweeps/demo.toml (generates the synthetic cache on first use; usually 10-20 s)"
$sweep sweeps/demo.toml
echo
$sweep status results/demo.sqlite
echo
$sweep report results/demo.sqlite --campaign demo --metric attn_recall
echo
$sweep report results/demo.sqlite --campaign demo --metric evidence_recall
