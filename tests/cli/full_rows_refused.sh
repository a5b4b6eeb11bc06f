#!/usr/bin/env bash
# On a cache that holds window rows only, configurations that read every attention row (h2o with
# rows = "all", the graph methods with graph = "full", rc, rwr) are refused at planning by `plan`
# and `run` alike, each named by its label and method with the reason, before any unit starts; the
# window-row configurations of the same cache plan and run. Usage: full_rows_refused.sh CKV_SWEEP WORKDIR
set -euo pipefail
sweep=$1; work=$2
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
"$sweep" synth --out cache --tasks synth-needle --samples 1 --tokens 256 --heads 4 --kv-heads 2 \
  --head-dim 32 --layers 0 --num-layers-model 2 --answer-tokens 4 --query-rows 32 --seed 3 >/dev/null

header='[campaign]
name = "rows"
database = "rows.sqlite"

[data]
cache = "cache"
'
cat > refused.toml <<EOF2
$header
[[methods]]
name = "h2o"
label = "h2o_all"

[[methods]]
name = "circuitkv_walk"
label = "walk_full"
graph = "full"

[[methods]]
name = "rwr"

[[methods]]
name = "snapkv"

[[grid]]
budget = [64]
window = [16]
EOF2
for command in plan run; do
  set +e
  if [[ $command == plan ]]; then "$sweep" plan refused.toml >"$command.log" 2>&1
  else "$sweep" refused.toml --progress off >"$command.log" 2>&1; fi
  code=$?; set -e
  [[ $code -eq 1 ]] || fail "$command: exit $code, expected 1: $(cat "$command.log")"
  for part in "cache 'cache' holds window rows only (sample synth-needle/synth-needle-0: 32 of" \
              "refused.toml:8:1: method 'h2o_all' (h2o): rows = \"all\" sums every attention row" \
              "refused.toml:12:1: method 'walk_full' (circuitkv_walk): graph = \"full\" walks on every attention row" \
              "refused.toml:17:1: method 'rwr': its token graph compares the queries of every position" \
              "--query-rows all"; do
    grep -qF -- "$part" "$command.log" || fail "$command: message lacks '$part': $(cat "$command.log")"
  done
  grep -q "snapkv" "$command.log" && fail "$command: snapkv (window rows) named as refused: $(cat "$command.log")"
  [[ ! -e rows.sqlite ]] || fail "$command: the refused campaign created its database"
done

# The window-row methods of the same cache plan and run.
cat > runnable.toml <<EOF2
$header
[[methods]]
name = "h2o"
rows = "window"
window = 16

[[methods]]
name = "snapkv"
window = 16

[[grid]]
budget = [64]
EOF2
"$sweep" plan runnable.toml >plan-ok.log 2>&1 || fail "plan of window-row methods: $(cat plan-ok.log)"
"$sweep" runnable.toml --progress off >run-ok.log 2>&1 || fail "run of window-row methods: $(tail -5 run-ok.log)"
[[ $(sqlite3 -readonly rows.sqlite "select count(*) from units where state = 'done'") == 2 ]] ||
  fail "expected 2 done units: $(sqlite3 -readonly rows.sqlite 'select state, count(*) from units group by state')"
echo "full_rows_refused: passed"
