#!/usr/bin/env bash
# One ctest entry: one test file of tools/capture/tests under .venv's Python (scripts/setup-python.sh),
# with transformers 5 (tf5, .venv itself) or the last 4.x (tf4, the .venv/overlays/transformers4
# overlay first on PYTHONPATH). Without an up-to-date environment the entry reports SKIPPED (exit
# 77), except under CI=true, where it fails: CI must run these tests.
# Usage: run_pytest.sh SOURCE_DIR CKV_SWEEP tf5|tf4 TEST_FILE
set -euo pipefail
source_dir=$1 variant=$3 test_file=$4
export CKV_SWEEP=$2
venv=$source_dir/.venv
stamp=$(cd "$source_dir" && cat tools/capture/requirements.txt tools/capture/requirements-transformers4.txt \
        tools/capture/pyproject.toml | sha256sum | cut -d' ' -f1)
problem=""
if [[ ! -x $venv/bin/python || ! -f $venv/.ckv-stamp ]]; then
  problem="the Python environment $venv is missing"
elif [[ $(cat "$venv/.ckv-stamp") != "$stamp" ]]; then
  problem="the Python environment $venv is older than tools/capture's requirement files"
elif [[ $variant == tf4 && ! -d $venv/overlays/transformers4 ]]; then
  problem="the transformers 4 overlay $venv/overlays/transformers4 is missing"
fi
if [[ -n $problem ]]; then
  if [[ ${CI:-} == true ]]; then echo "FAIL: $problem: scripts/test.sh runs scripts/setup-python.sh first"; exit 1; fi
  echo "SKIPPED: $problem (run scripts/setup-python.sh)"; exit 77
fi
# This checkout's package first: the editable install in .venv may point at another checkout.
export PYTHONPATH=$source_dir/tools/capture/src
if [[ $variant == tf4 ]]; then
  export PYTHONPATH=$venv/overlays/transformers4:$PYTHONPATH
fi
# The models are tiny: one thread each keeps parallel ctest entries from oversubscribing the cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cd "$source_dir/tools/capture"
"$venv/bin/python" -c 'import transformers, torch, sys; print(f"python {sys.version.split()[0]}, torch {torch.__version__}, transformers {transformers.__version__}")'
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider -rfE "tests/$test_file"
