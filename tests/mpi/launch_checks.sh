#!/usr/bin/env bash
# Launcher detection refuses a world that is not the one the launcher meant (docs/spec/MISSION.md R6): under srun
# the MPI world must hold SLURM_NTASKS ranks, and tasks that each came up as an MPI singleton
# (an MPI that cannot talk to the launcher) stop with a clear message instead of N copies of the
# campaign each writing the database. Usage: launch_checks.sh CKV_SWEEP WORKDIR
set -euo pipefail
source "$(dirname "$0")/../shell_helpers.bash"
need_mpi
cd "$work"
cp "$src/tests/data/cli/small.toml" small.toml

# srun said 3 tasks, MPI has 2 ranks.
set +e
timeout 60 "${MPIRUN[@]}" -np 2 -x SLURM_STEP_ID=0 -x SLURM_NTASKS=3 "$sweep" small.toml >mismatch.log 2>&1
code=$?
set -e
[[ $code -ne 0 ]] || fail "a world of 2 under SLURM_NTASKS=3 must fail"
grep -q "SLURM_NTASKS=3 tasks but the MPI world has 2 ranks" mismatch.log || fail "mismatch message: $(cat mismatch.log)"

# srun started 2 tasks but no MPI environment reached this one: MPI_Init makes a singleton.
set +e
SLURM_STEP_ID=0 SLURM_NTASKS=2 SLURM_PROCID=1 timeout 60 "$sweep" small.toml >singleton.log 2>&1
code=$?
set -e
[[ $code -eq 1 ]] || fail "a singleton among 2 srun tasks must exit 1, got $code: $(cat singleton.log)"
grep -q "MPI_Init made it a world of 1" singleton.log || fail "singleton message: $(cat singleton.log)"
[[ ! -e small.sqlite ]] || fail "a refused launch must not create the database"
echo "launch_checks: all checks passed"
