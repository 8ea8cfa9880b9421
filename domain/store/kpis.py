"""Key figures of the backorder book as they stand now (the `kpis` query): aggregated in the database, one
row per figure or per age bucket, whatever the size of the shop. Their history over time is kpi_history.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import Any

from domain.store import models as t
from domain.store.current import backorders, history, reads
from domain.store.uow import ACTIVE


@dataclass(frozen=True)
class Kpis:
    open_backorders: int
    units_waiting: int
    units_allocated_not_shipped: int
    overdue_backorders: int
    skus_with_backorders: int
    orders: int
    orders_with_backorders: int
    fill_rate: float  # share of ordered units allocated at placement
    mean_wait_days: float | None  # over backorders fully allocated or shipped


@reads
async def kpis(today: date) -> Kpis:
    """Aggregated in the database: a shop with a million order lines reads one row per figure."""
    db = t.Order._meta.db
    pg = db.capabilities.dialect == "postgres"
    mark = (lambda n: f"${n}") if pg else (lambda n: "?")
    overdue_mark = mark(1)  # parameters in the order they appear: SQLite's are positional
    active = ", ".join(mark(n) for n in range(2, len(ACTIVE) + 2))
    [b] = await db.execute_query_dict(
        "SELECT COUNT(*) AS open, COALESCE(SUM(quantity - allocated_quantity), 0) AS waiting, "
        "COALESCE(SUM(allocated_quantity - shipped_quantity), 0) AS held, "
        f"COALESCE(SUM(CASE WHEN promised_date < {overdue_mark} THEN 1 ELSE 0 END), 0) AS overdue, "
        f'COUNT(DISTINCT sku) AS skus FROM {backorders()} WHERE status IN ({active})', [today, *ACTIVE])
    [o] = await db.execute_query_dict(
        'SELECT (SELECT COUNT(*) FROM "orders") AS orders, '
        f'(SELECT COUNT(DISTINCT order_id) FROM {backorders()}) AS with_backorders, '
        "COALESCE(SUM(quantity), 0) AS ordered, COALESCE(SUM(allocated_quantity), 0) AS filled "
        'FROM "order_lines" WHERE substitute_for IS NULL')
    # from the backorder to the moment it was first fully allocated (its history says when), not to its
    # last change: a shipment days later is not waiting for stock
    days = ("EXTRACT(EPOCH FROM (MIN(h.at) - b.created_at)) / 86400.0" if pg
            else "julianday(MIN(h.at)) - julianday(b.created_at)")
    [w] = await db.execute_query_dict(
        f'SELECT AVG(wait) AS wait FROM (SELECT {days} AS wait FROM {backorders()} AS b '
        f'JOIN {history()} AS h ON h.backorder_id = b.id '
        f"AND h.kind = {mark(1)} AND h.new_value = {mark(2)} GROUP BY b.id, b.created_at) AS served",
        ["STATUS", "ALLOCATED"])
    ordered, filled = int(o["ordered"]), int(o["filled"])
    return Kpis(
        open_backorders=int(b["open"]),
        units_waiting=int(b["waiting"]),
        units_allocated_not_shipped=int(b["held"]),
        overdue_backorders=int(b["overdue"]),
        skus_with_backorders=int(b["skus"]),
        orders=int(o["orders"]),
        orders_with_backorders=int(o["with_backorders"]),
        fill_rate=round(filled / ordered, 4) if ordered else 1.0,
        mean_wait_days=round(float(w["wait"]), 2) if w["wait"] is not None else None,
    )


@dataclass(frozen=True)
class AgeBucket:
    label: str
    min_days: int
    max_days: int | None  # None: no upper bound
    backorders: int
    units: int


AGE_BUCKETS = ((0, 7), (8, 14), (15, 30), (31, 60), (61, None))


@reads
async def open_backorders_by_age(today: date) -> list[AgeBucket]:
    """Open backorders and their units still waiting, by days since they were backordered, counted in the
    database (one statement, one row per bucket)."""
    db = t.Order._meta.db
    pg = db.capabilities.dialect == "postgres"
    mark = (lambda n: f"${n}") if pg else (lambda n: "?")
    # oldest bucket first: created before the start of the day `low - 1` days ago means `low` days old or more
    bounds = [(i, datetime.combine(today - timedelta(days=low - 1), dt_time(0), tzinfo=UTC))
              for i, (low, _) in reversed(list(enumerate(AGE_BUCKETS))) if low > 0]
    params: list[Any] = [b if pg else b.isoformat(sep=" ") for _, b in bounds]  # SQLite: tortoise's text form
    cases = " ".join(f"WHEN created_at < {mark(n)} THEN {i}" for n, (i, _) in enumerate(bounds, start=1))
    active = ", ".join(mark(n) for n in range(len(bounds) + 1, len(bounds) + 1 + len(ACTIVE)))
    rows = await db.execute_query_dict(
        f"SELECT bucket, COUNT(*) AS n, COALESCE(SUM(quantity - allocated_quantity), 0) AS units FROM "
        f'(SELECT CASE {cases} ELSE 0 END AS bucket, quantity, allocated_quantity FROM {backorders()} '
        f"WHERE status IN ({active})) AS aged GROUP BY bucket", [*params, *ACTIVE])
    found = {int(r["bucket"]): (int(r["n"]), int(r["units"])) for r in rows}
    return [AgeBucket(f"{low}+" if high is None else f"{low}–{high}", low, high, *found.get(i, (0, 0)))
            for i, (low, high) in enumerate(AGE_BUCKETS)]
