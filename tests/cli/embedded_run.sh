#!/usr/bin/env bash
# End to end on the real binary: an embedded campaign writes rows, a rerun does nothing, added
# grid values run only the new units, a corrupt sample fails its units (campaign goes on),
# reports and queries read the results. Usage: embedded_run.sh CKV_SWEEP WORKDIR
set -euo pipefail
sweep=$1; work=$2
rm -rf "$work"; mkdir -p "$work"; cd "$work"
cp "$OLDPWD/tests/data/cli/small.toml" small.toml
fail() { echo "FAIL: $*"; exit 1; }
# After a writer's clean exit nothing stays beside the database: no -lock, -wal, -shm. (A reader,
# `query` here, leaves an empty -wal and a -shm that it may not remove; the next writer does.)
only_database_left() {
  local left; left=$(ls -A | grep '^small\.sqlite' | tr '\n' ' ')
  [[ "$left" == "small.sqlite " ]] || fail "$1: left beside the database: $left"
}
expect_count() {  # SQL expected
  local got; got=$("$sweep" query small.sqlite "$1" --format csv | tail -n +2)
  [[ "$got" == "$2" ]] || fail "$1 -> '$got', expected '$2'"
}

# 1. first run: 2 tasks x 2 samples x (2 methods x 2 budgets + full) = 20 units
"$sweep" small.toml --progress lines 2>run1.log || fail "first run exited $?: $(cat run1.log)"
only_database_left "after a complete run"
expect_count "select count(*) from units where state='done'" 20
expect_count "select count(*) from attempts" 20
expect_count "select count(distinct configuration) from task_scores where campaign='small'" 5
expect_count "select count(*) from results r join units u on u.id=r.unit_id where r.metric='kept' and r.value is null" 0

# 2. rerun: nothing to do, no new attempts
"$sweep" small.toml --progress off 2>run2.log || fail "rerun exited $?"
only_database_left "after a run with nothing to do (the readers' -wal and -shm before it included)"
expect_count "select count(*) from attempts" 20
grep -q "0 run now" run2.log || fail "rerun did work: $(cat run2.log)"

# 3. add a grid value: only the 2 methods x 1 budget x 4 samples = 8 new units run
sed -i 's/budget = \[96, 128\]/budget = [96, 128, 160]/' small.toml
"$sweep" plan small.toml | tee plan.log | grep -q "to run:          8" || fail "plan: $(cat plan.log)"
"$sweep" small.toml --progress off 2>run3.log || fail "third run exited $?"
expect_count "select count(*) from units where state='done'" 28
expect_count "select count(*) from attempts" 28

# 4. reports in every format
"$sweep" report small.sqlite --campaign small --metric attn_recall > report.md
grep -q "| budget" report.md || fail "report lacks the varying budget column: $(cat report.md)"
grep -q "synth-multihop" report.md || fail "report lacks task columns"
# Into files first: a reader that stops early (grep -q, head) would end ckv-sweep with SIGPIPE.
"$sweep" report small.sqlite --metric evidence_recall --format csv >report.csv || fail "csv report"
head -1 report.csv | grep -q "^method,budget" || fail "csv header: $(head -1 report.csv)"
"$sweep" report small.sqlite --metric attn_recall --format json >report.json || fail "json report"
grep -q '"rows"' report.json || fail "json report: $(cat report.json)"
"$sweep" report small.sqlite --metric attn_recall --format latex >report.tex || fail "latex report"
grep -q 'tabular' report.tex || fail "latex report: $(cat report.tex)"
"$sweep" status small.sqlite | grep -q "small" || fail "status"
"$sweep" report small.sqlite --metric attn_recall --plot budget --plot-output plot.png 2>plot.log || fail "plot: $(cat plot.log)"
[[ "$(head -c 4 plot.png | tail -c 3)" == "PNG" ]] || fail "plot.png is not a PNG"
grep -q "synth-needle" plot.png.gp && grep -q "index" plot.png.gp || fail "plot script lacks the task panels"
# Spreads, numbers that stay numbers, kept beside the budget, the other plot formats.
"$sweep" report small.sqlite --metric attn_recall --ci --std > report_ci.md
grep -q "\[lo, hi\] = 95 % percentile-bootstrap CI over samples" report_ci.md || fail "report --ci caption: $(cat report_ci.md)"
grep -qE "\| +kept \|" report_ci.md || fail "report lacks the kept column: $(cat report_ci.md)"
grep -q "^Fixed: " report_ci.md || fail "report lacks the fixed parameters: $(cat report_ci.md)"
"$sweep" report small.sqlite --metric attn_recall --format json | python3 -c '
import json, sys
rows = json.load(sys.stdin)["rows"]
assert all(isinstance(r["budget"], int) for r in rows if r["method"] != "full"), rows
assert all(r["budget"] is None for r in rows if r["method"] == "full"), rows' || fail "json budget is not a number"
"$sweep" report small.sqlite --metric attn_recall --ci --plot budget --plot-output plot.svg 2>plot.log || fail "svg plot: $(cat plot.log)"
grep -q "<svg" plot.svg || fail "plot.svg is not an SVG"
"$sweep" report small.sqlite --metric attn_recall --ci --plot budget --plot-output plot.pdf 2>plot.log || fail "pdf plot: $(cat plot.log)"
[[ "$(head -c 5 plot.pdf)" == "%PDF-" ]] || fail "plot.pdf is not a PDF"
grep -q "yerrorlines" plot.pdf.gp && grep -q "full cache" plot.pdf.gp || fail "plot script lacks error bars or the full-cache line"
set +e; "$sweep" report small.sqlite --metric attn_recall --plot walkers 2>plotbad.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "not a parameter that varies in campaign 'small' (varying: budget)" plotbad.log || fail "plot of a fixed parameter: $(cat plotbad.log)"

