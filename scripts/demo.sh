#!/usr/bin/env bash
# Run Backorder Desk with demo data on the embedded default (SQLite file backorder.db).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/backorder serve --demo "$@"
