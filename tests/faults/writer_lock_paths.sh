#!/usr/bin/env bash
# The single-writer guarantee holds for every path naming the database file: while a
# campaign runs, a second `ckv-sweep` whose spec reaches the same file through a symlinked
# directory, a `..` detour, a hard link or a bind mount stops at once (exit 1, naming the writer)
# and changes nothing. Usage: writer_lock_paths.sh CKV_SWEEP WORKDIR
set -euo pipefail
source "$(dirname "$0")/../shell_helpers.bash"
cd "$work"
work=$PWD
# Three times the shared long campaign's samples, so that the first run is still writing when it
# is stopped below.
long_campaign long.toml 96
mkdir -p sub bound
ln -s "$work" alias-dir

CKV_KERNEL_THREADS=1 "$sweep" long.toml -j 1 --progress off >first.log 2>&1 &
pid=$!
wait_for_done long.sqlite 12 60 "$pid"
# Hold the first run still while the second writers try: a stopped process keeps its locks, so
# the checks no longer race the kernels' speed (a faster build once finished the campaign before
# the fifth check). It continues afterwards, and on any exit of this script.
kill -STOP "$pid"
trap 'kill -CONT "$pid" 2>/dev/null || true' EXIT
ln long.sqlite hard.sqlite

second() {  # NAME DATABASE_PATH [PREFIX COMMAND...]: a second run through DATABASE_PATH must be refused
  local name=$1 db=$2; shift 2
  sed "s#database = \"long.sqlite\"#database = \"$db\"#" long.toml > "$name.toml"
  set +e; "$@" "$sweep" "$name.toml" --progress off >"$name.log" 2>&1; local code=$?; set -e
  kill -0 "$pid" 2>/dev/null || fail "the first run ended before the $name check; the campaign is too short"
  [[ $code -eq 1 ]] || fail "$name: a second writer through $db must exit 1, got $code: $(tail -3 "$name.log")"
  grep -q "database is locked by another writer (pid $pid on host" "$name.log" || fail "$name: message: $(cat "$name.log")"
}
second symlinked-dir "alias-dir/long.sqlite"
second dotdot "sub/../long.sqlite"
second hard-link "hard.sqlite"
second absolute "$work/long.sqlite"
# A bind mount of the directory, in a private mount namespace (needs CAP_SYS_ADMIN; said when not).
if unshare -m true 2>/dev/null; then
  second bind-mount "bound/long.sqlite" unshare -m sh -c "mount --bind '$work' '$work/bound' && exec \"\$0\" \"\$@\""
else
  echo "note: no mount namespace here (unshare -m refused): the bind-mount case was not run"
fi

kill -CONT "$pid"
set +e; wait "$pid"; code=$?; set -e
[[ $code -eq 0 ]] || fail "the first run exited $code: $(tail -3 first.log)"
expect_complete_once long.sqlite long
expect_sql long.sqlite "select count(distinct pid) from attempts" 1
expect_sql long.sqlite "select count(*) from attempts where pid <> $pid" 0
# Once the writer is gone, any path may write again.
"$sweep" symlinked-dir.toml --progress off >again.log 2>&1 || fail "a rerun through the symlinked directory exited $?: $(tail -3 again.log)"
grep -q "0 run now" again.log || fail "the rerun did work: $(tail -3 again.log)"
echo "writer_lock_paths: all checks passed"
