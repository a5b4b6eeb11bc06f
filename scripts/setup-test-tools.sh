#!/usr/bin/env bash
# Installs what the test suite needs beyond the build (scripts/setup.sh) and the Python
# environment (scripts/setup-python.sh): a headless browser for the HTML report test
# (tests/cli/html_report.sh renders the page in Debian's `chromium`; about 110 MB to download and
# 330 MB installed, so only the test path installs it: the demo does not need it). Without it
# that test reports SKIPPED, and fails under CI=true. Called by scripts/test.sh; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.bash
ckv_apt_install "a headless browser for the HTML report test" chromium
