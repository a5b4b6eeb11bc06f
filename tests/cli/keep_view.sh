#!/usr/bin/env bash
# keep-view on a synthetic cache with made-up token texts: one sample's HTML page (counts equal to
# inspect's keep-sets, computed here independently), the task summary (markdown and csv: every
# (head, token) pair counted once), older caches without texts (positions), and refusals.
# Usage: keep_view.sh CKV_SWEEP WORKDIR
set -euo pipefail
sweep=$1; work=$2
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$sweep" synth --out cache --tasks synth-multihop --samples 2 --tokens 256 --heads 4 --kv-heads 2 --layers 0 1 \
  --token-texts >synth.log 2>&1 || fail "synth: $(cat synth.log)"
"$sweep" synth --out plain --tasks synth-multihop --samples 2 --tokens 256 --heads 4 --kv-heads 2 --layers 0 1 \
  >plain.log 2>&1 || fail "synth without texts: $(cat plain.log)"

# The token texts leave the tensors as they were: the same data-section digest, with and without.
digest() { python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; m=json.loads(b[8:8+n])["__metadata__"]; print(m["content_sha256"], len(json.loads(m.get("token_texts","[]"))), m.get("token_text_method",""))' "$1"; }
read -r with_digest with_count with_method < <(digest cache/synth-multihop/synth-multihop-0.safetensors)
read -r plain_digest plain_count _ < <(digest plain/synth-multihop/synth-multihop-0.safetensors)
[[ $with_digest == "$plain_digest" ]] || fail "token texts changed the tensors ($with_digest vs $plain_digest)"
n=$(python3 -c 'import json; print([json.loads(l)["n_tokens"] for l in open("cache/index.jsonl")][0])')
[[ $with_count -eq $n && $plain_count -eq 0 && $with_method == synthetic ]] \
  || fail "token texts: $with_count of $n ($with_method), plain $plain_count"

A="snapkv budget=96"; B="h2o budget=96"
"$sweep" keep-view --cache cache --sample synth-multihop-0 --layer 1 --a "$A" --b "$B" -o view.html >view.log 2>&1 \
  || fail "keep-view --sample: $(cat view.log)"
grep -q "view.html: keep-sets of synth-multihop/synth-multihop-0 layer 1" view.log || fail "no confirmation: $(cat view.log)"

# Independent truth: the keep-sets inspect prints, per KV head, compared here.
"$sweep" inspect --cache cache --sample synth-multihop-0 --layer 1 --method snapkv --budget 96 >a.json
"$sweep" inspect --cache cache --sample synth-multihop-0 --layer 1 --method h2o --budget 96 >b.json
python3 - "$n" <<'PY' || fail "the page's counts disagree with inspect's keep-sets"
import json, re, sys
n = int(sys.argv[1])
a, b = json.load(open("a.json")), json.load(open("b.json"))
page = open("view.html", encoding="utf-8").read()
assert len(a["keep"]) == len(b["keep"]) == 2, "per KV head"
total = [0] * 4
for h, (ka, kb) in enumerate(zip(a["keep"], b["keep"])):
    ka, kb = set(ka), set(kb)
    row = [n, len(ka), len(kb), len(ka & kb), len(ka - kb), len(kb - ka), n - len(ka | kb)]
    cells = "".join(f"<td>{v}</td>" for v in row)
    assert f"<td>KV head {h}</td>{cells}" in page, (h, row)
# the configuration hashes the command names are on the page
log = open("view.log").read().split()
assert log[log.index("A") + 1] in page and log[log.index("B") + 1] in page
# every token is shown with its text (the first is the BOS special token)
assert page.count('title="#') == n
assert '<span class="k' in page and '&lt;s&gt;' in page
assert re.search(r'<select id="head">', page) and page.count("<option ") == 2
PY

# The task summary: both samples, every (head, token) pair once; csv and markdown agree.
"$sweep" keep-view --cache cache --task synth-multihop --layer 1 --a "$A" --b "$B" --format csv -o summary.html \
  >summary.csv 2>summary.log || fail "keep-view --task: $(cat summary.log)"
total=$(python3 -c 'import json; print(sum(json.loads(l)["n_tokens"] for l in open("cache/index.jsonl")) * 2)')
grep -q "^all,all,$total," summary.csv || fail "summary total is not $total pairs: $(grep '^all' summary.csv)"
python3 - <<'PY' || fail "summary groups do not add up: $(cat summary.csv)"
import csv
rows = list(csv.DictReader(open("summary.csv")))
total = next(r for r in rows if r["group"] == "all")
for group in ("position", "token", "span"):
    part = [r for r in rows if r["group"] == group]
    for key in ("pairs", "A keeps", "B keeps", "both", "A only", "B only", "neither"):
        assert sum(int(r[key]) for r in part) == int(total[key]), (group, key)
assert {r["value"] for r in rows if r["group"] == "span"} >= {"evidence", "question", "planted bridge", "rest"}
assert "unknown (no token texts)" not in {r["value"] for r in rows}
assert {"word", "punctuation", "special"} <= {r["value"] for r in rows if r["group"] == "token"}
PY
"$sweep" keep-view --cache cache --task synth-multihop --layer 1 --a "$A" --b "$B" >summary.md 2>&1 \
  || fail "keep-view --task markdown: $(cat summary.md)"
grep -q "^| all | all | $total |" summary.md || fail "markdown summary: $(cat summary.md)"
grep -q "<td>planted bridge</td>" summary.html || fail "the summary page lacks the bridge span"

# An older cache without token texts: positions, classes unknown.
"$sweep" keep-view --cache plain --sample synth-multihop-1 --layer 0 --a "$A" --b "$B" -o plain.html >/dev/null 2>&1 \
  || fail "keep-view on a cache without texts"
grep -q "no token texts" plain.html && grep -q ">\[0\]</span>" plain.html || fail "positions are not shown"
"$sweep" keep-view --cache plain --task synth-multihop --layer 0 --a "$A" --b "$B" --format csv 2>/dev/null \
  | grep -q "^token,unknown (no token texts)," || fail "classes of a cache without texts"

# Refusals: one message, the right exit code.
set +e
"$sweep" keep-view --cache cache --sample synth-multihop-0 --layer 1 --a "$A" --b "$B" >r1.log 2>&1; c1=$?
"$sweep" keep-view --cache cache --sample nope --layer 1 --a "$A" --b "$B" -o x.html >r2.log 2>&1; c2=$?
"$sweep" keep-view --cache cache --sample synth-multihop-0 --layer 3 --a "$A" --b "$B" -o x.html >r3.log 2>&1; c3=$?
"$sweep" keep-view --cache cache --sample synth-multihop-0 --layer 1 --a "nosuch budget=4" --b "$B" -o x.html >r4.log 2>&1; c4=$?
"$sweep" keep-view --cache cache --sample synth-multihop-0 --layer 1 --a "snapkv budget" --b "$B" -o x.html >r5.log 2>&1; c5=$?
set -e
[[ $c1 -eq 2 ]] && grep -q -- "--sample needs -o FILE.html" r1.log || fail "no -o: exit $c1: $(cat r1.log)"
[[ $c2 -eq 1 ]] && grep -q "index.jsonl: no sample with id 'nope'" r2.log || fail "unknown sample: exit $c2: $(cat r2.log)"
[[ $c3 -eq 1 ]] && grep -q "layer 3 was not captured" r3.log || fail "uncaptured layer: exit $c3: $(cat r3.log)"
[[ $c4 -eq 1 ]] && grep -q "nosuch" r4.log || fail "unknown method: exit $c4: $(cat r4.log)"
[[ $c5 -eq 1 ]] && grep -q "'budget' is not key=value" r5.log || fail "bad setting: exit $c5: $(cat r5.log)"
[[ ! -e x.html ]] || fail "a refused view left a file"
echo "keep_view: ok"
