#!/usr/bin/env bash
# The portal's browser tests drive Debian's chromium through Playwright (never a downloaded browser).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser tests"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
else
  echo "chromium not found and apt-get unavailable: browser tests will be skipped" >&2
fi
