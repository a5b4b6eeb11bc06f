#!/usr/bin/env bash
# The device policy through the real binary (worker/device_policy.hpp): every embedded worker
# logs the device it computes on; --device cpu forces the CPU; --device cuda on a machine with no
# visible GPU stops before anything is planned or written. Usage: device_choice.sh CKV_SWEEP WORKDIR
set -euo pipefail
sweep=$1; work=$2
rm -rf "$work"; mkdir -p "$work"; cd "$work"
cp "$OLDPWD/tests/data/cli/small.toml" small.toml
fail() { echo "FAIL: $*"; exit 1; }

"$sweep" small.toml --device cpu --progress off >cpu.log 2>&1 || fail "--device cpu run exited $?: $(tail -3 cpu.log)"
grep -Eq "embedded workers 0, 1: CPU" cpu.log || fail "per-worker device not logged: $(cat cpu.log)"
grep -q "2 worker threads (embedded; 0 on a GPU, 2 on the CPU)" cpu.log || fail "device summary: $(cat cpu.log)"

gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [[ "${gpus:-0}" -eq 0 ]]; then
  # auto falls back to the CPU ...
  rm -f small.sqlite*
  "$sweep" small.toml --progress off >auto.log 2>&1 || fail "auto run exited $?: $(tail -3 auto.log)"
  grep -q "embedded workers 0, 1: CPU (no GPU visible)" auto.log || fail "auto did not fall back to the CPU: $(cat auto.log)"
  # ... while cuda insists, before anything is written.
  rm -f small.sqlite*
  set +e; "$sweep" small.toml --device cuda --progress off >cuda.log 2>&1; code=$?; set -e
  [[ $code -eq 1 ]] || fail "--device cuda without a GPU must exit 1, got $code: $(cat cuda.log)"
  grep -q "\-\-device cuda, but no CUDA device is visible" cuda.log || fail "--device cuda message: $(cat cuda.log)"
  [[ ! -e small.sqlite ]] || fail "--device cuda without a GPU created the database"
else
  "$sweep" small.toml --device cuda --progress off >cuda.log 2>&1 || fail "--device cuda run exited $?"
  grep -q "GPU 0 of" cuda.log || fail "--device cuda did not bind a GPU: $(cat cuda.log)"
fi
echo "device_choice: all checks passed"
