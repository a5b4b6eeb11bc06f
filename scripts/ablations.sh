#!/usr/bin/env bash
# Runs the ablation campaigns A1-A7 of seed 001 embedded on their synthetic caches (generated on
# first use) into results/ablations.sqlite and prints each one's tables, as in docs/ablations.md.
# Units shared between campaigns (e.g. the default walk appears in A1, A2, A3, A5, A7) run once.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/tools/ckv_sweep/ckv-sweep ]] || scripts/setup.sh ckv-sweep
sweep=build/tools/ckv_sweep/ckv-sweep
for a in a1 a2 a3 a4 a5 a6 a7; do
  "$sweep" "sweeps/$a.toml" --progress off
done
for a in a1 a2 a3 a4 a5 a6 a7; do
  for metric in attn_recall evidence_recall; do
    echo
    "$sweep" report results/ablations.sqlite --campaign "$a" --metric "$metric" --precision 3
  done
done
