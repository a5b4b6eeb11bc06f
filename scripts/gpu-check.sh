#!/usr/bin/env bash
# The GPU check in one call (docs/benchmarks.md "GPU"): the CUDA twin tests, the
# kernel benchmark (CPU and CUDA rows, n = 2k/8k/32k with Qwen2.5-7B shapes) and the demo
# campaign embedded on the GPU, each logged under OUT_DIR; then a summary. Meant to finish in
# well under 10 minutes on an H100/H200 once built.
#
#   scripts/gpu-check.sh [OUT_DIR]              on a GPU node that has the build dependencies
#                                               (scripts/setup.sh's packages, the CUDA toolkit):
#                                               builds build-gpu/ (sm_90 unless
#                                               CMAKE_CUDA_ARCHITECTURES is set), then checks.
#   scripts/gpu-check.sh --pack                 on a build machine without a GPU (this VM):
#                                               builds build-gpu/ and copies the four programs
#                                               and the shared libraries they need that a bare
#                                               CUDA image lacks into gpu-pack/ (git-ignored).
#   scripts/gpu-check.sh --from-pack [OUT_DIR]  on a bare GPU machine (no -dev packages, no
#                                               network): runs the checks from gpu-pack/.
#
# Exit status: 0 when every step passed; otherwise the number of failed steps. A twin test that
# reports "skipped" (exit 77: no device visible) is a failure here: this script exists to run it.
# Environment: CKV_GPU_SHAPES (default small,qwen-2k,qwen-8k,qwen-32k), CKV_GPU_CPU_GFLOP (the
# bench's --cpu-max-gflop, default 20: CPU rows above 20 GFLOP are skipped, to stay in 10 minutes).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

mode=build
case "${1:-}" in
  --pack) mode=pack; shift ;;
  --from-pack) mode=from-pack; shift ;;
  -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
esac
out=${1:-results/gpu-check}
shapes=${CKV_GPU_SHAPES:-small,qwen-2k,qwen-8k,qwen-32k}
cpu_gflop=${CKV_GPU_CPU_GFLOP:-20}

build_gpu() {
  command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
  command -v nvcc >/dev/null || { echo "gpu-check: no nvcc (CUDA toolkit) on PATH or in /usr/local/cuda"; exit 1; }
  local arch=${CMAKE_CUDA_ARCHITECTURES:-90}
  echo "== configuring build-gpu/ (CUDA architectures $arch, no MPI: the check runs embedded)"
  mkdir -p build-gpu
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCKV_MPI=OFF -DCKV_CUDA=ON \
        -DCMAKE_CUDA_ARCHITECTURES="$arch" >build-gpu/cmake.log 2>&1 \
    || { cat build-gpu/cmake.log; exit 1; }
  grep -q "CUDA=ON" build-gpu/cmake.log \
    || { grep -E "^-- ckv-sweep:" build-gpu/cmake.log; echo "gpu-check: CMake did not enable CUDA"; exit 1; }
  echo "== building ckv-sweep, test_cuda_twins, test_cuda_metrics, bench_kernels ($(nproc) jobs)"
  cmake --build build-gpu -j "$(nproc)" --target ckv-sweep test_cuda_twins test_cuda_metrics bench_kernels \
        >build-gpu/build.log 2>&1 \
    || { grep -B2 -A12 -E "error" build-gpu/build.log | head -80; exit 1; }
}

programs() {  # the four programs, as paths under $1
  echo "$1/tools/ckv_sweep/ckv-sweep $1/tests/test_cuda_twins $1/tests/test_cuda_metrics $1/bench/bench_kernels"
}

if [[ $mode == pack ]]; then
  build_gpu
  rm -rf gpu-pack && mkdir -p gpu-pack/bin gpu-pack/lib
  for p in $(programs build-gpu); do cp "$p" gpu-pack/bin/ && strip gpu-pack/bin/"$(basename "$p")"; done
  # Libraries a bare CUDA image lacks: everything ldd resolves outside the C runtime and the
  # CUDA driver (libcuda comes from the GPU machine's driver, never from here).
  for p in gpu-pack/bin/*; do
    ldd "$p" | awk '/=> \// {print $3}'
  done | sort -u | grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*|libcuda)\.so' \
    | while read -r lib; do cp -L "$lib" gpu-pack/lib/; done
  echo "== gpu-pack/: $(du -sh gpu-pack | cut -f1) ($(ls gpu-pack/lib | wc -l) libraries)"
  echo "   on the GPU machine: scripts/gpu-check.sh --from-pack [OUT_DIR]"
  exit 0
fi

if [[ $mode == from-pack ]]; then
  [[ -x gpu-pack/bin/ckv-sweep ]] || { echo "gpu-check: gpu-pack/ missing: run scripts/gpu-check.sh --pack first"; exit 1; }
  export LD_LIBRARY_PATH="$root/gpu-pack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  sweep=gpu-pack/bin/ckv-sweep twins=gpu-pack/bin/test_cuda_twins metrics=gpu-pack/bin/test_cuda_metrics
  bench=gpu-pack/bin/bench_kernels
else
  build_gpu
  read -r sweep twins metrics bench <<<"$(programs build-gpu)"
fi

mkdir -p "$out"
failed=0
step() {  # step NAME COMMAND...: run, log to $out/NAME.log, report
  local name=$1; shift
  local start=$SECONDS
  echo "== $name: $*"
  "$@" >"$out/$name.log" 2>&1
  local rc=$?
  if ((rc == 0)); then echo "   ok ($((SECONDS - start)) s)"
  else echo "   FAILED: exit $rc ($((SECONDS - start)) s); the end of $out/$name.log:"; tail -20 "$out/$name.log"; failed=$((failed + 1)); fi
  return 0
}

{ date -u; uname -a; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv 2>&1
  git rev-parse HEAD 2>/dev/null; } >"$out/machine.txt"
cat "$out/machine.txt"

step twins "$twins" --durations yes
step metrics_twin "$metrics" --durations yes
step bench "$bench" --shapes "$shapes" --cpu-max-gflop "$cpu_gflop"

# The demo campaign embedded on the GPU, in its own database (the cache is generated on first use).
sed "s#^database = .*#database = \"$out/demo-gpu.sqlite\"#" sweeps/demo.toml >"$out/demo-gpu.toml"
rm -f "$out"/demo-gpu.sqlite*
step demo "$sweep" run "$out/demo-gpu.toml" --device cuda --progress lines
step demo_report "$sweep" report "$out/demo-gpu.sqlite" --campaign demo --metric attn_recall

echo
echo "== summary (logs in $out/)"
grep -E "^(All tests passed|test cases:)" "$out/twins.log" "$out/metrics_twin.log" || true
grep -E "^(# (CPU|GPU|CUDA)|dev )" "$out/bench.log" || true
grep -E "^cuda " "$out/bench.log" || true
((failed == 0)) && echo "gpu-check: every step passed" || echo "gpu-check: $failed step(s) failed"
exit "$failed"
