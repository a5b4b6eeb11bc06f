#!/usr/bin/env bash
# Runs the libFuzzer targets (fuzz/fuzz_*.cpp, built by scripts/sanitize.sh into build-sanitize/)
# for a bounded time each, starting from the seed corpora fuzz/corpus/<target>/ (and the
# regression inputs fuzz/regressions/<target>/). New interesting inputs go to a scratch corpus
# under build-sanitize/fuzz-corpus/ (kept between runs there, never written into the repository);
# a crash, leak, hang (-timeout) or memory blow-up (-rss_limit_mb) stops that target, keeps the
# input as build-sanitize/fuzz-artifacts/<target>-crash-..., and fails the script.
#   scripts/fuzz.sh                 30 s per target (CI)
#   scripts/fuzz.sh 3600            an hour per target (on demand)
#   scripts/fuzz.sh 600 sweep_file  one target
# A fault found: fix it, then copy the artifact to fuzz/regressions/<target>/ (a short name that
# says what it was) so tests/test_fuzz_regressions.cpp replays it in every test run.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(safetensors cache_index sweep_file predictions)
build=build-sanitize
for t in "${targets[@]}"; do
  [[ -x $build/fuzz/fuzz_$t ]] || scripts/sanitize.sh --build-only
done
mkdir -p $build/fuzz-artifacts
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$t
  mkdir -p "$corpus"
  dirs=("$corpus" "fuzz/corpus/$t")
  [[ -d fuzz/regressions/$t ]] && dirs+=("fuzz/regressions/$t")
  log=$build/fuzz-artifacts/$t.log
  echo "== fuzz $t for $seconds s (log: $log)"
  # -max_len: sample files and sweep files of interest are small; the readers' size checks are
  # covered by the seeds. -timeout: one input taking 10 s is a hang.
  if "$build/fuzz/fuzz_$t" "${dirs[@]}" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$t-" >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$log" | tail -n 1 | sed 's/^/   /'
  else
    failed+=("$t")
    grep -E -A30 'ERROR: |fuzz target: |==[0-9]+==' "$log" | head -60
    ls -1 $build/fuzz-artifacts/"$t"-* 2>/dev/null | grep -v '\.log$' | sed 's/^/   input: /'
  fi
done
if ((${#failed[@]})); then
  echo "== fuzz: a fault in ${failed[*]} (fix it, keep the input in fuzz/regressions/<target>/)"
  exit 1
fi
echo "== fuzz: no fault in ${targets[*]} ($seconds s each)"
