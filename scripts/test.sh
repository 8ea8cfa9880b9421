#!/usr/bin/env bash
# The whole test suite: lint, types, layer contracts, schema drift, then pytest on SQLite; and again the
# database tests on PostgreSQL, at the same time, when BACKORDER_TEST_POSTGRES_URL is set (CI sets it); the scale-out tests
# also need BACKORDER_TEST_REDIS_URL (CI sets it) and are skipped without it; -rs lists every skip with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
scripts/install-browser.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff";          ruff check .
echo "== mypy (domain)"; mypy
echo "== import contracts"; lint-imports
if [ -z "${BACKORDER_TEST_POSTGRES_URL:-}" ]; then
  echo "== pytest (SQLite)"
  env -u BACKORDER_TEST_POSTGRES_URL pytest -q -rs -p no:cacheprovider "$@"
else
  # The two runs share nothing (SQLite files of their own, a database per PostgreSQL test, their own servers' ports)
  # and each leaves a core idle half the time (waiting on its database): run at the same time, each line prefixed
  # with its run's name, the suite takes about half as long (bench/README.md, "The test suite").
  echo "== pytest (SQLite) and pytest (PostgreSQL: database tests), at the same time"
  (env -u BACKORDER_TEST_POSTGRES_URL pytest -q -rs -p no:cacheprovider "$@" 2>&1 | sed -u 's/^/[sqlite] /') &
  sqlite=$!
  (pytest -q -rs -p no:cacheprovider -m db "$@" 2>&1 | sed -u 's/^/[postgres] /') &
  postgres=$!
  sqlite_status=0 postgres_status=0
  wait "$sqlite" || sqlite_status=$?
  wait "$postgres" || postgres_status=$?
  echo "== pytest (SQLite): exit $sqlite_status; pytest (PostgreSQL: database tests): exit $postgres_status"
  if [ "$sqlite_status" != 0 ] || [ "$postgres_status" != 0 ]; then exit 1; fi
fi
# With BACKORDER_CI_LEDGER_FORCED=1 (off by default), also a subset on SQLite with the ledger forced on
# (BACKORDER_TEST_LEDGER=forced, tests/conftest.py): every receipt at the head records its range, so the tests that
# read what a receipt left (rows, events, places, live updates) check the recorded path too. Chosen as the files whose
# answers the recorded path changed in the forced survey, and the API's reads of receipts.
if [ "${BACKORDER_CI_LEDGER_FORCED:-}" = 1 ]; then
  echo "== pytest (SQLite, ledger forced on: a subset)"
  env -u BACKORDER_TEST_POSTGRES_URL BACKORDER_TEST_LEDGER=forced pytest -q -rs -p no:cacheprovider \
    tests/integration/test_orders_queue.py tests/integration/test_service.py tests/integration/test_place_origin.py \
    tests/integration/test_queue_append.py tests/integration/test_queue_turns.py \
    tests/integration/test_receipt_range_end.py tests/api/test_live_updates.py tests/api/test_customer_words.py
fi
