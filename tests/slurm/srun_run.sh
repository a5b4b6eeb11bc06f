#!/usr/bin/env bash
# `srun ckv-sweep …` for real on the local Slurm cluster (slurm/local-cluster.sh, started by
# scripts/test.sh): a 4-task run completes with work on ranks 1..3; tasks that come up as MPI
# singletons (srun --mpi=none) are refused; `scancel --signal=USR1` on the step (what
# `#SBATCH --signal=USR1@120` does before the time limit) drains rank 0 to exit 3 and the same
# srun command finishes the campaign. Skipped when no Slurm runs here, except in CI, where it
# must run. Usage: srun_run.sh CKV_SWEEP WORKDIR
set -euo pipefail
source "$(dirname "$0")/../shell_helpers.bash"
unavailable() {
  [[ "${CI:-}" == "true" ]] && fail "CI=true but $* (scripts/test.sh starts slurm/local-cluster.sh)"
  skip "$*; run slurm/local-cluster.sh start as root"
}
[[ "${CKV_HAVE_MPI:-ON}" == "ON" ]] || unavailable "ckv-sweep was built without MPI"
command -v srun >/dev/null || unavailable "srun not found"
state=$(timeout 10 sinfo -h -o %t 2>/dev/null | head -n 1 || true)
[[ "$state" == idle || "$state" == mix ]] || unavailable "no idle Slurm node (sinfo: '${state:-no answer}')"
cd "$work"
cp "$src/tests/data/cli/small.toml" small.toml
# Its own cache directory; three times the shared long campaign's samples, so that the drain
# signal reaches a run still in progress (the SIMD kernels finish the shared one in seconds).
mkdir long
long_campaign long/long.toml 96

# 1. four tasks: rank 0 schedules, ranks 1..3 compute.
timeout 120 srun -n 4 -O "$sweep" small.toml --progress off >run.log 2>&1 || fail "srun exited $?: $(tail -20 run.log)"
grep -q "3 MPI workers (srun launch)" run.log || fail "not an srun launch of 3 workers: $(cat run.log)"
expect_complete_once small.sqlite small
expect_sql small.sqlite "select count(*) from units where state='done'" 20
expect_sql small.sqlite "select count(distinct rank) from attempts where rank between 1 and 3" 3
expect_sql small.sqlite "select count(*) from attempts where rank = 0" 0

cd long
# 2. no PMI between srun and MPI: every task is a singleton and must refuse, not run N campaigns.
set +e
timeout 60 srun -n 2 -O --mpi=none "$sweep" long.toml --progress off >singleton.log 2>&1
code=$?
set -e
[[ $code -ne 0 ]] || fail "singleton tasks must fail"
# Debian's Open MPI notices the direct launch without PMI inside MPI_Init and refuses itself;
# an MPI that silently comes up as a singleton meets ckv-sweep's own check instead.
grep -q -e "MPI_Init made it a world of 1" -e 'direct launched using "srun"' singleton.log \
  || fail "singleton message: $(cat singleton.log)"
[[ ! -e long.sqlite ]] || fail "singleton tasks created the database"

# 3. USR1 to every task of the step: rank 0 drains (exit 3), workers keep serving until stopped.
name="ckv-drain-$$"
srun -n 3 -O -J "$name" "$sweep" long.toml --progress off >drain.log 2>&1 &
step=$!
wait_for_done long.sqlite 30 90 "$step"
job=$(squeue -h -n "$name" -o %i | head -n 1)
[[ -n "$job" ]] || fail "job $name not found in squeue"
scancel --signal=USR1 "$job"
set +e; timeout 90 tail --pid="$step" -f /dev/null; wait "$step"; code=$?; set -e
[[ $code -eq 3 ]] || fail "srun after USR1 must exit 3, got $code: $(tail -20 drain.log)"
grep -q "drained on signal 10" drain.log || fail "no drain message: $(tail -20 drain.log)"
expect_sql long.sqlite "pragma integrity_check" ok
expect_sql long.sqlite "select count(*) from units where state='running'" 0
timeout 120 srun -n 3 -O "$sweep" long.toml --progress off >resume.log 2>&1 || fail "resume exited $?: $(tail -20 resume.log)"
expect_complete_once long.sqlite long
expect_sql long.sqlite "select count(*) from units where state='done'" 2304
echo "srun_run: all checks passed"
