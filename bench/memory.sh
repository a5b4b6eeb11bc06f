#!/usr/bin/env bash
# Peak host memory of one unit of every method at n tokens with Qwen2.5-7B shapes (H 28, G 4,
# d 128), default configurations plus the full-graph variants (docs/benchmarks.md "Memory").
#   bench/memory.sh [BUILD_DIR] [N]        (defaults: build, 32768)
# The full-row methods compute H·n² attention entries on the CPU: at 32k expect minutes each.
set -euo pipefail
build=${1:-build}
n=${2:-32768}
exe="$build/bench/bench_memory"
[[ -x $exe ]] || { echo "bench/memory.sh: $exe not built"; exit 1; }
run() { "$exe" --n "$n" "$@"; }
for m in full random streaming_llm snapkv pyramidkv tova knorm circuitkv_neumann circuitkv_walk circuitkv_influence; do
  run --method "$m" --window-rows
done
run --method h2o
run --method circuitkv_neumann --set graph=full
run --method circuitkv_walk --set graph=full
run --method circuitkv_walk --set graph=full --set direction=product
run --method circuitkv_influence --set graph=full
run --method rc
run --method rwr
