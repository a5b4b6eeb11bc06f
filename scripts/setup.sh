#!/usr/bin/env bash
# Installs the build dependencies (Debian 12 packages) and builds into build/.
#   scripts/setup.sh                 every target: ckv-sweep, the tests, the benchmarks (scripts/test.sh)
#   scripts/setup.sh TARGET...       only these CMake targets and what they need (scripts/demo.sh:
#                                    ckv-sweep)
# CUDA: CKV_CUDA=ON builds the CUDA kernels (it fails when no CUDA toolkit is found), CKV_CUDA=OFF
# never does; unset, they are built only when a GPU is visible (nvidia-smi -L lists one) and a
# toolkit is found. build/ is configured with that choice every time, so one build/ reused with
# another choice stays consistent. Long steps print a line every 20 s.
# Idempotent: a second run only rebuilds what changed. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.bash

targets=("$@")
# Build and run ckv-sweep; sqlite3, gnuplot and Open MPI's mpirun are called by ckv-sweep or the
# tests; libopenblas-dev: bench_kernels' sgemm yardstick (loaded at run time); procps: pgrep and ps
# of the fault tests (not in a minimal Debian); ninja-build: the generator of a new build/.
packages=(build-essential cmake ninja-build pkg-config libopenmpi-dev openmpi-bin libsqlite3-dev sqlite3
          libtomlplusplus-dev libboost-program-options-dev catch2 nlohmann-json3-dev libfmt-dev
          libspdlog-dev libssl-dev gnuplot-nox libopenblas-dev procps)
ckv_apt_install "the build dependencies" "${packages[@]}"

cuda=OFF nvcc=""
case "${CKV_CUDA:-}" in
  ON)
    nvcc=$(ckv_nvcc) || { echo "== CKV_CUDA=ON but no CUDA toolkit: no nvcc in CUDACXX, on PATH or in /usr/local/cuda/bin"; exit 1; }
    cuda=ON why="CKV_CUDA=ON" ;;
  OFF) why="CKV_CUDA=OFF" ;;
  "")
    if ckv_gpu_visible; then
      if nvcc=$(ckv_nvcc); then cuda=ON why="a GPU is visible"
      else why="a GPU is visible but no CUDA toolkit (nvcc) was found"; fi
    else
      why="no GPU visible; CKV_CUDA=ON builds them anyway"
    fi ;;
  *) echo "== CKV_CUDA must be ON, OFF or unset, not '$CKV_CUDA'"; exit 2 ;;
esac
echo "== CUDA kernels: $cuda ($why)"

# Unity build (CMakeLists.txt, CKV_UNITY): a first build of a few targets (the demo's ckv-sweep)
# compiles each folder's files a few at a time, about half the CPU time. A full build (the tests,
# CI) compiles every file on its own, so that compile_commands.json lists each file for clang-tidy
# and a file that does not include what it uses fails there; CKV_UNITY=ON|OFF overrides.
if [[ -n ${CKV_UNITY:-} ]]; then unity=$CKV_UNITY
elif ((${#targets[@]})); then unity=ON
else unity=OFF; fi

jobs=$(nproc)
mkdir -p build
# CKV_WERROR=ON (scripts/test.sh, CI): compiler warnings are errors.
cmake_args=(-S . -B build -DCMAKE_BUILD_TYPE=Release -DCKV_CUDA=$cuda -DCKV_WERROR=${CKV_WERROR:-OFF}
            -DCKV_UNITY=$unity)
# A build/ configured before any toolkit was found remembers that; let CMake look again.
if [[ $cuda == ON ]] && grep -q '^CMAKE_CUDA_COMPILER:[A-Z]*=.*NOTFOUND' build/CMakeCache.txt 2>/dev/null; then
  cmake_args+=(-U CMAKE_CUDA_COMPILER)
fi
# A new build/ uses Ninja: it compiles a library's files while the libraries it links are still
# being compiled, where Make finishes each library first and leaves a core idle behind every
# single-file folder (docs/benchmarks.md, "Quick start"). A build/ configured before keeps its
# generator.
[[ -f build/CMakeCache.txt ]] || cmake_args+=(-G Ninja)
echo "== configuring build/"
cmake "${cmake_args[@]}" >build/cmake.log 2>&1 || { cat build/cmake.log; exit 1; }
grep -E "^-- ckv-sweep:" build/cmake.log || true
grep -q "ckv-sweep: CUDA=$cuda" build/cmake.log \
  || { echo "== CMake did not configure CUDA=$cuda (build/cmake.log):"; tail -n 30 build/cmake.log; exit 1; }

# What a first build usually takes: measured CPU time of the compilers (2026-12, Debian 12's GCC
# 12, -O2; docs/benchmarks.md "Quick start") over the cores; a rebuild of a few changed files
# takes seconds. ckv-sweep alone: 11 CPU-minutes file by file, 5 as a unity build with the cold code at -O1.
if ((${#targets[@]})); then
  what="${targets[*]}" target_args=(--target "${targets[@]}") cpu_minutes=11
  [[ $unity == ON ]] && cpu_minutes=5
else
  what="every target (ckv-sweep, tests, benchmarks)" target_args=() cpu_minutes=16
fi
[[ $cuda == ON ]] && cpu_minutes=$((cpu_minutes + 2))
usual="about $(( (cpu_minutes + jobs - 1) / jobs )) min for a first build on $jobs idle cores, longer on a busy machine"
ckv_progress "building $what in build/ ($jobs jobs)" "$usual" build/build.log '^\[ *[0-9]+(%|/[0-9]+)\]' \
  cmake --build build -j "$jobs" "${target_args[@]}" \
  || { grep -B2 -A12 -E "error:|\*\*\*" build/build.log | head -80 || tail -n 40 build/build.log; exit 1; }
echo "== built $what in build/"
