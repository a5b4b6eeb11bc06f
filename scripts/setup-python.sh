#!/usr/bin/env bash
# Builds the Python environment of tools/capture (ckv-capture, ckv-generate and their tests) in
# .venv/: the pinned packages of tools/capture/requirements.txt, the package itself (editable, so
# the console scripts run the checked-out source), and an overlay with the last transformers 4.x
# (.venv/overlays/transformers4) so the tests run against both major versions.
# Idempotent: when .venv already matches the requirement files (a stamp of their hash) and
# imports, nothing is done. pip's cache (~/.cache/pip) makes a rebuild download nothing. Needs Python >= 3.10
# (Debian 12: python3 3.11; python3-venv is installed when missing, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.bash

python=${CKV_PYTHON:-python3}
venv=.venv
requirements=(tools/capture/requirements.txt tools/capture/requirements-transformers4.txt)
stamp=$(cat "${requirements[@]}" tools/capture/pyproject.toml | sha256sum | cut -d' ' -f1)

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "== setup-python: $python is missing or older than 3.10 (set CKV_PYTHON)"; exit 1
fi
if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' 2>/dev/null; then
  ckv_apt_install "python3-venv (for $venv)" python3-venv
fi

if [[ -f $venv/.ckv-stamp && $(cat $venv/.ckv-stamp) == "$stamp" ]] \
   && $venv/bin/python -c 'import ckv_capture, torch, transformers' 2>/dev/null; then
  echo "== setup-python: $venv is up to date ($($venv/bin/python -c 'import torch, transformers; print(f"torch {torch.__version__}, transformers {transformers.__version__}")'))"
  exit 0
fi

start=$SECONDS
if [[ ! -x $venv/bin/python ]]; then
  echo "== setup-python: creating $venv"
  "$python" -m venv $venv
fi
rm -f $venv/.ckv-stamp
export PIP_DISABLE_PIP_VERSION_CHECK=1
ckv_progress "setup-python: installing tools/capture/requirements.txt" \
  "2-15 min on a first install, which downloads ~3 GB of wheels, torch's and its CUDA libraries (2 min on a fast network); 1-2 min from pip's cache" \
  $venv/pip.log '^ *(Collecting|Downloading|Installing|Successfully)' \
  $venv/bin/python -m pip install --progress-bar off -r tools/capture/requirements.txt \
  || { tail -n 30 $venv/pip.log; exit 1; }
$venv/bin/python -m pip install -q --no-deps --no-build-isolation -e tools/capture
overlay=$venv/overlays/transformers4
rm -rf "$overlay"
$venv/bin/python -m pip install -q --no-deps --target "$overlay" -r tools/capture/requirements-transformers4.txt
PYTHONPATH=$overlay $venv/bin/python -c 'import transformers, tokenizers; assert transformers.__version__.startswith("4."), transformers.__version__' \
  || { echo "== setup-python: the transformers 4 overlay does not import"; exit 1; }
echo "$stamp" > $venv/.ckv-stamp
echo "== setup-python: $venv ready in $((SECONDS - start)) s ($($venv/bin/python -c 'import torch, transformers; print(f"torch {torch.__version__}, transformers {transformers.__version__}")'); overlay transformers $(PYTHONPATH=$overlay $venv/bin/python -c 'import transformers; print(transformers.__version__)'))"
