#!/usr/bin/env bash
# End-to-end check workflow on the real binary (docs/e2e.md): a synthetic campaign, keep-sets
# exported for a configuration, hand-written predictions scored against a hand-written LongBench
# JSONL, scores queried, rankings compared, and bad predictions refused without losing rows.
# Expected figures are LongBench eval.py's for the same inputs. Usage: e2e_roundtrip.sh CKV_SWEEP WORKDIR
set -euo pipefail
sweep=$1; work=$2
rm -rf "$work"; mkdir -p "$work"; cd "$work"
cp "$OLDPWD/tests/data/cli/small.toml" small.toml
fail() { echo "FAIL: $*"; exit 1; }
q() { "$sweep" query small.sqlite "$1" --format csv | tail -n +2; }
expect() { local got; got=$(q "$1"); [[ "$got" == "$2" ]] || fail "$1 -> '$got', expected '$2'"; }

# 1. a campaign with proxy results (synthetic cache, 2 tasks x 2 samples, 5 configurations)
"$sweep" small.toml --progress off 2>run.log || fail "campaign exited $?: $(tail -3 run.log)"
hash_of() {  # METHOD BUDGET
  q "select hash from configurations where method='$1' and json_extract(canonical_json,'$.params.budget')=$2"
}
snap=$(hash_of snapkv 96); h2o=$(hash_of h2o 96)
[[ ${#snap} -eq 64 && ${#h2o} -eq 64 ]] || fail "configuration hashes: '$snap' '$h2o'"

# 2. export-keep: one line per sample, every captured layer, per KV head, sorted; same hash as
#    the campaign's configuration, whether given by --method/--set or by its canonical JSON.
#    The synthetic cache holds layers 0 and 1 of a 4-layer model: refused for generation (no
#    file left behind) unless --allow-missing-layers.
set +e; "$sweep" export-keep --cache cache --method snapkv --set budget=96 --out keep.jsonl 2>partial.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "synth-multihop-0.safetensors (sample 'synth-multihop-0'): the keep-sets would cover layers \[0, 1\] of the model's 4; missing layers \[2, 3\]" partial.log \
  && grep -q -- "--allow-missing-layers" partial.log || fail "partial layers ($code): $(cat partial.log)"
[[ ! -e keep.jsonl && ! -e keep.jsonl.tmp ]] || fail "a refused export left a keep-set file"
set +e; "$sweep" export-keep --cache cache --method snapkv --set budget=96 --layers '[0,1]' --out keep.jsonl 2>partial.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q 'eval.layers is "all"' partial.log || fail "partial eval.layers ($code): $(cat partial.log)"
"$sweep" export-keep --cache cache --method snapkv --set budget=96 --allow-missing-layers --out keep.jsonl 2>export.log \
  || fail "export-keep: $(cat export.log)"
q "select canonical_json from configurations where hash='$snap'" | python3 -c \
  'import csv,sys; print(next(csv.reader(sys.stdin))[0])' > snap.json
"$sweep" export-keep --cache cache --config snap.json --tasks synth-needle --allow-missing-layers --out keep-needle.jsonl 2>>export.log \
  || fail "export-keep --config: $(cat export.log)"
python3 - keep.jsonl keep-needle.jsonl "$snap" <<'PY' || fail "keep-set export contract"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 4, len(lines)
for d in lines:
    assert set(d) == {"id", "task", "config_hash", "layers"}, sorted(d)
    assert d["config_hash"] == sys.argv[3], (d["config_hash"], sys.argv[3])
    assert sorted(d["layers"]) == ["0", "1"]
    for heads in d["layers"].values():
        assert len(heads) == 2 and all(len(h) == 96 and h == sorted(h) and len(set(h)) == 96 for h in heads)
needle = [json.loads(l) for l in open(sys.argv[2])]
assert [d["id"] for d in needle] == [d["id"] for d in lines if d["task"] == "synth-needle"]
assert needle == [d for d in lines if d["task"] == "synth-needle"]   # --config gives the same keep-sets
PY
set +e; "$sweep" export-keep --cache cache --method snapkv --set bogus=1 --allow-missing-layers --out x.jsonl 2>bogus.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "bogus" bogus.log || fail "unknown parameter: $(cat bogus.log)"
# the output's folder is created; a file that cannot be opened says why (here: a folder is in the way)
"$sweep" export-keep --cache cache --method snapkv --set budget=96 --allow-missing-layers --tasks synth-needle \
  --out new/deeper/keep.jsonl 2>folder.log || fail "export-keep into a new folder: $(cat folder.log)"
cmp -s new/deeper/keep.jsonl keep-needle.jsonl || fail "export-keep into a new folder wrote other keep-sets"
mkdir -p blocked/keep.jsonl.tmp
set +e; "$sweep" export-keep --cache cache --method snapkv --set budget=96 --allow-missing-layers --out blocked/keep.jsonl 2>blocked.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "blocked/keep.jsonl.tmp: cannot open for writing: Is a directory" blocked.log \
  || fail "unopenable output ($code): $(cat blocked.log)"

# 3. hand-written LongBench data and predictions (LongBench's pred/<model>/<task>.jsonl layout)
mkdir -p lb predA predB
lb_line() {  # ID DATASET ANSWERS_JSON CLASSES_JSON
  printf '{"input": "q", "context": "c", "answers": %s, "length": 10, "dataset": "%s", "language": "en", "all_classes": %s, "_id": "%s"}\n' "$3" "$2" "$4" "$1"
}
{ lb_line h1 hotpotqa '["Paris"]' null; lb_line h2 hotpotqa '["Barack Obama", "Obama"]' null
  lb_line h3 hotpotqa '["the Eiffel Tower"]' null; } > lb/hotpotqa.jsonl
classes='["Animal", "Human being", "Description of a person", "Description", "Location"]'
{ lb_line t1 trec '["Animal"]' "$classes"; lb_line t2 trec '["Description of a person"]' "$classes"; } > lb/trec.jsonl
cat > predA/hotpotqa.jsonl <<'J'
{"_id": "h1", "pred": "Paris", "answers": ["Paris"], "all_classes": null, "length": 10}
{"_id": "h2", "pred": "Obama"}

{"id": "h3", "pred": ""}
J
printf '%s\n' '{"_id": "t1", "pred": "Animal\nHuman being"}' '{"_id": "t2", "pred": "Description of a person"}' > predA/trec.jsonl
printf '%s\n' '{"_id": "h1", "pred": "It is Paris, France"}' '{"_id": "h2", "pred": "Michelle Obama"}' \
  '{"_id": "h3", "pred": "Eiffel Tower"}' > predB/hotpotqa.jsonl
printf '%s\n' '{"_id": "t1", "pred": "Location"}' '{"_id": "t2", "pred": "Human being"}' > predB/trec.jsonl

# 4. import: per task the figure eval.py prints, per sample the score
"$sweep" import-predictions small.sqlite --campaign small --config "$snap" \
  --predictions predA/hotpotqa.jsonl predA/trec.jsonl --longbench lb > importA.log || fail "import A: $(cat importA.log)"
grep -q "hotpotqa qa_f1 = 66.67 over 3" importA.log || fail "import A output: $(cat importA.log)"
"$sweep" import-predictions small.sqlite --campaign small --config "${h2o:0:12}" \
  --predictions predB/hotpotqa.jsonl predB/trec.jsonl --longbench lb/hotpotqa.jsonl lb/trec.jsonl > importB.log \
  || fail "import B (hash prefix, LongBench files): $(cat importB.log)"
expect "select method, task, metric, score, count from e2e_task_scores order by method, task" \
"h2o,hotpotqa,qa_f1,68.89,3
h2o,trec,classification,0.0,2
snapkv,hotpotqa,qa_f1,66.67,3
snapkv,trec,classification,100.0,2"
expect "select sample_key, round(score, 4) from e2e_predictions p join configurations c on c.id=p.configuration_id where c.method='h2o' and task='hotpotqa' order by sample_key" \
"h1,0.4
h2,0.6667
h3,1.0"
expect "select source from e2e_predictions where sample_key='h3' and configuration_id=(select id from configurations where hash='$snap')" "predA/hotpotqa.jsonl:4"
# a re-import replaces, never duplicates
"$sweep" import-predictions small.sqlite --campaign small --config "$snap" --predictions predA/hotpotqa.jsonl --longbench lb >/dev/null
expect "select count(*) from e2e_predictions" 10
expect "select count(*) from e2e_tasks" 4

# 5. bad input: one clear message naming file:line or the id; nothing written, nothing lost
mkdir -p bad
printf '%s\n' '{"_id": "h1", "pred": "Paris"}' '{"_id": "h2", "pred": ' > bad/hotpotqa.jsonl
printf '%s\n' '{"_id": "t1", "pred": "Location"}' > bad/trec.jsonl
set +e; "$sweep" import-predictions small.sqlite --campaign small --config "$snap" \
  --predictions bad/trec.jsonl bad/hotpotqa.jsonl --longbench lb 2>bad.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "bad/hotpotqa.jsonl:2: not a JSON object (malformed JSON)" bad.log || fail "malformed line ($code): $(cat bad.log)"
printf '%s\n' '{"_id": "h1", "pred": "Paris"}' '{"_id": "zz9", "pred": "x"}' > bad/hotpotqa.jsonl
set +e; "$sweep" import-predictions small.sqlite --campaign small --config "$snap" \
  --predictions bad/hotpotqa.jsonl --longbench lb 2>missing.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "bad/hotpotqa.jsonl:2: id 'zz9' is not in the LongBench data (lb/hotpotqa.jsonl)" missing.log \
  || fail "missing id ($code): $(cat missing.log)"
printf '%s\n' '{"pred": "x"}' > bad/trec.jsonl
set +e; "$sweep" import-predictions small.sqlite --campaign small --config "$snap" --predictions bad/trec.jsonl --longbench lb 2>noid.log; set -e
grep -q 'bad/trec.jsonl:1: no "_id" or "id" field' noid.log || fail "line without id: $(cat noid.log)"
set +e; "$sweep" import-predictions small.sqlite --campaign nope --config "$snap" --predictions predA/trec.jsonl --longbench lb 2>camp.log; set -e
grep -q "no campaign 'nope' (campaigns: small)" camp.log || fail "unknown campaign: $(cat camp.log)"
# a configuration of the database that the campaign does not hold (as another campaign's would be)
sqlite3 small.sqlite "insert into configurations (hash, method, canonical_json, created_at) values ('$(printf 'f%.0s' {1..64})', 'tova', '{\"method\":\"tova\"}', 0)"
set +e; "$sweep" import-predictions small.sqlite --campaign small --config ffffffff --predictions predA/trec.jsonl --longbench lb 2>notin.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "configuration ffffffffffff (tova) is not in campaign 'small'" notin.log \
  || fail "configuration outside the campaign ($code): $(cat notin.log)"
set +e; "$sweep" import-predictions small.sqlite --campaign small --config "$snap" --predictions predA/trec.jsonl --task synth-needle --longbench lb 2>task.log; set -e
grep -q "task 'synth-needle' has no LongBench scoring" task.log || fail "synthetic task: $(cat task.log)"
expect "select count(*) from e2e_predictions" 10
expect "select score from e2e_task_scores where method='snapkv' and task='trec'" "100.0"

# 6. rankings: stand-in for a captured LongBench cache, the synthetic samples relabelled as the
#    LongBench tasks, so proxy task_scores and e2e_task_scores share tasks.
sqlite3 small.sqlite "update samples set task='hotpotqa' where task='synth-multihop'; update samples set task='trec' where task='synth-needle'"
expect "select count(*) from e2e_vs_proxy where proxy_metric='attn_recall'" 4
"$sweep" compare-e2e small.sqlite --metric attn_recall > compare.md || fail "compare-e2e"
grep -q "mean over 2 task(s): hotpotqa, trec) against proxy attn_recall (higher is better)" compare.md || fail "compare tasks: $(cat compare.md)"
grep -q "| snapkv | ${snap:0:12} | 83.34 | 1 |" compare.md || fail "compare snapkv row: $(cat compare.md)"
grep -q "| h2o | ${h2o:0:12} | 34.45 | 2 |" compare.md || fail "compare h2o row: $(cat compare.md)"
# Each proxy is ranked in its own direction: the correlation is +1 exactly when the proxy puts
# snapkv (the end-to-end winner) first — the highest attn_recall, the lowest output_error.
for metric in attn_recall output_error; do
  "$sweep" compare-e2e small.sqlite --metric $metric > compare-$metric.md || fail "compare-e2e $metric"
  means=$(q "select method, avg(proxy_mean) from e2e_vs_proxy where proxy_metric='$metric' group by method order by method")
  expected=$(python3 -c '
import sys
m = dict(l.split(",") for l in sys.argv[1].splitlines()); h, s = float(m["h2o"]), float(m["snapkv"])
better = s > h if sys.argv[2] == "attn_recall" else s < h
print("+1.000" if better else "-1.000")' "$means" $metric)
  sign='\'"${expected:0:1}"
  grep -Eq "^\| overall \| 2 \| [0-9]+ \| [0-9]+ \| ${sign}1\.000 .*\| ${sign}1\.000 .*\| [01]\.000 \|\$" compare-$metric.md \
    || fail "$metric: overall correlation should be $expected ($means): $(cat compare-$metric.md)"
done
grep -q "(lower is better)" compare-output_error.md || fail "direction in words: $(cat compare-output_error.md)"
"$sweep" compare-e2e small.sqlite --metric output_error --format json > compare-output_error.json || fail "compare-e2e json"
python3 - <<'PY' || fail "compare-e2e json: $(cat compare-output_error.json)"
import json, re
d = json.load(open("compare-output_error.json"))
md = open("compare-output_error.md").read()
assert d["proxy_metric"] == "output_error" and d["proxy_direction"] == "lower is better"
assert [r["method"] for r in d["rows"]] == ["snapkv", "h2o"] and [r["e2e_rank"] for r in d["rows"]] == [1, 2]
overall = re.search(r"^\| overall \| 2 \| \d+ \| \d+ \| ([+-]\d\.\d{3})", md, re.M).group(1)
assert "%+.3f" % d["overall"]["spearman"]["value"] == overall, (d["overall"], overall)
assert [t["task"] for t in d["per_task"]] == ["hotpotqa", "trec"]
PY
set +e; "$sweep" compare-e2e small.sqlite --metric bogus 2>bogus-metric.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "unknown proxy metric 'bogus'" bogus-metric.log || fail "unknown proxy ($code): $(cat bogus-metric.log)"
# two budgets of one method are told apart by their varying parameter
snap128=$(hash_of snapkv 128)
"$sweep" import-predictions small.sqlite --campaign small --config "$snap128" \
  --predictions predB/hotpotqa.jsonl predA/trec.jsonl --longbench lb > import128.log || fail "import 128: $(cat import128.log)"
"$sweep" compare-e2e small.sqlite > compare3.md || fail "compare-e2e, three configurations"
grep -q "| snapkv budget=96 | ${snap:0:12} |" compare3.md && grep -q "| snapkv budget=128 | ${snap128:0:12} |" compare3.md \
  && grep -q "| h2o budget=96 | ${h2o:0:12} |" compare3.md || fail "labels: $(cat compare3.md)"

# The HTML report's end-to-end section: compare-e2e's rows (labels, hashes, scores, ranks).
"$sweep" report small.sqlite --format html --metric attn_recall -o report.html > html.log 2>&1 \
  || fail "report --format html: $(cat html.log)"
"$sweep" compare-e2e small.sqlite --metric attn_recall --format json > compare3.json || fail "compare-e2e json (3)"
python3 - <<'PY' || fail "the HTML report's end-to-end rows differ from compare-e2e's"
import html, json
page = open("report.html", encoding="utf-8").read()
d = json.load(open("compare3.json"))
assert '<section id="e2e">' in page and len(d["rows"]) == 3
for r in d["rows"]:
    row = (f'<td class="label">{html.escape(r["label"])}</td><td class="label"><code>{r["configuration"][:12]}</code></td>'
           f'<td>{r["e2e_mean"]:.2f}</td><td>{r["e2e_rank"]:g}</td>')
    assert row in page, row
PY

echo "e2e_roundtrip: all checks passed"
