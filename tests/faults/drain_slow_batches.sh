#!/usr/bin/env bash
# An embedded run honours --drain-grace even when every worker is inside a batch that needs
# tens of seconds: SIGTERM ends it within the grace plus a moment, a second signal ends
# it at once, a worker stuck inside one long kernel call is not waited for; each time what is done
# is committed, nothing is left running and the database is sound. A -j the system cannot start
# is one clear error. Usage: drain_slow_batches.sh CKV_SWEEP WORKDIR
set -euo pipefail
source "$(dirname "$0")/../shell_helpers.bash"
cd "$work"
cp "$src/tests/data/faults/slow.toml" slow.toml
"$sweep" synth --out cache --tasks synth-needle --samples 2 --tokens 512 --heads 4 --kv-heads 2 --head-dim 32 \
  --layers 0 1 --num-layers-model 4 --answer-tokens 4 --seed 17 >/dev/null

# Microseconds since the epoch, in bash alone (no calculator program needed; the digits of
# EPOCHREALTIME whatever the locale's decimal separator).
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }
# signal_run LOG SECONDS_BEFORE SIGNALS... -- RUN ARGS: starts the run, sends each signal one second
# apart after SECONDS_BEFORE, prints the milliseconds from the last signal to the exit, and the code.
signal_run() {
  local log=$1 before=$2; shift 2
  local signals=()
  while [[ $1 != -- ]]; do signals+=("$1"); shift; done; shift
  "$sweep" "$@" --progress off >"$log" 2>&1 &
  local pid=$! start
  sleep "$before"
  for s in "${signals[@]}"; do kill -"$s" "$pid"; start=$(now_us); sleep 1; done
  set +e; wait "$pid"; local code=$?; set -e
  echo "$(( ($(now_us) - start) / 1000 + 1000 )) $code"
}
seconds() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }  # MILLISECONDS as seconds
check_sound() {  # DB LOG: nothing left running, every attempt closed, a sound file
  expect_sql "$1" "pragma integrity_check" ok
  expect_sql "$1" "select count(*) from units where state='running'" 0
  expect_sql "$1" "select count(*) from attempts where ended_at is null" 0
}

# 1. SIGTERM with a 2 s grace while both workers are inside batches of ~40 s.
read -r took code < <(signal_run term.log 3 TERM -- slow.toml --drain-grace 2)
[[ $code -eq 3 ]] || fail "a drained run must exit 3, got $code: $(tail -5 term.log)"
((took < 8000)) || fail "the drain took $(seconds "$took")s after SIGTERM with --drain-grace 2: $(tail -5 term.log)"
grep -q "drained on signal 15" term.log || fail "no drain message: $(tail -3 term.log)"
check_sound slow.sqlite

# 2. A second signal stops at once, though the grace is a minute.
read -r took code < <(signal_run second.log 3 TERM INT -- slow.toml --drain-grace 60)
[[ $code -eq 3 ]] || fail "a run stopped by a second signal must exit 3, got $code: $(tail -5 second.log)"
((took < 5000)) || fail "the second signal took $(seconds "$took")s to stop the run: $(tail -5 second.log)"
grep -q "drained on signal 15, stopped at once by a second signal" second.log || fail "message: $(tail -3 second.log)"
check_sound slow.sqlite
expect_sql slow.sqlite "select count(*) from attempts where outcome='lost' and error like 'stopped on a second signal%'" 16

# 3. One kernel call much longer than the grace: the worker inside it is not waited for.
sed 's/walkers = 8000000/walkers = 60000000/; s#database = "slow.sqlite"#database = "stuck.sqlite"#' slow.toml > stuck.toml
read -r took code < <(signal_run stuck.log 3 TERM -- stuck.toml --drain-grace 1)
[[ $code -eq 3 ]] || fail "a run with a stuck worker must exit 3, got $code: $(tail -5 stuck.log)"
((took < 7000)) || fail "a stuck worker delayed the exit $(seconds "$took")s: $(tail -5 stuck.log)"
grep -q "worker thread(s) still inside a kernel are not waited for" stuck.log || fail "no word of the stuck worker: $(tail -5 stuck.log)"
check_sound stuck.sqlite

# 4. More worker threads than the system allows (a pids limit): one clear error, nothing run.
#    Root is exempt from RLIMIT_NPROC, so the run drops to 'nobody' under a limit of 24 threads.
#    nobody may not reach a checkout in root's home (/root is mode 700), so it then runs a copy
#    of the binary and the cache in a directory of its own under /tmp.
limit_cmd=(bash -c 'ulimit -u 24 && exec "$@"' limit)
limited=$work limited_sweep=$sweep
if [[ $(id -u) -eq 0 ]]; then
  command -v setpriv >/dev/null || skip "setpriv is missing (util-linux): cannot drop to an unprivileged user"
  limited=$(mktemp -d /tmp/ckv-limited.XXXXXX)
  trap 'rm -rf "$limited"' EXIT
  cp "$sweep" "$limited/ckv-sweep"; limited_sweep=$limited/ckv-sweep
  cp -r cache "$limited/cache"
  chmod -R a+rwX "$limited"
  limit_cmd=(setpriv --reuid=65534 --regid=65534 --clear-groups "${limit_cmd[@]}")
fi
sed 's#database = "slow.sqlite"#database = "limited.sqlite"#' slow.toml > "$limited/limited.toml"
set +e; (cd "$limited" && "${limit_cmd[@]}" "$limited_sweep" limited.toml -j 200 --progress off) >limited.log 2>&1; code=$?; set -e
[[ $code -eq 1 ]] || fail "-j 200 under a limit of 24 threads must exit 1, got $code: $(tail -5 limited.log)"
grep -q "cannot start worker thread [0-9]* of 200: .*run with fewer worker threads (-j)" limited.log \
  || fail "thread limit message: $(tail -5 limited.log)"
grep -q "terminate called" limited.log && fail "the run crashed: $(tail -5 limited.log)"
[[ ! -e $limited/limited.sqlite ]] || fail "a run that could not start its workers created its database"
echo "drain_slow_batches: all checks passed"
