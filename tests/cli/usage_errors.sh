#!/usr/bin/env bash
# Every wrong command line of tests/data/cli/usage.cases exits with its code (2: usage) and a
# message naming the problem, and writes nothing. Usage: usage_errors.sh CKV_SWEEP WORKDIR
set -euo pipefail
sweep=$1; work=$2; cases="$PWD/tests/data/cli/usage.cases"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
cp "$OLDPWD/tests/data/cli/small.toml" small.toml
"$sweep" small.toml --progress off >setup.log 2>&1 || fail "setting up small.sqlite: $(tail -3 setup.log)"
before=$(sqlite3 -readonly small.sqlite "select count(*) from attempts")

n=0
while IFS= read -r line; do
  [[ -z "$line" || "$line" == \#* ]] && continue
  code=${line%% | *}; rest=${line#* | }
  message=${rest%% | *}; args=${rest#* | }
  # "select\ 1" keeps a space inside one argument.
  eval "argv=($args)"
  set +e; "$sweep" "${argv[@]}" >out.log 2>&1; got=$?; set -e
  [[ $got -eq $code ]] || fail "ckv-sweep $args: exit $got, expected $code: $(cat out.log)"
  grep -qF -- "$message" out.log || fail "ckv-sweep $args: message lacks '$message': $(cat out.log)"
  if [[ $code -eq 2 ]]; then grep -q "usage error" out.log || fail "ckv-sweep $args: not reported as a usage error: $(cat out.log)"; fi
  n=$((n + 1))
done < "$cases"
((n >= 20)) || fail "only $n cases read from $cases"
[[ ! -e never ]] || fail "a refused synth wrote its output directory"
[[ $(sqlite3 -readonly small.sqlite "select count(*) from attempts") == "$before" ]] || fail "a refused command ran units"
echo "usage_errors: $n cases passed"
