#!/usr/bin/env bash
# `ckv-sweep compare` on the real binary (docs/analysis.md): two configurations of a synthetic
# campaign named by label or hash prefix; every figure checked against an independent
# computation from the stored per-sample values (paired means, wins/ties/losses by the metric's
# direction, the exact sign-flip p by enumerating every sign pattern, Holm by hand); the four
# formats; unknown and ambiguous names; unpaired samples and another numerics version left out
# and said so; `ckv-sweep metrics`. Usage: compare.sh CKV_SWEEP WORKDIR
set -euo pipefail
sweep=$1; work=$2
rm -rf "$work"; mkdir -p "$work"; cd "$work"
cp "$OLDPWD/tests/data/cli/compare.toml" compare.toml
fail() { echo "FAIL: $*"; exit 1; }
q() { "$sweep" query cmp.sqlite "$1" --format csv | tail -n +2; }

"$sweep" compare.toml --progress off 2>run.log || fail "campaign exited $?: $(tail -3 run.log)"
snap160=$(q "select hash from configurations where method='snapkv' and json_extract(canonical_json,'$.params.budget')=160")
snap96=$(q "select hash from configurations where method='snapkv' and json_extract(canonical_json,'$.params.budget')=96")
h2o=$(q "select hash from configurations where method='h2o'")

# The independent check: per-sample values from SQL, everything recomputed in Python.
check() {  # JSON_FILE HASH_A HASH_B METRIC DIRECTION(+1 higher better, -1 lower better)
  q "select configuration, task, sample_key, value from unit_results where campaign='cmp' and metric='$4'" > values.csv
  python3 - "$@" <<'PY' || fail "compare $4 $2 vs $3: figures differ from the independent computation"
import csv, itertools, json, sys
doc = json.load(open(sys.argv[1])); a, b, metric, sign = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
vals = {}
for conf, task, key, value in csv.reader(open("values.csv")):
    if value != "":
        vals[(conf, task, key)] = float(value)
assert doc["a"]["configuration"] == a and doc["b"]["configuration"] == b, (doc["a"], doc["b"])
assert doc["metric"] == metric and doc["direction"] == ("higher is better" if sign > 0 else "lower is better")
tasks = sorted({t for (_, t, _) in vals})
rows = {r["task"]: r for r in doc["tasks"]}
assert sorted(rows) == tasks, (sorted(rows), tasks)
raw_p, task_means = [], []
for task in tasks:
    keys = sorted(k for (c, t, k) in vals if c == a and t == task and (b, t, k) in vals)
    d = [vals[(a, task, k)] - vals[(b, task, k)] for k in keys]
    r = rows[task]
    assert r["paired"] == len(d), (task, r["paired"], len(d))
    mean = sum(d) / len(d)
    assert abs(r["mean_difference"] - mean) < 1e-12, (task, r["mean_difference"], mean)
    assert abs(r["mean_a"] - sum(vals[(a, task, k)] for k in keys) / len(d)) < 1e-12
    wins = sum(1 for x in d if sign * x > 0); losses = sum(1 for x in d if sign * x < 0)
    assert (r["wins"], r["ties"], r["losses"]) == (wins, len(d) - wins - losses, losses), (task, r)
    # exact two-sided sign-flip p: every sign pattern
    obs = abs(sum(d)); scale = sum(abs(x) for x in d)
    hits = sum(1 for s in itertools.product((1, -1), repeat=len(d))
               if abs(sum(si * x for si, x in zip(s, d))) >= obs - 1e-12 * scale)
    p = hits / 2 ** len(d)
    assert r["p_exact"] and abs(r["p"] - p) < 1e-12, (task, r["p"], p)
    lo, hi = r["ci"]
    assert min(d) - 1e-12 <= lo <= hi <= max(d) + 1e-12, (task, r["ci"], d)
    raw_p.append(p); task_means.append(mean)
# Holm across the tasks, by hand
order = sorted(range(len(raw_p)), key=lambda i: raw_p[i]); m = len(raw_p); running = 0; holm = [0] * m
for rank, i in enumerate(order):
    running = max(running, min(1.0, (m - rank) * raw_p[i])); holm[i] = running
for task, h in zip(tasks, holm):
    assert abs(rows[task]["p_holm"] - h) < 1e-12, (task, rows[task]["p_holm"], h)
o = doc["overall"]
assert abs(o["mean_difference"] - sum(task_means) / len(task_means)) < 1e-12, o
assert o["wins"] == sum(rows[t]["wins"] for t in tasks) and o["losses"] == sum(rows[t]["losses"] for t in tasks)
assert o["paired"] == sum(rows[t]["paired"] for t in tasks)
assert "p_holm" not in o
PY
}

