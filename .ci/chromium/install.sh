#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for tests/review/test_report_browser.py,
# which opens the HTML report over file:// and checks images and the console.
# Idempotent: returns at once when chromium is already on PATH. Needs root (or sudo).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "chromium already installed: $(chromium --version 2>/dev/null || true)"
    exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# fonts-liberation: a real font, so screenshots show legible text.
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
echo "installed: $(chromium --version)"
