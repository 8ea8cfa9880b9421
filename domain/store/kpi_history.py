"""Read side of the KPIs over time: what `domain.kpi_series` derives its buckets from, two statements per call
whatever the range (order lines grouped per day in the database; one row per backorder with the moments its
history says it was first served, cancelled or substituted)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import Any

from domain.kpi_series import BackorderSpan, DailyLines, Interval, KpiBucket, kpi_series
from domain.store import mapping
from domain.store import models as t
from domain.store.current import backorders, history, reads

SERVED = ("ALLOCATED", "SHIPPED")


def _db() -> tuple[Any, bool]:
    db = t.Order._meta.db
    return db, db.capabilities.dialect == "postgres"


def _at(day: date, pg: bool) -> Any:
    at = datetime.combine(day, dt_time(0), tzinfo=UTC)
    return at if pg else at.isoformat(sep=" ")  # SQLite compares tortoise's text form


def _utc(value: Any) -> datetime | None:
    moment = mapping.as_datetime(value)
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@reads
async def daily_lines(first: date, last: date) -> list[DailyLines]:
    """Order lines placed per UTC day (substitutes' lines left out), with those backordered at placement."""
    db, pg = _db()
    mark = (lambda n: f"${n}") if pg else (lambda n: "?")
    day = "to_char(o.placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')" if pg else "substr(o.placed_at, 1, 10)"
    rows = await db.execute_query_dict(
        f"SELECT {day} AS day, COUNT(*) AS lines, SUM(CASE WHEN b.id IS NULL THEN 0 ELSE 1 END) AS bo_lines, "
        "SUM(l.quantity) AS units, COALESCE(SUM(b.original_quantity), 0) AS bo_units "
        'FROM "order_lines" l JOIN "orders" o ON o.id = l.order_id '
        f'LEFT JOIN {backorders()} b ON b.id = l.backorder_id '
        f"WHERE l.substitute_for IS NULL AND o.placed_at >= {mark(1)} AND o.placed_at < {mark(2)} GROUP BY {day}",
        [_at(first, pg), _at(last + timedelta(days=1), pg)])
    return [DailyLines(date.fromisoformat(str(r["day"])), int(r["lines"]), int(r["bo_lines"]), int(r["units"]),
                       int(r["bo_units"])) for r in rows]


@reads
async def backorder_spans(first: date, last: date) -> list[BackorderSpan]:
    """Every backorder made before the end of `last` and not closed before `first`: what any bucket of the
    range can count (opened, served, cancelled, still waiting at a bucket's end)."""
    db, pg = _db()
    mark = (lambda n: f"${n}") if pg else (lambda n: f"?{n}")  # numbered: each is used more than once
    served = f"MIN(CASE WHEN h.new_value IN ({mark(1)}, {mark(2)}) THEN h.at END)"
    cancelled = f"MIN(CASE WHEN h.new_value = {mark(3)} THEN h.at END)"
    substituted = f"MIN(CASE WHEN h.new_value = {mark(4)} THEN h.at END)"
    closed = f"MIN(CASE WHEN h.new_value IN ({mark(1)}, {mark(2)}, {mark(3)}, {mark(4)}) THEN h.at END)"
    rows = await db.execute_query_dict(
        f"SELECT b.created_at AS created_at, b.original_quantity AS units, b.promised_date AS promised_date, "
        f"{served} AS served_at, {cancelled} AS cancelled_at, {substituted} AS substituted_at "
        f'FROM {backorders()} b LEFT JOIN {history()} h ON h.backorder_id = b.id AND h.kind = '
        f"{mark(5)} WHERE b.created_at < {mark(6)} GROUP BY b.id, b.created_at, b.original_quantity, "
        f"b.promised_date HAVING {closed} IS NULL OR {closed} >= {mark(7)}",
        [*SERVED, "CANCELLED", "SUBSTITUTED", "STATUS", _at(last + timedelta(days=1), pg), _at(first, pg)])
    spans = []
    for r in rows:
        created, served_at = _utc(r["created_at"]), _utc(r["served_at"])
        cancelled_at, substituted_at = _utc(r["cancelled_at"]), _utc(r["substituted_at"])
        assert created is not None
        ends = [moment for moment in (cancelled_at, substituted_at) if moment is not None]
        ended = min(ends) if ends and served_at is None else None
        spans.append(BackorderSpan(
            created_at=created, units=int(r["units"]), promised_date=mapping.as_date(r["promised_date"]),
            served_at=served_at, ended_at=ended, cancelled=ended is not None and ended == cancelled_at))
    return spans


@reads
async def kpi_buckets(first: date, last: date, interval: Interval, *, fill_within_days: int = 7) -> list[KpiBucket]:
    kpi_series(first, last, interval, [], [], fill_within_days=fill_within_days)  # refuse a bad range before reading
    return kpi_series(first, last, interval, await daily_lines(first, last), await backorder_spans(first, last),
                      fill_within_days=fill_within_days)
