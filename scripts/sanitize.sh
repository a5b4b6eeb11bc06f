#!/usr/bin/env bash
# The sanitizer build (docs/ci.md): every library, ckv-sweep, the unit tests and the fuzz targets
# compiled by clang with AddressSanitizer + UndefinedBehaviorSanitizer (-O1, any error aborts:
# -fno-sanitize-recover=all) and -Werror into build-sanitize/, then the unit and CLI tests run
# under it. Not run here, and why:
#   cuda     no CUDA in this build (CKV_CUDA=OFF: nvcc does not take the sanitizers);
#   mpi      no MPI in this build (Open MPI's runtime reports its own leaks; the MPI path is the
#            same scheduler code the embedded tests run);
#   slurm    needs the MPI build and the local cluster;
#   capture  Python (ckv-capture, ckv-generate): the C++ they call is covered by the CLI tests;
#   faults_* the shell fault scenarios time kills and drains against the Release build's speed
#            (a kill after the first commit, a drain grace); the C++ fault tests (test_faults_*)
#            do run.
#   scripts/sanitize.sh               build and run the tests
#   scripts/sanitize.sh --build-only  build only (scripts/fuzz.sh needs the fuzz targets)
# Extra arguments after the options go to ctest (e.g. -R test_cache).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.bash

build_only=0
if [[ ${1:-} == --build-only ]]; then build_only=1; shift; fi
ckv_apt_install "clang and its sanitizer/libFuzzer runtimes" clang libclang-rt-14-dev
command -v clang++ >/dev/null || { echo "== sanitize: clang++ not found"; exit 1; }

build=build-sanitize
mkdir -p $build
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# The libraries and ckv-sweep as a unity build (CKV_UNITY, as scripts/demo.sh builds them): the
# only build in CI that batches files, so a file-local name that collides inside a batch fails
# here before it fails a user's quick start; the tests stay one file each. (ASan's
# initialisation-order check then sees the files of one batch as one unit.) A new build dir
# uses Ninja, as scripts/setup.sh does.
generator=()
[[ -f $build/CMakeCache.txt ]] || { command -v ninja >/dev/null && generator=(-G Ninja); }
echo "== configuring $build/ (clang, ASan + UBSan, -O1, CKV_FUZZ=ON, CKV_WERROR=ON, CKV_UNITY=ON)"
CXX=clang++ CC=clang cmake -S . -B $build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER=clang++ -DCKV_CUDA=OFF -DCKV_MPI=OFF -DCKV_BENCH=OFF -DCKV_SANITIZE=ON \
  -DCKV_FUZZ=ON -DCKV_WERROR=ON -DCKV_UNITY=ON \
  "${launcher[@]}" >$build/cmake.log 2>&1 || { cat $build/cmake.log; exit 1; }
jobs=$(nproc)
ckv_progress "building $build/ ($jobs jobs)" "about 8 min on 2 idle cores, seconds when up to date" \
  $build/build.log '^\[ *[0-9]+(%|/[0-9]+)\]' cmake --build $build -j "$jobs" \
  || { grep -B2 -A12 -E "error:|\*\*\*" $build/build.log | head -80 || tail -n 40 $build/build.log; exit 1; }
((build_only)) && exit 0

# Leaks are errors too (LeakSanitizer is part of ASan on Linux); a report names the stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd $build
ctest --output-on-failure -j "$jobs" -LE 'cuda|mpi|slurm|capture' -E '^faults_' "$@"
