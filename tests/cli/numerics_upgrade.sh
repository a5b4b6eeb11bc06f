#!/usr/bin/env bash
# An upgrade of the numerics version (kernels/numerics.hpp, docs/database.md "Numerics versions")
# on the real binary: a database whose results were computed under numerics 1 (made here as the
# builds before numerics 2 stored them: the same documents without "numerics", under their own
# hashes) is reported as numerics 1; `plan` counts the units that will be recomputed; export-keep
# refuses the old configuration; the rerun computes new units under new hashes, logs the count,
# keeps the old rows queryable, and the report then shows only this build's rows.
# Usage: numerics_upgrade.sh CKV_SWEEP WORKDIR
set -euo pipefail
sweep=$1; work=$2
rm -rf "$work"; mkdir -p "$work"; cd "$work"
cp "$OLDPWD/tests/data/cli/small.toml" small.toml
fail() { echo "FAIL: $*"; exit 1; }
q() { "$sweep" query small.sqlite "$1" --format csv | tail -n +2; }
expect() {  # SQL EXPECTED
  local got; got=$(q "$1")
  [[ "$got" == "$2" ]] || fail "$1 -> '$got', expected '$2'"
}
legacy="json_extract(canonical_json, '\$.eval.numerics') is null"

# 1. This build's run: every configuration carries this build's numerics version ($now).
"$sweep" small.toml --progress off >run1.log 2>&1 || fail "first run: $(tail -3 run1.log)"
now=$(q "select distinct json_extract(canonical_json, '\$.eval.numerics') from configurations")
[[ "$now" =~ ^[0-9]+$ && "$now" -ge 2 ]] || fail "configurations carry numerics '$now', expected one version >= 2"
expect "select count(*) from configurations where json_extract(canonical_json, '\$.eval.numerics') = $now" 5
grep -q "will be recomputed" run1.log && fail "a fresh database has nothing to recompute: $(cat run1.log)"

# 2. Make it the database an earlier build left: the same documents without "numerics", each
#    under the SHA-256 of its canonical text (what that build stored; results unchanged).
sqlite3 small.sqlite "select id, canonical_json from configurations" | while IFS='|' read -r id doc; do
  old=${doc/\"numerics\":$now,/}
  [[ "$old" != "$doc" ]] || fail "configuration $id has no numerics $now: $doc"
  hash=$(printf '%s' "$old" | sha256sum | cut -d' ' -f1)
  sqlite3 small.sqlite "update configurations set canonical_json = '$old', hash = '$hash' where id = $id"
done
expect "select count(*) from configurations where $legacy" 5
expect "select count(*) from units where state = 'done'" 20

# 3. The report says its rows are numerics 1 and that this build computes numerics $now.
"$sweep" report small.sqlite --metric attn_recall >report1.md 2>&1 || fail "report: $(cat report1.md)"
grep -q "cat avg = mean of category means; numerics 1)" report1.md || fail "report caption: $(cat report1.md)"
grep -q "Computed under numerics 1 (the kernels up to 0.1" report1.md || fail "report note: $(cat report1.md)"
"$sweep" report small.sqlite --metric attn_recall --format json | python3 -c \
  'import json, sys; r = json.load(sys.stdin); assert r["numerics"] == [1], r["numerics"]; assert all(x["numerics"] == 1 for x in r["rows"])' \
  || fail "json report numerics"

# 4. plan: nothing of this build is done; 20 units done under numerics 1 are recomputed.
"$sweep" plan small.toml >plan1.log 2>&1 || fail "plan: $(cat plan1.log)"
grep -q "^numerics:        $now (" plan1.log || fail "plan does not name the numerics: $(cat plan1.log)"
grep -q "^already done:    0$" plan1.log || fail "plan: $(cat plan1.log)"
grep -q "^to run:          20$" plan1.log || fail "plan: $(cat plan1.log)"
grep -qF "  20 units done under numerics 1 will be recomputed under numerics $now (old results stay in the database, never averaged with new ones)" plan1.log \
  || fail "plan does not count the recomputed units: $(cat plan1.log)"

# 5. export-keep refuses a numerics-1 document: this build cannot reproduce its keep-sets.
q "select canonical_json from configurations where method = 'snapkv' limit 1" | python3 -c \
  'import csv, sys; print(next(csv.reader(sys.stdin))[0])' >legacy.json
set +e; "$sweep" export-keep --cache cache --config legacy.json --allow-missing-layers --out keep.jsonl >keep.log 2>&1; code=$?; set -e
[[ $code -eq 1 ]] || fail "export-keep of a numerics-1 configuration must exit 1, got $code: $(cat keep.log)"
grep -q "legacy.json: configuration [0-9a-f]\{12\} is computed under numerics 1 (" keep.log || fail "export-keep message: $(cat keep.log)"
grep -qF "add \"numerics\": $now to its \"eval\"" keep.log || fail "export-keep does not say what to do: $(cat keep.log)"
[[ ! -e keep.jsonl ]] || fail "a refused export left a keep-set file"

# 6. The rerun: the same spec, not a redefinition; the 20 units run anew under new hashes.
"$sweep" small.toml --progress off >run2.log 2>&1 || fail "rerun: $(tail -3 run2.log)"
grep -qF "campaign 'small': 20 units done under numerics 1 will be recomputed under numerics $now" run2.log \
  || fail "run does not log the recompute: $(cat run2.log)"
grep -q "20 run now (20 done, 0 failed, 0 lost)" run2.log || fail "rerun: $(cat run2.log)"
grep -q "its spec changed" run2.log && fail "a numerics upgrade is not a spec change: $(cat run2.log)"
expect "select count(*) from configurations" 10
expect "select count(*) from units where state = 'done'" 40
expect "select count(*) from campaign_units cu join units u on u.id = cu.unit_id join configurations cf on cf.id = u.configuration_id where $legacy" 0
expect "select count(*) from campaign_units" 20
# The old rows stay readable, each under its own configuration.
expect "select count(*) > 0 and count(*) = (select count(*) from results) / 2 from results r join units u on u.id = r.unit_id join configurations cf on cf.id = u.configuration_id where $legacy" 1

# 7. The report now shows the numerics-$now rows only, and never an average across numerics.
"$sweep" report small.sqlite --metric attn_recall >report2.md 2>&1 || fail "report: $(cat report2.md)"
grep -q "cat avg = mean of category means; numerics $now)" report2.md || fail "report caption: $(cat report2.md)"
grep -q "numerics 1" report2.md && fail "the rerun campaign still shows numerics 1: $(cat report2.md)"
[[ $(grep -c "^| \(h2o\|snapkv\|full\) " report2.md) -eq 5 ]] || fail "report rows: $(cat report2.md)"
"$sweep" report small.sqlite --metric attn_recall --format csv | head -1 | grep -q ",n:tasks,numerics$" || fail "csv numerics column"

# 8. plan again: all done, nothing recomputed.
"$sweep" plan small.toml >plan2.log 2>&1 || fail "plan: $(cat plan2.log)"
grep -q "^already done:    20$" plan2.log || fail "plan after the rerun: $(cat plan2.log)"
grep -q "will be recomputed" plan2.log && fail "plan after the rerun: $(cat plan2.log)"
echo "numerics_upgrade: ok"
