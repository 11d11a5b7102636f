#!/usr/bin/env bash
# Install a headless browser for the report test (tests/test_report.py opens the HTML
# report in Chromium). Uses Debian's own package; a no-op when chromium is already there.
# CI runs as root on a clean machine; elsewhere, run it with sudo or install chromium yourself.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no chromium and no apt-get; install Chromium by hand" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null 2>&1
