#!/usr/bin/env bash
# Quick start 2: set up, build, and run the whole test suite (ctest), the Python capture tests
# included. CUDA tests skip themselves when no GPU is visible.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.bash
# Every target; the CUDA twins too wherever a CUDA toolkit is installed, GPU or not, so that CI
# catches their compile errors (they then report SKIPPED). CKV_CUDA=OFF scripts/test.sh skips them.
export CKV_WERROR=${CKV_WERROR:-ON}
if [[ -z ${CKV_CUDA:-} ]] && nvcc=$(ckv_nvcc); then
  echo "== CUDA toolkit found ($nvcc): building the CUDA twins too (CKV_CUDA=OFF skips them)"
  export CKV_CUDA=ON
fi
scripts/setup.sh
# What the tests need beyond the build: Chromium for the HTML report test.
scripts/setup-test-tools.sh
# The capture tests (ctest -L capture) run ckv-capture and ckv-generate in .venv: build it (a
# no-op when it is up to date). In CI those tests fail rather than skip without it.
scripts/setup-python.sh
# `srun ckv-sweep` is tested for real (ctest -L slurm) on a single-node Slurm cluster: as root,
# bring it up (installing Slurm and munge if needed). In CI it must come up; elsewhere the
# slurm tests report SKIPPED when it cannot.
if [[ $(id -u) -eq 0 ]]; then
  if ! slurm/local-cluster.sh start; then
    [[ "${CI:-}" == "true" ]] && { echo "== the local Slurm cluster did not start (required in CI)"; exit 1; }
    echo "== no local Slurm cluster: the slurm tests will be reported SKIPPED"
  fi
else
  echo "== not root: slurm/local-cluster.sh not started; the slurm tests skip unless Slurm already runs"
fi
# The warnings of every compile are errors here and in CI (scripts/setup.sh passes CKV_WERROR to
# CMake); a user's build keeps them warnings, so a newer compiler's new warning breaks nothing.
(cd build && ctest --output-on-failure -j "$(nproc)" "$@")

# The safety net (docs/ci.md): the C++ formatting check, Python lint, clang-tidy, the ASan+UBSan
# build running the unit and CLI tests, and the fuzz targets for CKV_FUZZ_SECONDS (30) seconds
# each (about 16 minutes of the ~38 of a CI run). CKV_SAFETY=0 skips them all and
# CKV_SANITIZE_CI=0 only the sanitizers and fuzzers, for a quick local run; CI runs them all.
if [[ ${CKV_SAFETY:-1} != 0 || ${CI:-} == true ]]; then
  steps=("scripts/format.sh --check" "scripts/lint-python.sh" "scripts/tidy.sh")
  if [[ ${CKV_SANITIZE_CI:-1} == 1 ]]; then
    steps+=("scripts/sanitize.sh" "scripts/fuzz.sh ${CKV_FUZZ_SECONDS:-30}")
  fi
  for step in "${steps[@]}"; do
    start=$SECONDS
    echo "== $step"
    $step
    echo "== $step: done in $((SECONDS - start)) s"
  done
fi
