#!/usr/bin/env bash
# The portal's browser tests drive Debian's chromium through Playwright (never a downloaded browser).
# Another apt or dpkg run (unattended upgrades, a second terminal) holds apt's locks: wait for them rather
# than fail at once, and when the install still fails say why. A missing chromium never stops the other
# tests: the browser tests are skipped, saying so.
set -uo pipefail
if [ -x "${BACKORDER_CHROMIUM:-/usr/bin/chromium}" ]; then exit 0; fi
LOCK_WAIT=${BACKORDER_APT_LOCK_WAIT:-300}  # seconds to wait for apt's locks
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! command -v apt-get >/dev/null; then
  echo "chromium not found and apt-get unavailable: browser tests will be skipped" >&2
  exit 0
fi
apt_busy() {  # dpkg and apt hold fcntl locks on these files while they run
  $SUDO python3 - <<'PY' 2>/dev/null
import fcntl, sys
for path in ("/var/lib/dpkg/lock-frontend", "/var/lib/apt/lists/lock"):
    try:
        with open(path, "a") as handle:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(0)
    except OSError:
        pass
sys.exit(1)
PY
}
if apt_busy; then
  echo "apt is busy (another apt or dpkg is running): waiting up to ${LOCK_WAIT}s for its lock" >&2
fi
echo "installing Debian's chromium for the browser tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# DPkg::Lock::Timeout makes apt wait for the dpkg and lists locks instead of exiting with code 100
if ! $SUDO apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT" update -qq >"$log" 2>&1 \
   || ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT" install -y -qq chromium \
        >>"$log" 2>&1; then
  echo "could not install chromium with apt-get; browser tests will be skipped. apt said:" >&2
  grep -E '^(E|W):' "$log" >&2 || tail -n 5 "$log" >&2
  exit 0
fi