# 5. a corrupt sample: its units fail with a message naming the file; the others finish. Its
#    content changed, so it is a new sample (fingerprint): all 9 of its units are new and fail,
#    while the results of the intact file stay in the database.
victim=$(ls cache/synth-needle/*.safetensors | head -1)
truncate -s 1000 "$victim"
sed -i 's/budget = \[96, 128, 160\]/budget = [96, 128, 160, 192]/' small.toml
set +e
"$sweep" small.toml --progress off 2>run4.log
code=$?
set -e
[[ $code -eq 3 ]] || fail "a run with failed units must exit 3 (incomplete), got $code: $(tail -3 run4.log)"
only_database_left "after a run with failed units"
expect_count "select done, failed from campaign_progress where campaign='small'" "27,9"
expect_count "select count(*) from units where state='done'" 34
"$sweep" query small.sqlite "select last_error from units where state='failed' limit 1" | grep -q "$(basename "$victim")" \
  || fail "failure message does not name the file"

# 6. bad input: malformed TOML names file:line:col; nothing runs
printf '[campaign]\nname = "x\n' > bad.toml
set +e; "$sweep" bad.toml 2>bad.log; code=$?; set -e
[[ $code -eq 1 ]] || fail "malformed TOML must exit 1, got $code"
grep -q "bad.toml:2:" bad.log || fail "malformed TOML message lacks file:line: $(cat bad.log)"

# 7. a database path that cannot be written: one clear message, exit 1
sed 's#database = "small.sqlite"#database = "/proc/ckv/forbidden.sqlite"#' small.toml > ro.toml
set +e; "$sweep" ro.toml --progress off 2>ro.log; code=$?; set -e
[[ $code -eq 1 ]] || fail "unwritable database must exit 1, got $code"
grep -q "forbidden.sqlite" ro.log || fail "unwritable database message does not name the file: $(cat ro.log)"

# 8. a missing cache directory (and no [data.synthetic]): one message naming the spec and the directory
sed 's#cache = "cache"#cache = "nowhere"#; /data.synthetic/,/seed = 7/d' small.toml > nocache.toml
set +e; "$sweep" nocache.toml 2>nocache.log; code=$?; set -e
[[ $code -eq 1 ]] || fail "missing cache must exit 1, got $code"
grep -q "nocache.toml: cache directory 'nowhere' has no index.jsonl" nocache.log || fail "missing cache message: $(cat nocache.log)"

# 9. inspect: the JSON contract (sample, layer, method, config, config_hash, n, budget, scores,
#    keep, metrics)
"$sweep" inspect --cache cache --sample synth-multihop-1 --layer 1 --method snapkv --budget 96 --set pool=avg > inspect.json
python3 - inspect.json <<'PY' || fail "inspect contract: $(cat inspect.json)"
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {"sample", "layer", "method", "config", "config_hash", "n", "budget", "scores", "keep", "metrics"}, sorted(d)
assert len(d["config_hash"]) == 64                                         # the configuration's SHA-256
assert d["sample"] == "synth-multihop-1" and d["layer"] == 1 and d["method"] == "snapkv" and d["budget"] == 96
assert d["config"]["pool"] == "avg" and d["config"]["kernel"] == 7          # defaults filled in
assert len(d["keep"]) == 2 and all(len(k) == 96 and k == sorted(k) for k in d["keep"])  # per KV head
assert len(d["scores"]) == 2 and all(len(s) == d["n"] for s in d["scores"])
assert all(list(range(d["n"] - 64, d["n"])) == k[-64:] for k in d["keep"])  # window always kept
assert d["metrics"]["kept"] == 96.0 and 0 < d["metrics"]["attn_recall"] <= 1
PY
set +e; "$sweep" inspect --cache cache --sample synth-multihop-1 --layer 1 --method snapkv --set bogus=1 2>bogus.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "no parameter 'bogus' (valid: budget" bogus.log || fail "unknown parameter message: $(cat bogus.log)"
# A renamed parameter's former name on --set: read as the new name, warned about once, same
# configuration as the new name gives.
"$sweep" inspect --cache cache --sample synth-multihop-1 --layer 1 --method rc --budget 96 --set walkers=4 \
  --set max_steps=3 > former.json 2>former.log
"$sweep" inspect --cache cache --sample synth-multihop-1 --layer 1 --method rc --budget 96 --set walkers_per_source=4 \
  --set max_positions=3 > renamed.json 2>renamed.log
grep -q "walkers=4: 'walkers' is the former name of rc's parameter 'walkers_per_source'" former.log \
  || fail "--set former name warning: $(cat former.log)"
[[ $(grep -c "is the former name" former.log) -eq 2 ]] || fail "one warning per former name: $(cat former.log)"
! grep -q "former name" renamed.log || fail "new names warned about: $(cat renamed.log)"
python3 -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); assert a["config_hash"]==b["config_hash"]' \
  former.json renamed.json || fail "former and new --set names differ"
# plan --list shows a renamed parameter under its new name (the hash is the stored key's).
sed -e 's/^name = "small"/name = "renamed"/' -e 's/^database = .*/database = "renamed.sqlite"/' \
  -e '/^\[\[methods\]\]/,$d' small.toml > renamed.toml
printf '[[methods]]\nname = "rc"\nbudget = 96\nwalkers = 4\n' >> renamed.toml
"$sweep" plan renamed.toml --list > renamed_plan.log 2>&1 || fail "plan --list: $(cat renamed_plan.log)"
grep -q '"walkers_per_source":4' renamed_plan.log && grep -q '"max_positions":' renamed_plan.log \
  && ! grep -q '"walkers":' renamed_plan.log || fail "plan --list names: $(cat renamed_plan.log)"

# 9b. per_query_head selection: one keep-set per query head (H = 4 here, G = 2)
"$sweep" inspect --cache cache --sample synth-multihop-1 --layer 1 --method snapkv --budget 96 --set selection=per_query_head > inspect_pqh.json
python3 - inspect_pqh.json <<'PY' || fail "inspect per_query_head: $(head -c 300 inspect_pqh.json)"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["keep"]) == 4 and all(len(k) == 96 for k in d["keep"]), [len(k) for k in d["keep"]]
assert len(d["scores"]) == 4
PY

# 10. a grid point that breaks a cross-parameter rule: file:line:col, and no database is created
printf '[campaign]\nname = "x"\ndatabase = "never.sqlite"\n[data]\ncache = "cache"\n[[methods]]\nname = "snapkv"\nbudget = 32\n' > rule.toml
set +e; "$sweep" rule.toml 2>rule.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "rule.toml:6:1: method 'snapkv': budget 32 is below sink_size + window = 64" rule.log \
  || fail "cross-parameter rule: $(cat rule.log)"
[[ ! -e never.sqlite ]] || fail "a rejected spec created its database"

echo "embedded_run: all checks passed"
