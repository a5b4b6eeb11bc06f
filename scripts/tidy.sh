#!/usr/bin/env bash
# clang-tidy (.clang-tidy at the root: bugprone, performance, a few readability checks) over the
# C++ sources, with the compile commands of build/ (scripts/setup.sh configures it; CMake writes
# build/compile_commands.json). Any finding fails. clang-tidy costs 10-20 s of CPU per file (the
# fmt, spdlog, JSON and TOML headers), so by default it covers the code that reads files from
# outside and the fuzz targets; --all covers the whole tree (about 150 files: 20+ min on 2 cores).
#   scripts/tidy.sh                    the default set (CI; docs/ci.md)
#   scripts/tidy.sh --all              every .cpp of the tree
#   scripts/tidy.sh --changed [BASE]   the .cpp files changed since BASE (default main)
#   scripts/tidy.sh FILE...            these files
# Needs clang-tidy (Debian 12: clang-tidy; scripts/test.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.bash
ckv_apt_install "clang-tidy" clang-tidy

build=${CKV_TIDY_BUILD:-build}
[[ -f $build/compile_commands.json ]] \
  || { echo "== tidy: no $build/compile_commands.json (run scripts/setup.sh first)"; exit 2; }

# The parsers of outside files (safetensors, index.jsonl, sweep files, predictions, LongBench
# JSONL), the fuzz targets, and the scheduler's runner.
default_files=(cache/safetensors.cpp cache/cache_index.cpp cache/longbench.cpp cache/json_input.cpp e2e/prediction_import.cpp
               scheduler/spec*.cpp scheduler/runner.cpp fuzz/targets.cpp)
case "${1:-}" in
  --all) mapfile -t files < <(git ls-files '*.cpp' | grep -v '^bench/' ) ;;
  --changed) mapfile -t files < <(git diff --name-only --diff-filter=d "$(git merge-base HEAD "${2:-main}")" -- '*.cpp') ;;
  "") files=(); for f in "${default_files[@]}"; do [[ -f $f ]] && files+=("$f"); done ;;
  *) files=("$@") ;;
esac
# Only files that build/ compiles (the CUDA sources and files of a disabled option are not in it).
compiled=()
for f in "${files[@]}"; do
  grep -q "\"file\": \"$(pwd)/$f\"" "$build/compile_commands.json" && compiled+=("$f")
done
((${#compiled[@]})) || { echo "== tidy: no file to check"; exit 0; }
jobs=${CKV_TIDY_JOBS:-$(nproc)}
echo "== clang-tidy $(clang-tidy --version | grep -o 'version [0-9.]*' | cut -d' ' -f2) over ${#compiled[@]} file(s), $jobs at a time"
start=$SECONDS
log=$(mktemp -t ckv-tidy.XXXXXX)
trap 'rm -f "$log"' EXIT
printf '%s\n' "${compiled[@]}" | xargs -P "$jobs" -I{} sh -c 'clang-tidy -p "$1" --quiet "$2" 2>/dev/null' _ "$build" {} >"$log" || true
if grep -qE '(warning|error):' "$log"; then
  cat "$log"
  echo "== tidy: $(grep -cE '(warning|error):' "$log") finding(s) in $((SECONDS - start)) s"
  exit 1
fi
echo "== tidy: clean in $((SECONDS - start)) s"
