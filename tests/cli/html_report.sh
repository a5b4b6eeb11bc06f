#!/usr/bin/env bash
# report --format html on a real small campaign: one self-contained page (no network reference,
# tables of every metric, the plot, a link to a keep-set view), rendered by headless Chromium
# (Debian's `chromium`, installed by scripts/setup-test-tools.sh, which scripts/test.sh runs): the rendered DOM holds the table headers and
# a known value, and the browser reports no console message or error on the report and on the
# keep-set view (whose head selector is a script). The check catches errors: a broken page makes it
# fail. Without chromium: SKIPPED (exit 77), or a failure under CI=true.
# Usage: html_report.sh CKV_SWEEP WORKDIR
set -euo pipefail
sweep=$1; work=$2
rm -rf "$work"; mkdir -p "$work"; cd "$work"
cp "$OLDPWD/tests/data/cli/small.toml" small.toml
fail() { echo "FAIL: $*"; exit 1; }

"$sweep" small.toml --progress off >run.log 2>&1 || fail "campaign: $(tail -3 run.log)"
mkdir -p views
"$sweep" keep-view --cache cache --sample synth-multihop-0 --layer 1 --a "snapkv budget=96" --b "h2o budget=96" \
  -o views/multihop-0.html >view.log 2>&1 || fail "keep-view: $(cat view.log)"
"$sweep" report small.sqlite --format html --plot budget --keep-view views/multihop-0.html \
  --compare "snapkv budget=128 vs h2o budget=128" -o report.html \
  >report.log 2>&1 || fail "report --format html: $(cat report.log)"

# Self-contained: no external resource (the plot is a data: image), every metric has its table.
! grep -Eq '(src|href)="(https?:)?//' report.html || fail "the page references the network"
! grep -Eq '<link|@import' report.html || fail "the page loads a stylesheet"
metrics=$(sqlite3 small.sqlite "select count(distinct metric) from results")
[[ $(grep -c '<table class="report">' report.html) -eq $metrics ]] || fail "not one table per metric ($metrics)"
grep -q 'src="data:image/svg+xml;base64,' report.html || fail "no embedded plot"
grep -q '<a href="views/multihop-0.html">multihop-0.html</a>' report.html || fail "no link to the keep-set view"
# A known value: snapkv at budget 128 on synth-needle, as the markdown report prints it.
"$sweep" report small.sqlite --metric attn_recall --format csv >report.csv || fail "csv report"
value=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "synth-needle") c = i; next }
                 $1 == "snapkv" && $2 == "128" { print $c }' report.csv)
[[ -n $value ]] || fail "no csv value to compare"

if ! command -v chromium >/dev/null; then
  [[ ${CI:-} == true ]] && fail "chromium is not installed (scripts/test.sh installs it; required in CI)"
  echo "SKIPPED: no headless browser (apt-get install chromium, or run scripts/test.sh)"; exit 77
fi
# Renders a page; the DOM after scripts ran goes to $2, the browser's console and errors to $3.
# No network: every host name resolves to nothing.
render() {
  timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$PWD/profile" \
    --host-resolver-rules="MAP * ~NOTFOUND" --enable-logging=stderr --v=0 \
    --dump-dom "file://$PWD/$1" >"$2" 2>"$3" || fail "chromium exited $? on $1: $(tail -5 "$3")"
}
console() { grep -E ':CONSOLE|Uncaught|Not allowed to load|ERR_' "$1" || true; }

# The check can fail: a page with a script error is reported.
printf '<!DOCTYPE html><html><body><p>x</p><script>undefined_function();</script></body></html>' >broken.html
render broken.html broken.dom broken.log
console broken.log | grep -q "Uncaught ReferenceError" || fail "the console check missed a script error: $(cat broken.log)"

render report.html report.dom report.browser.log
[[ -z $(console report.browser.log) ]] || fail "the browser reported: $(console report.browser.log)"
grep -q '<h1>Campaign small</h1>' report.dom || fail "no title in the rendered page"
for header in '<th class="label">method</th>' '<th class="label">budget</th>' '<th>synth-multihop</th>' \
              '<th>synth-needle</th>' '<th>avg</th>' '<th>cat avg</th>'; do
  grep -qF "$header" report.dom || fail "rendered page lacks $header"
done
grep -Eq "<td>(<strong>)?$value(</strong>)?</td>" report.dom || fail "rendered page lacks the value $value"
# The paired comparison asked for, on every metric: ckv-sweep compare's own text.
grep -q '<h3>snapkv budget=128 vs h2o budget=128</h3>' report.dom || fail "no paired comparison section"
"$sweep" compare small.sqlite "snapkv budget=128" "h2o budget=128" --metric output_error >compare.md 2>&1 \
  || fail "compare: $(cat compare.md)"
python3 - <<'PY' || fail "the page's comparison differs from ckv-sweep compare's"
import html
dom = open("report.dom", encoding="utf-8").read()
text = open("compare.md", encoding="utf-8").read()
assert html.escape(text, quote=False) in dom or text in html.unescape(dom), text[:200]
PY

render views/multihop-0.html view.dom view.browser.log
[[ -z $(console view.browser.log) ]] || fail "the browser reported on the keep-set view: $(console view.browser.log)"
grep -q '<select id="head">' view.dom || fail "the keep-set view has no head selector"

# A screenshot, for people to look at (kept in the work directory).
timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$PWD/profile" \
  --host-resolver-rules="MAP * ~NOTFOUND" --window-size=1280,2400 --screenshot="$PWD/report.png" \
  "file://$PWD/report.html" >/dev/null 2>&1 || fail "chromium could not take a screenshot"
[[ $(stat -c %s report.png) -gt 20000 ]] || fail "the screenshot is nearly empty"
echo "html_report: ok"