# 1. by label and by hash prefix: the same comparison
"$sweep" compare cmp.sqlite "snapkv budget=160" "snapkv budget=96" --metric attn_recall --format json > recall.json \
  || fail "compare by label: $(cat recall.json)"
check recall.json "$snap160" "$snap96" attn_recall 1
"$sweep" compare cmp.sqlite "${snap160:0:10}" "${snap96:0:8}" --campaign cmp --metric attn_recall --format json > recall2.json
cmp -s recall.json recall2.json || fail "hash prefixes give another comparison"
python3 -c 'import json,sys; d=json.load(open("recall.json")); assert d["overall"]["wins"] == 12, d["overall"]' \
  || fail "a budget of 160 should keep more attention than 96 on every sample: $(cat recall.json)"
# lower is better: a win is a smaller output error
"$sweep" compare cmp.sqlite "snapkv budget=160" "h2o" --metric output_error --format json > error.json || fail "output_error"
check error.json "$snap160" "$h2o" output_error -1
"$sweep" compare cmp.sqlite "h2o" "snapkv budget=96" --metric topk_recall --format json > topk.json || fail "topk_recall"
check topk.json "$h2o" "$snap96" topk_recall 1

# 2. the formats
"$sweep" compare cmp.sqlite "snapkv budget=160" "snapkv budget=96" > recall.md || fail "markdown"
grep -q "A = snapkv budget=160 \[${snap160:0:12}\] vs B = snapkv budget=96 \[${snap96:0:12}\]" recall.md \
  && grep -q "attn_recall (higher is better)" recall.md && grep -Eq "^\| overall +\| +12/12 \|" recall.md \
  && grep -q "| task " recall.md && grep -q "12/0/0" recall.md || fail "markdown: $(cat recall.md)"
"$sweep" compare cmp.sqlite "snapkv budget=160" "snapkv budget=96" --format csv > recall.csv
head -1 recall.csv | grep -qx "task,samples,paired,mean_a,mean_b,mean_difference,ci_lo,ci_hi,p,p_exact,p_holm,wins,ties,losses" \
  && [[ $(wc -l < recall.csv) -eq 4 ]] && grep -q "^overall,12,12," recall.csv || fail "csv: $(cat recall.csv)"
"$sweep" compare cmp.sqlite "snapkv budget=160" "snapkv budget=96" --format latex > recall.tex
grep -q '\\toprule' recall.tex && grep -q 'synth\\_needle\|synth-needle' recall.tex && grep -q '^% cmp: attn_recall (higher is better)' recall.tex && grep -q 'A $-$ B & 95 \\% CI' recall.tex \
  || fail "latex: $(cat recall.tex)"

# 3. names that do not resolve: one message naming the candidates, exit 1
set +e; "$sweep" compare cmp.sqlite snapkv h2o 2>ambiguous.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "A 'snapkv' is ambiguous in campaign 'cmp': it matches 2 configurations" ambiguous.log \
  && grep -q "snapkv budget=96  \[${snap96:0:12}\]" ambiguous.log || fail "ambiguous ($code): $(cat ambiguous.log)"
set +e; "$sweep" compare cmp.sqlite "snapkv budget=64" h2o 2>unknown.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "A 'snapkv budget=64' names no configuration of campaign 'cmp'" unknown.log \
  && grep -q "h2o budget=96  \[${h2o:0:12}\]" unknown.log || fail "unknown ($code): $(cat unknown.log)"
set +e; "$sweep" compare cmp.sqlite h2o h2o 2>same.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "A and B are the same configuration" same.log || fail "same ($code): $(cat same.log)"
set +e; "$sweep" compare cmp.sqlite h2o "snapkv budget=96" --metric bogus 2>metric.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "unknown metric 'bogus'" metric.log || fail "metric ($code): $(cat metric.log)"
set +e; "$sweep" compare cmp.sqlite h2o "snapkv budget=96" --format html 2>format.log; code=$?; set -e
[[ $code -eq 2 ]] || fail "bad format ($code): $(cat format.log)"

