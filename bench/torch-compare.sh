#!/usr/bin/env bash
# bench_kernels' CPU rows against a plain single-thread PyTorch version of the same rows
# (bench/torch_compare.py), joined by (kernel, shape): ckv ms, torch ms, torch/ckv (> 1 means
# ckv is faster), and a last line naming the rows where ckv is less than 2x faster.
#
#   bench/torch-compare.sh [--build DIR] [--shapes small,qwen-2k] [--only snapkv,metrics]
#                          [--min-time S] [--cpu-max-gflop G] [--rounds N]
#
# --build: the CMake build folder holding bench/bench_kernels (default build). The Python is
# .venv/bin/python (scripts/setup-python.sh), or $CKV_PYTHON. Both sides run on one thread:
# CKV_KERNEL_THREADS=1 for the C++ kernels, torch.set_num_threads(1) for PyTorch. The header
# lines of both programs are printed first (limits, matrix-product yardstick, versions).
# --rounds N (default 1) runs the two programs N times, alternating, and prints each side's
# median over the rounds, the ratio of the medians and the range of the rounds' own ratios: on a
# shared or noisy machine one run's ratio moves by a third (a row's memory placement, neighbours).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
python=${CKV_PYTHON:-.venv/bin/python}
shapes=small,qwen-2k,qwen-8k
only=""
min_time=0.5
max_gflop=40
rounds=1
usage() { sed -n '6,7p' "$0" | sed 's/^#  *//'; }
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --shapes) shapes=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    --cpu-max-gflop) max_gflop=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "torch-compare: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
bench=$build/bench/bench_kernels
[[ -x $bench ]] || { echo "torch-compare: no $bench (cmake --build $build --target bench_kernels)" >&2; exit 1; }
"$python" -c 'import torch' 2>/dev/null \
  || { echo "torch-compare: $python cannot import torch (scripts/setup-python.sh builds .venv)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--shapes "$shapes" --min-time "$min_time")
[[ -n $only ]] && common+=(--only "$only")

[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "torch-compare: --rounds must be a positive integer, got '$rounds'" >&2; exit 2; }

ckv_csvs=() torch_csvs=()
for ((round = 1; round <= rounds; ++round)); do
  tag=""
  ((rounds > 1)) && tag=" (round $round of $rounds)"
  echo "== bench_kernels (CKV_KERNEL_THREADS=1)$tag"
  status=0
  CKV_KERNEL_THREADS=1 "$bench" --cpu-only --format csv --cpu-max-gflop "$max_gflop" "${common[@]}" \
    >"$work/ckv.$round.csv" 2>"$work/ckv.log" || status=$?
  grep '^#' "$work/ckv.log" || true
  if ((status)); then
    # 1: a check failed (its rows are still timed); anything else: no usable output.
    grep -v '^#' "$work/ckv.log" | grep -v '^  cpu ' >&2 || true
    ((status == 1)) || { echo "torch-compare: bench_kernels exited $status" >&2; exit "$status"; }
    echo "# bench_kernels: a check failed (see its check column: $bench --cpu-only ...)"
  fi

  echo "== PyTorch (bench/torch_compare.py)$tag"
  "$python" bench/torch_compare.py --max-gflop "$max_gflop" "${common[@]}" --format csv \
    >"$work/torch.$round.csv" 2>"$work/torch.log" || { cat "$work/torch.log" >&2; exit 1; }
  grep -v '^  torch ' "$work/torch.log" || true
  ckv_csvs+=("$work/ckv.$round.csv")
  torch_csvs+=("$work/torch.$round.csv")
done

echo
join() { local IFS=,; echo "$*"; }
"$python" bench/torch_compare.py --ckv-csv "$(join "${ckv_csvs[@]}")" --torch-csv "$(join "${torch_csvs[@]}")"
