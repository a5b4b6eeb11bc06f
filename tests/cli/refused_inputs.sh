#!/usr/bin/env bash
# What planning can know is refused by the real binary before any work: a sample listed
# twice in index.jsonl (an appended capture), an empty index, an index line that disagrees with
# its file, layers the cache did not capture. Each exits 1 with one message naming the index line
# or the spec, and no database is created. Usage: refused_inputs.sh CKV_SWEEP WORKDIR
set -euo pipefail
sweep=$1; work=$2
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
cp "$OLDPWD/tests/data/cli/small.toml" small.toml
"$sweep" synth --out cache --tasks synth-multihop synth-needle --samples 2 --tokens 256 --heads 4 --kv-heads 2 \
  --head-dim 32 --layers 0 1 --num-layers-model 4 --answer-tokens 4 --seed 7 >/dev/null
cp cache/index.jsonl index.good

refused() {  # NAME MESSAGE [SPEC]
  local spec=${3:-small.toml}
  set +e; "$sweep" "$spec" --progress off >"$1.log" 2>&1; local code=$?; set -e
  [[ $code -eq 1 ]] || fail "$1: exit $code, expected 1: $(tail -3 "$1.log")"
  grep -qF -- "$2" "$1.log" || fail "$1: message lacks '$2': $(cat "$1.log")"
  grep -q "attempt in progress\|terminate called" "$1.log" && fail "$1: an internal error instead of a message: $(cat "$1.log")"
  [[ ! -e small.sqlite ]] || fail "$1: the refused run created its database"
}

# An appended (resumed) capture: the first line again at the end.
{ cat index.good; head -1 index.good; } > cache/index.jsonl
refused duplicate "cache/index.jsonl:5: sample synth-multihop/synth-multihop-0 is listed twice (first at line 1)"
# An empty index.
: > cache/index.jsonl
refused empty "cache/index.jsonl: the index is empty"
# n_tokens in the index disagrees with the file.
python3 - <<'PY'
import json
lines = [json.loads(l) for l in open("index.good")]
lines[2]["n_tokens"] += 1
open("cache/index.jsonl", "w").write("".join(json.dumps(l) + "\n" for l in lines))
PY
refused disagreement "cache/index.jsonl:3: sample synth-needle/synth-needle-0: n_tokens is"
# A layer the cache did not capture.
cp index.good cache/index.jsonl
sed '/data.synthetic/,/seed = 7/d; s/^tasks = \(.*\)$/tasks = \1\nlayers = [0, 2]/' small.toml > layers.toml  # a captured cache: no [data.synthetic]
refused layers "layers.toml: [data] layers asks for layer 2, which sample synth-multihop/synth-multihop-0 did not capture (captured: 0, 1;" layers.toml
# And the intact cache runs.
"$sweep" small.toml --progress off >ok.log 2>&1 || fail "the intact cache did not run: $(tail -3 ok.log)"
echo "refused_inputs: all checks passed"