# 4. unpaired samples are left out and said so: one unit of B failed
sqlite3 cmp.sqlite "update units set state='failed' where id=(select u.id from units u join configurations c on c.id=u.configuration_id where c.hash='$snap96' order by u.id limit 1)"
"$sweep" compare cmp.sqlite "snapkv budget=160" "snapkv budget=96" --format json > partial.json
check partial.json "$snap160" "$snap96" attn_recall 1
python3 -c 'import json; d=json.load(open("partial.json")); assert d["overall"]["paired"] == 11, d["overall"]; assert any("11 of the campaign'"'"'s 12 samples are paired; left out: 1 without a done unit of B" in n for n in d["notes"]), d["notes"]' \
  || fail "unpaired note: $(cat partial.json)"

# 5. numerics: the same point stored under numerics 1 (as an earlier build stored it) is never
#    paired with this build's values ($now); a label matching both pairs the shared version and
#    says so.
now=$(sqlite3 cmp.sqlite "select distinct json_extract(canonical_json, '\$.eval.numerics') from configurations")
[[ "$now" =~ ^[0-9]+$ ]] || fail "configurations carry numerics '$now', expected one version"
legacy=$(python3 - "$snap160" <<'PY'
import hashlib, json, sqlite3, sys
db = sqlite3.connect("cmp.sqlite")
doc = json.loads(db.execute("select canonical_json from configurations where hash=?", (sys.argv[1],)).fetchone()[0])
del doc["eval"]["numerics"]
canon = json.dumps(doc, sort_keys=True, separators=(",", ":"))
h = hashlib.sha256(canon.encode()).hexdigest()
cur = db.execute("insert into configurations (hash, method, canonical_json, created_at) values (?, 'snapkv', ?, 0)", (h, canon))
cid = cur.lastrowid
for uid, sid in db.execute("select u.id, u.sample_id from units u join configurations c on c.id=u.configuration_id where c.hash=?", (sys.argv[1],)).fetchall():
    nu = db.execute("insert into units (configuration_id, sample_id, state, attempts, updated_at) values (?, ?, 'done', 1, 0)", (cid, sid)).lastrowid
    db.execute("insert into campaign_units (campaign_id, unit_id) select campaign_id, ? from campaign_units where unit_id=?", (nu, uid))
    db.execute("insert into results (unit_id, metric, value) select ?, metric, value + 0.001 from results where unit_id=?", (nu, uid))
db.commit(); print(h)
PY
) || fail "legacy copy"
"$sweep" compare cmp.sqlite "snapkv budget=160" h2o --format json > numerics.json || fail "compare across numerics"
python3 - "$legacy" "$snap160" "$now" <<'PY' || fail "numerics pairing: $(cat numerics.json)"
import json, sys
d = json.load(open("numerics.json"))
assert d["a"]["configuration"] == sys.argv[2] and d["numerics"] == int(sys.argv[3]), d["a"]
assert any(n.startswith("A also has results under numerics 1 (configuration %s): left out" % sys.argv[1][:12]) for n in d["notes"]), d["notes"]
PY
set +e; "$sweep" compare cmp.sqlite "${legacy:0:12}" h2o 2>mixed.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "under numerics 1 and B (h2o budget=96 eval.numerics=$now) under numerics $now: values computed by kernels that round differently are never paired" mixed.log \
  || fail "mixed numerics ($code): $(cat mixed.log)"

# 6. the metric registry as the commands read it: each direction in words
"$sweep" metrics > metrics.txt || fail "metrics"
grep -Eq "^output_error +lower is better +\[0, ∞\) " metrics.txt && grep -Eq "^attn_recall +higher is better +\[0, 1\] " metrics.txt \
  && grep -Eq "^qa_f1 +higher is better +\[0, 100\] " metrics.txt || fail "metrics: $(cat metrics.txt)"
[[ $("$sweep" metrics topk_recall | wc -l) -eq 2 ]] || fail "metrics NAME: $("$sweep" metrics topk_recall)"
set +e; "$sweep" metrics bogus 2>metrics.log; code=$?; set -e
[[ $code -eq 1 ]] && grep -q "unknown metric 'bogus' (known: attn_recall, output_error" metrics.log || fail "metrics bogus ($code): $(cat metrics.log)"

echo "compare: all checks passed"
