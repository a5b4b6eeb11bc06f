#!/usr/bin/env bash
# Commits that fail: another program holding the write lock or a full disk makes the
# run retry its buffered batch with back-off for --commit-retry seconds; if that passes, the run
# goes on; if not, it stops with exit 3 and one true message, and the same command finishes the
# campaign later with every unit done exactly once. A corrupt database is refused when opened,
# before any work, and left as it was. Usage: commit_failures.sh CKV_SWEEP WORKDIR
set -euo pipefail
source "$(dirname "$0")/../shell_helpers.bash"
cd "$work"
long_campaign long.toml 96  # seconds of commits, so that the lock is taken mid-run
# Another program holds SQLite's write lock for about SECONDS; FLAG appears once it holds it. The
# sqlite3 shell waits for a commit of the run in progress (.timeout: it has no busy wait of its
# own) and -bail ends it if BEGIN fails, so a lock never taken cannot pass unnoticed.
hold_lock() {  # DB SECONDS FLAG
  rm -f "$3"
  (echo ".timeout 20000"; echo "BEGIN IMMEDIATE;"; echo ".system touch $3"; sleep "$2"; echo "COMMIT;") \
    | sqlite3 -bail "$1" >"$3.log" 2>&1 &
}
wait_for_lock() {  # FLAG HOLDER_PID
  local i
  for ((i = 0; i < 300; i++)); do
    [[ -e $1 ]] && return 0
    kill -0 "$2" 2>/dev/null || fail "the lock holder ended without the lock: $(cat "$1.log")"
    sleep 0.05
  done
  fail "the lock holder did not get the lock in 15 s"
}

# --- 1. the lock is held longer than the retries last: exit 3, one account, then resume ---------
"$sweep" long.toml --commit-retry 2 --progress off >held1.log 2>&1 &
pid=$!
wait_for_done long.sqlite 30 60 "$pid"
hold_lock long.sqlite 15 held1.flag; holder=$!
wait_for_lock held1.flag "$holder"
kill -0 "$pid" 2>/dev/null || fail "the run ended before the lock was taken: $(tail -3 held1.log)"
set +e; wait "$pid"; code=$?; set -e
[[ $code -eq 3 ]] || fail "a run whose commits keep failing must exit 3, got $code: $(tail -5 held1.log)"
grep -q "long.sqlite: results could not be committed for [0-9]* s (.*database is locked by another writer" held1.log \
  || fail "no account of the failed commits: $(tail -5 held1.log)"
grep -q "those units run again next time; everything committed before is kept" held1.log || fail "message: $(tail -3 held1.log)"
grep -q "buffered writes lost" held1.log && fail "the run says its buffer was lost as well as kept: $(tail -5 held1.log)"
[[ $(grep -c "results could not be committed" held1.log) -eq 1 ]] || fail "more than one account: $(cat held1.log)"
wait "$holder"
"$sweep" long.toml --progress off >held2.log 2>&1 || fail "the rerun exited $?: $(tail -5 held2.log)"
expect_complete_once long.sqlite long

# --- 2. the lock is held past SQLite's 5 s busy wait but within the retries: the run goes on ------
rm -f long.sqlite*
"$sweep" long.toml --commit-retry 60 --progress off >held3.log 2>&1 &
pid=$!
wait_for_done long.sqlite 30 60 "$pid"
hold_lock long.sqlite 7 held3.flag; holder=$!
wait_for_lock held3.flag "$holder"
kill -0 "$pid" 2>/dev/null || fail "the run ended before the lock was taken: $(tail -3 held3.log)"
set +e; wait "$pid"; code=$?; set -e
wait "$holder"
[[ $code -eq 0 ]] || fail "a run whose commit succeeded on a retry must finish, got $code: $(tail -5 held3.log)"
grep -q "retrying the commit for up to 60 s" held3.log || fail "no retry was needed: the lock was not held long enough: $(tail -5 held3.log)"
grep -q "committed after" held3.log || fail "no word of the retried commit: $(tail -5 held3.log)"
expect_complete_once long.sqlite long

# --- 3. a full disk: a small tmpfs in a private mount namespace (needs CAP_SYS_ADMIN) ------------
if unshare -m true 2>/dev/null; then
  mkdir -p full
  # the file's own 32 samples: their registration fits the small disk below, 96's would not
  sed 's#database = "long.sqlite"#database = "full/long.sqlite"#' "$src/tests/data/faults/long.toml" > full.toml
  unshare -m bash -euc '
    mount -t tmpfs -o size=1400k tmpfs full  # registration fits (~0.9 MB of WAL), the results do not
    set +e; "$0" full.toml --commit-retry 1 --progress off >full1.log 2>&1; echo $? > full1.code; set -e
    mount -o remount,size=64m full
    "$0" full.toml --progress off >full2.log 2>&1; echo $? > full2.code
    sqlite3 -readonly full/long.sqlite "pragma integrity_check" > full.check
    sqlite3 -readonly full/long.sqlite "select count(*) from units where state = '\''done'\''" > full.done
  ' "$sweep"
  [[ $(cat full1.code) -eq 3 ]] || fail "a full disk must end the run with exit 3, got $(cat full1.code): $(tail -5 full1.log)"
  grep -q "results could not be committed for [0-9]* s (.*disk full" full1.log || fail "full disk message: $(tail -5 full1.log)"
  [[ $(cat full2.code) -eq 0 ]] || fail "the rerun with space exited $(cat full2.code): $(tail -5 full2.log)"
  [[ $(cat full.check) == ok && $(cat full.done) -eq 768 ]] || fail "after the full disk: $(cat full.check), $(cat full.done) done"
else
  echo "note: no mount namespace here (unshare -m refused): the full-disk case was not run"
fi

# --- 4. a corrupt database is refused before any work and left as it was -------------------------
python3 - long.sqlite <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
for page in range(8, 12):  # table pages past their headers, as a bad disk block would
    data[page * 4096 + 16:(page + 1) * 4096] = b"\xa5" * (4096 - 16)
open(path, "wb").write(data)
PY
before=$(md5sum < long.sqlite)
set +e; "$sweep" long.toml --progress off >corrupt.log 2>&1; code=$?; set -e
[[ $code -eq 1 ]] || fail "a corrupt database must be refused (exit 1), got $code: $(tail -3 corrupt.log)"
grep -q "long.sqlite: the database file is corrupt" corrupt.log || fail "corrupt message: $(tail -3 corrupt.log)"
grep -q "run now" corrupt.log && fail "a run started on a corrupt database: $(tail -3 corrupt.log)"
[[ $(md5sum < long.sqlite) == "$before" ]] || fail "the refused run changed the corrupt file"
echo "commit_failures: all checks passed"
