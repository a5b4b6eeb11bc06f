#!/usr/bin/env bash
# SIGKILL at any moment leaves a valid database, and running the same command again finishes
# the campaign with every unit done exactly once (docs/spec/MISSION.md R8): first an embedded run, then a whole
# mpirun job (mpirun and every rank) killed at once, as a node loss or Slurm's final SIGKILL
# would. Both are killed after their first commits. Usage: kill_resume.sh CKV_SWEEP WORKDIR
set -euo pipefail
source "$(dirname "$0")/../shell_helpers.bash"
cd "$work"
long_campaign long.toml 96
total=2304

check_killed_state() {  # after the kill: sound file, some but not all done, no result without its unit done
  expect_sql long.sqlite "pragma integrity_check" ok
  local done; done=$(sql long.sqlite "select count(*) from units where state='done'")
  ((done > 0 && done < total)) || fail "kill was not mid-campaign ($done of $total done)"
  expect_sql long.sqlite "select count(*) from results r join units u on u.id=r.unit_id where u.state<>'done'" 0
  running=$(sql long.sqlite "select count(*) from units where state='running'")
  echo "killed with $done done, $running running"
}

# --- embedded -------------------------------------------------------------------------------
"$sweep" long.toml --progress off >embedded1.log 2>&1 &
pid=$!
wait_for_done long.sqlite 30 60 "$pid"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
check_killed_state
((running > 0)) || fail "no unit was in flight at the kill; the test did not exercise lost units"
"$sweep" long.toml --progress off >embedded2.log 2>&1 || fail "rerun after SIGKILL exited $?: $(tail -5 embedded2.log)"
grep -q "units of an interrupted run were marked lost and are requeued" embedded2.log || fail "rerun did not report the interrupted units"
expect_complete_once long.sqlite long
expect_sql long.sqlite "select count(*) from attempts where outcome='lost' and error like 'worker vanished%'" "$running"
expect_sql long.sqlite "select count(*) from units where state='done'" $total

# --- mpirun ---------------------------------------------------------------------------------
need_mpi
rm -f long.sqlite*
setsid "${MPIRUN[@]}" -np 3 "$sweep" long.toml --progress off >mpi1.log 2>&1 &
job=$!  # setsid makes mpirun the leader of a new process group holding every rank
wait_for_done long.sqlite 30 90 "$job"
kill -KILL $(pgrep -s "$job")  # mpirun and every rank it started, at once
wait "$job" 2>/dev/null || true
# Zombies (already dead, waiting for a container's init to reap them) do not count; a killed
# process in the middle of disk I/O on a loaded machine may take a moment to go.
for ((i = 0; i < 100; i++)); do
  alive=$(ps -s "$job" -o pid=,stat= | awk '$2 !~ /^Z/' || true)
  [[ -z "$alive" ]] && break
  sleep 0.1
done
[[ -z "$alive" ]] || fail "processes of the killed job survived 10 s: $alive"
check_killed_state
timeout 120 "${MPIRUN[@]}" -np 3 "$sweep" long.toml --progress off >mpi2.log 2>&1 || fail "MPI rerun after SIGKILL exited $?: $(tail -5 mpi2.log)"
expect_complete_once long.sqlite long
expect_sql long.sqlite "select count(*) from attempts where outcome='lost'" "$running"
expect_sql long.sqlite "select count(*) from units where state='done'" $total
expect_sql long.sqlite "select count(*) from attempts where rank not in (1, 2)" 0
echo "kill_resume: all checks passed"
