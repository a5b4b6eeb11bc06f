#!/usr/bin/env bash
# `query` is read-only in fact: each line of tests/data/cli/query.cases gives its exit
# code and message, the database stays byte-identical and no file appears (VACUUM INTO, ATTACH).
# Usage: query_read_only.sh CKV_SWEEP WORKDIR
set -euo pipefail
sweep=$1; work=$2; cases="$PWD/tests/data/cli/query.cases"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
cp "$OLDPWD/tests/data/cli/small.toml" small.toml
"$sweep" small.toml --progress off >setup.log 2>&1 || fail "setup: $(tail -3 setup.log)"
sum() { md5sum small.sqlite | cut -d' ' -f1; }
before=$(sum)
files_before=$(ls | sort)
n=0
while IFS= read -r line; do
  [[ -z "$line" || "$line" == \#* ]] && continue
  code=${line%% | *}; rest=${line#* | }
  message=${rest%% | *}; sql=${rest#* | }
  [[ "$rest" == *" | "* ]] || sql=""
  set +e; "$sweep" query small.sqlite "$sql" >out.log 2>&1; got=$?; set -e
  [[ $got -eq $code ]] || fail "query \"$sql\": exit $got, expected $code: $(cat out.log)"
  grep -qF -- "$message" out.log || fail "query \"$sql\": output lacks '$message': $(cat out.log)"
  if [[ $code -ne 0 ]]; then grep -q "small.sqlite" out.log || fail "query \"$sql\": message does not name the database: $(cat out.log)"; fi
  [[ $(sum) == "$before" ]] || fail "query \"$sql\" changed the database"
  n=$((n + 1))
done < "$cases"
((n >= 20)) || fail "only $n cases read"
rm -f out.log
# Readers may leave SQLite's -wal/-shm beside the file; nothing else may appear.
[[ $(ls | grep -v -e '-wal$' -e '-shm$' | sort) == "$(echo "$files_before" | grep -v -e '-wal$' -e '-shm$')" ]] \
  || fail "files appeared: $(ls)"
echo "query_read_only: $n cases passed"
