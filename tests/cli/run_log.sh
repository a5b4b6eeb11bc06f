#!/usr/bin/env bash
# What a run's log says: the absolute paths of the spec, database and cache at the
# start, and one "nothing is evicted" warning per sample of the campaign (not one per unit, layer
# or budget). Usage: run_log.sh CKV_SWEEP WORKDIR
set -euo pipefail
sweep=$1; work=$2
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
# Budgets above every sample's length (n is about 256): nothing is ever evicted.
sed 's/budget = \[96, 128\]/budget = [512, 1024]/' "$OLDPWD/tests/data/cli/small.toml" > small.toml
"$sweep" small.toml --progress off >run.log 2>&1 || fail "run exited $?: $(tail -3 run.log)"
grep -q "campaign 'small': spec $PWD/small.toml, database $PWD/small.sqlite, cache $PWD/cache" run.log \
  || fail "no absolute paths at the start: $(head -5 run.log)"
n=$(grep -c "nothing is evicted" run.log || true)
[[ $n -eq 4 ]] || fail "expected one 'nothing is evicted' warning per sample (4), got $n: $(grep 'nothing is evicted' run.log)"
for sample in synth-multihop/synth-multihop-0 synth-multihop/synth-multihop-1 synth-needle/synth-needle-0 synth-needle/synth-needle-1; do
  grep -q "$sample: n = [0-9]* tokens <= budget 512, 1024: nothing is evicted (kept = n)" run.log || fail "no warning for $sample: $(grep evicted run.log)"
done
echo "run_log: all checks passed"
