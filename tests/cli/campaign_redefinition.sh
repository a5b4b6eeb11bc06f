#!/usr/bin/env bash
# Two spec files reusing one campaign name do not silently redefine it: the second is
# refused, saying what would change, unless --redefine; a copy of the spec (same units) runs the
# campaign, and editing the campaign's own spec grows it as before.
# Usage: campaign_redefinition.sh CKV_SWEEP WORKDIR
set -euo pipefail
sweep=$1; work=$2
rm -rf "$work"; mkdir -p "$work"; cd "$work"
cp "$OLDPWD/tests/data/cli/small.toml" small.toml
fail() { echo "FAIL: $*"; exit 1; }
q() { sqlite3 -readonly small.sqlite "$1"; }
links() { q "select count(*) from campaign_units cu join campaigns c on c.id = cu.campaign_id where c.name = 'small'"; }

"$sweep" small.toml --progress off >run1.log 2>&1 || fail "first run: $(tail -3 run1.log)"
[[ $(links) -eq 20 ]] || fail "first run: $(links) units"

# Another file, other grid, same name: refused, nothing changed.
sed 's/budget = \[96, 128\]/budget = [96]/' small.toml > other.toml
set +e; "$sweep" other.toml --progress off >other.log 2>&1; code=$?; set -e
[[ $code -eq 1 ]] || fail "a second spec redefining 'small' must be refused (exit 1), got $code: $(tail -3 other.log)"
grep -q "other.toml: campaign 'small' is already defined by another spec, $PWD/small.toml, in small.sqlite; this spec would redefine it: configurations 0 added, 2 removed (5 before, 3 after); samples unchanged (4)" other.log \
  || fail "redefinition message: $(cat other.log)"
grep -q -- "--redefine" other.log || fail "the message does not say how to proceed: $(cat other.log)"
[[ $(links) -eq 20 ]] || fail "the refused spec changed the campaign"
[[ $(q "select spec_path from campaigns where name = 'small'") == "$PWD/small.toml" ]] || fail "the refused spec was recorded"

# A verbatim copy elsewhere has the same units: it runs the campaign (nothing to do).
mkdir copy && cp small.toml copy/small.toml && sed -i 's#cache = "cache"#cache = "../cache"#; s#database = "small.sqlite"#database = "../small.sqlite"#' copy/small.toml
(cd copy && "$sweep" small.toml --progress off >../copy.log 2>&1) || fail "a copy of the spec was refused: $(tail -3 copy.log)"
grep -q "0 run now" copy.log || fail "the copy ran work: $(tail -3 copy.log)"

# The campaign's own spec, edited: it grows, and the log says how.
sed -i 's/budget = \[96, 128\]/budget = [96, 128, 160]/' copy/small.toml
(cd copy && "$sweep" small.toml --progress off >../grow.log 2>&1) || fail "editing the spec was refused: $(tail -3 grow.log)"
grep -q "campaign 'small': its spec changed since the last run: configurations 2 added, 0 removed (5 before, 7 after)" grow.log \
  || fail "no account of the change: $(cat grow.log)"
[[ $(links) -eq 28 ]] || fail "the grown campaign has $(links) units"

# --redefine: the other spec becomes the definition; every result stays in the database.
"$sweep" other.toml --redefine --progress off >redefine.log 2>&1 || fail "--redefine exited $?: $(tail -3 redefine.log)"
grep -q "campaign 'small' was defined by $PWD/copy/small.toml; --redefine makes other.toml its definition" redefine.log \
  || fail "redefine warning: $(cat redefine.log)"
[[ $(links) -eq 12 ]] || fail "after --redefine the campaign has $(links) units"
[[ $(q "select count(*) from units where state = 'done'") -eq 28 ]] || fail "results were dropped"
echo "campaign_redefinition: all checks passed"
