#!/usr/bin/env bash
# ruff over the capture package (tools/capture: src and tests), configured in
# tools/capture/ruff.toml. ruff is pinned in tools/capture/requirements-lint.txt
# and installed into its own small environment, .venv-lint/ (apart from .venv, which holds torch),
# created on the first run. Fails on any finding.
#   scripts/lint-python.sh           check
#   scripts/lint-python.sh --fix     apply ruff's safe fixes
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.bash

venv=.venv-lint
requirements=tools/capture/requirements-lint.txt
stamp=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ ! -f $venv/.ckv-stamp || $(cat $venv/.ckv-stamp) != "$stamp" || ! -x $venv/bin/ruff ]]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    ckv_apt_install "python3-venv (for $venv)" python3-venv
  fi
  echo "== lint-python: installing $(grep -v '^#' $requirements | xargs) into $venv"
  rm -rf $venv
  python3 -m venv $venv
  PIP_DISABLE_PIP_VERSION_CHECK=1 $venv/bin/pip install -q -r $requirements
  echo "$stamp" >$venv/.ckv-stamp
fi
cd tools/capture
if [[ ${1:-} == --fix ]]; then
  exec ../../$venv/bin/ruff check --fix .
fi
echo "== ruff $(../../$venv/bin/ruff --version | cut -d' ' -f2) over tools/capture"
../../$venv/bin/ruff check --output-format concise .
