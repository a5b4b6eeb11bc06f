#!/usr/bin/env bash
# Installs the build dependencies (Debian 12 packages) and builds ckv-sweep into build/.
# Idempotent: a second run only rebuilds what changed. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin libsqlite3-dev sqlite3
          libtomlplusplus-dev libboost-program-options-dev catch2 nlohmann-json3-dev libfmt-dev
          libspdlog-dev libssl-dev gnuplot-nox libopenblas-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# CUDA is used when its toolkit is present (kernels compile for sm_80/sm_90; the binary falls
# back to the CPU when no GPU is visible). CKV_CUDA=OFF in the environment forces a CPU build.
cuda_flag=()
[[ "${CKV_CUDA:-}" == "OFF" ]] && cuda_flag=(-DCKV_CUDA=OFF)
jobs=$(nproc)
mkdir -p build
echo "== configuring and building (build/, $jobs jobs; logs in build/*.log)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${cuda_flag[@]}" >build/cmake.log 2>&1 \
  || { cat build/cmake.log; exit 1; }
grep -E "^-- ckv-sweep:" build/cmake.log || true
cmake --build build -j "$jobs" >build/build.log 2>&1 || { grep -B2 -A12 -E "error|Error" build/build.log | head -80; exit 1; }
echo "== built build/tools/ckv_sweep/ckv-sweep"
