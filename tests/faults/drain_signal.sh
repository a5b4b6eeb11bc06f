#!/usr/bin/env bash
# SIGTERM / SIGUSR1 make rank 0 drain (docs/spec/MISSION.md R8): it stops dispatching, collects what is in flight,
# commits and exits 3 ("incomplete, run again"); the database is sound and the same command
# finishes the campaign. Under mpirun the signal goes to every rank (as srun does): workers
# ignore it and keep serving until rank 0 stops them. Usage: drain_signal.sh CKV_SWEEP WORKDIR
set -euo pipefail
source "$(dirname "$0")/../shell_helpers.bash"
cd "$work"
long_campaign long.toml 96
total=2304

check_drained() {  # LOG CODE SIGNAL
  [[ $2 -eq 3 ]] || fail "a drained run must exit 3, got $2: $(tail -5 "$1")"
  grep -q "drained on signal $3" "$1" || fail "no drain message for signal $3: $(tail -5 "$1")"
  expect_sql long.sqlite "pragma integrity_check" ok
  # Drained cleanly: nothing left running, every attempt closed.
  expect_sql long.sqlite "select count(*) from units where state='running'" 0
  expect_sql long.sqlite "select count(*) from attempts where ended_at is null" 0
  local done; done=$(sql long.sqlite "select count(*) from units where state='done'")
  ((done > 0 && done < total)) || fail "signal was not mid-campaign ($done of $total done)"
}

# --- embedded, SIGTERM ------------------------------------------------------------------------
"$sweep" long.toml --progress off >embedded1.log 2>&1 &
pid=$!
wait_for_done long.sqlite 30 60 "$pid"
kill -TERM "$pid"
set +e; wait "$pid"; code=$?; set -e
check_drained embedded1.log $code 15
"$sweep" long.toml --progress off >embedded2.log 2>&1 || fail "rerun after drain exited $?: $(tail -5 embedded2.log)"
expect_complete_once long.sqlite long

# --- mpirun, SIGUSR1 to every process of the job ------------------------------------------------
need_mpi
rm -f long.sqlite*
setsid "${MPIRUN[@]}" -np 3 "$sweep" long.toml --progress off >mpi1.log 2>&1 &
job=$!
wait_for_done long.sqlite 30 90 "$job"
# Every rank gets it, like srun --signal / scancel --signal; mpirun itself is left alone.
# A worker that rank 0 already stopped is gone: its kill fails, which is no failure.
for p in $(pgrep -s "$job" -x ckv-sweep); do kill -USR1 "$p" 2>/dev/null || true; done
set +e; timeout 90 tail --pid="$job" -f /dev/null; wait "$job"; code=$?; set -e
check_drained mpi1.log $code 10
grep -q "did not stop" mpi1.log && fail "workers did not answer the stop after the drain: $(tail -5 mpi1.log)"
timeout 120 "${MPIRUN[@]}" -np 3 "$sweep" long.toml --progress off >mpi2.log 2>&1 || fail "MPI rerun after drain exited $?: $(tail -5 mpi2.log)"
expect_complete_once long.sqlite long
expect_sql long.sqlite "select count(*) from units where state='done'" $total
echo "drain_signal: all checks passed"
