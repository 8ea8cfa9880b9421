#!/usr/bin/env bash
# The whole test suite: lint, types, layer contracts, schema drift, then pytest on SQLite; and again the
# database tests on PostgreSQL when BACKORDER_TEST_POSTGRES_URL is set (CI sets it); the scale-out tests
# also need BACKORDER_TEST_REDIS_URL (CI sets it) and are skipped without it; -rs lists every skip with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
scripts/install-browser.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff";          ruff check .
echo "== mypy (domain)"; mypy
echo "== import contracts"; lint-imports
echo "== pytest (SQLite)"
env -u BACKORDER_TEST_POSTGRES_URL pytest -q -rs -p no:cacheprovider "$@"
if [ -n "${BACKORDER_TEST_POSTGRES_URL:-}" ]; then
  echo "== pytest (PostgreSQL: database tests)"
  pytest -q -rs -p no:cacheprovider -m db "$@"
fi
