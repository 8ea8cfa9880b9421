"""The one way the store's readers name the backorders and their history: as they are now, with any receipt still
recorded as a range (`queue_serves`, issue 15) applied as its fold will write it (migration 0026's views).

Readers (the GraphQL loaders and lists, search and filters, KPIs, export, the backlog gauge, the dispatcher's reads)
select from `backorders()` and `history()`, never from the tables: between a receipt's commit and its fold the
tables still show the backorders it served whole as waiting. Writers lock the SKU first, which folds its pending
ranges, and then read and write the tables themselves (domain.store.uow). tests/unit/test_store_reads_current.py
keeps every reader on this seam.

The views cost readers more than the tables even with nothing pending (bench/README.md, step 5: SQLite reads the
whole row through a compound view, where the table answers a count from an index; PostgreSQL plans three branches),
so they are read only while receipts may record ranges: `VIEWS` goes with `domain.use_cases.shared.LEDGER_FROM`
(tests/unit/test_store_reads_current.py holds them together). With it off no range is ever recorded and the tables
are what the views would show.
"""

from __future__ import annotations

# whether readers read the views: on exactly when receipts record ranges (`shared.LEDGER_FROM` below 10**9)
VIEWS = False


def backorders() -> str:
    """The backorders as readers see them, as quoted SQL for a FROM or JOIN."""
    return '"backorders_now"' if VIEWS else '"backorders"'


def history() -> str:
    """Their history as readers see it, as quoted SQL for a FROM or JOIN."""
    return '"backorder_history_now"' if VIEWS else '"backorder_history"'
