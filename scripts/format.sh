#!/usr/bin/env bash
# clang-format (.clang-format at the root) over the tracked C++ and CUDA sources
# (*.cpp *.hpp *.cu *.cuh; not the generated e2e/unicode_tables.inc).
#   scripts/format.sh            rewrites the files in place
#   scripts/format.sh --check    changes nothing; lists the files that differ and fails if any do
#   scripts/format.sh [--check] FILE...   only these files
# Needs clang-format (Debian 12: clang-format, version 14; another version may format a few
# constructs differently).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.bash
ckv_apt_install "clang-format" clang-format
check=0
if [[ ${1:-} == --check ]]; then check=1; shift; fi
if (($#)); then files=("$@"); else mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.cu' '*.cuh'); fi
if ((check == 0)); then
  printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -n 16 clang-format -i
  echo "== format: formatted ${#files[@]} file(s)"
  exit 0
fi
differ=()
for f in "${files[@]}"; do
  clang-format "$f" | cmp -s - "$f" || differ+=("$f")
done
if ((${#differ[@]})); then
  printf '%s\n' "${differ[@]}"
  echo "== format: ${#differ[@]} of ${#files[@]} file(s) differ from .clang-format (scripts/format.sh fixes them)"
  exit 1
fi
echo "== format: ${#files[@]} file(s) match .clang-format"
