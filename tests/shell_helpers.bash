# Shared by tests/{mpi,faults,slurm}/*.sh (sourced; not a test itself).
# Each script is called as SCRIPT CKV_SWEEP WORKDIR from the source root.
sweep=$1; work=$2; src=$PWD
rm -rf "$work"; mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIPPED: $*"; exit 77; }

# sql DB QUERY: one value (or rows as a|b), read-only so it never takes the writer's lock.
sql() { sqlite3 -readonly "$1" "$2"; }
expect_sql() {  # DB QUERY EXPECTED
  local got; got=$(sql "$1" "$2") || fail "query failed: $2"
  [[ "$got" == "$3" ]] || fail "$2 -> '$got', expected '$3'"
}

need_mpi() {
  [[ "${CKV_HAVE_MPI:-ON}" == "ON" ]] || skip "ckv-sweep was built without MPI"
  command -v mpirun >/dev/null || skip "mpirun not found"
  # Open MPI refuses root unless told; CI containers run as root.
  if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
  # Containers often forbid the cross-memory-attach syscalls: fall back to copy-in/copy-out.
  export OMPI_MCA_btl_vader_single_copy_mechanism=none
  MPIRUN=(mpirun --oversubscribe --bind-to none)
}

# Every unit of the campaign done exactly once: one 'done' attempt per unit, every attempt
# closed, results for every done unit and none for others, a sound database file.
expect_complete_once() {  # DB CAMPAIGN
  local db=$1 c=$2
  expect_sql "$db" "pragma integrity_check" ok
  expect_sql "$db" "select count(*) from campaign_units cu join campaigns c on c.id=cu.campaign_id join units u on u.id=cu.unit_id where c.name='$c' and u.state<>'done'" 0
  expect_sql "$db" "select count(*) from (select unit_id from attempts where outcome='done' group by unit_id having count(*)<>1)" 0
  expect_sql "$db" "select count(*) from units u where u.state='done' and not exists (select 1 from attempts a where a.unit_id=u.id and a.outcome='done')" 0
  expect_sql "$db" "select count(*) from attempts where ended_at is null or outcome is null" 0
  expect_sql "$db" "select count(*) from units u where u.state='done' and not exists (select 1 from results r where r.unit_id=u.id)" 0
  expect_sql "$db" "select count(*) from results r join units u on u.id=r.unit_id where u.state<>'done'" 0
  # Same metric set for every unit: a duplicate or half-written result would show here.
  expect_sql "$db" "select count(distinct n) from (select count(*) n from results group by unit_id)" 1
}

# tests/data/faults/long.toml with N samples per task (24·N units; the file's 32 take about 1 s
# on 2 cores with the SIMD kernels): a test that kills, signals or locks a run mid-campaign gives
# itself seconds of room (96: 2304 units, about 4 s), so a loaded machine or faster kernels do not
# let the run finish first.
long_campaign() {  # OUT SAMPLES_PER_TASK
  sed "s/^samples_per_task = 32$/samples_per_task = $2/" "$src/tests/data/faults/long.toml" > "$1"
  [[ $(grep -c "^samples_per_task = $2$" "$1") -eq 2 ]] || fail "$1: samples_per_task = $2 not set"
}

# Waits until at least N units are done in DB (committed), or fails after T seconds.
wait_for_done() {  # DB N T [PID to check is still alive]
  local db=$1 n=$2 t=$3 pid=${4:-} i got
  for ((i = 0; i < t * 10; i++)); do
    got=$(sql "$db" "select count(*) from units where state='done'" 2>/dev/null || echo 0)
    ((got >= n)) && return 0
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then fail "the run ended before $n units were committed"; fi
    sleep 0.1
  done
  fail "fewer than $n units done after ${t}s"
}
