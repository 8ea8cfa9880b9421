"""Read side of the exports: backorders, order lines and daily KPIs as rows, streamed from the database in
chunks by keyset (`id > last ORDER BY id LIMIT n`), so an export of any size holds one chunk in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.errors import InvalidInput
from domain.kpi_series import MAX_BUCKETS, Interval, buckets
from domain.store import models as t
from domain.store.current import backorders, snapshot
from domain.store.kpi_history import kpi_buckets

CHUNK = 1000
KINDS = ("backorders", "orders", "kpis")

BACKORDER_COLUMNS = (
    "id", "order_number", "sku", "customer_email", "channel", "status", "priority", "quantity", "original_quantity",
    "allocated_quantity", "shipped_quantity", "cancelled_quantity", "substituted_quantity", "queue_position",
    "eta_date", "eta_confidence", "eta_source", "promised_date", "ordered_at", "created_at", "updated_at")
ORDER_COLUMNS = (
    "order_number", "placed_at", "channel", "customer_email", "line", "sku", "quantity", "unit_price", "currency",
    "allocated_quantity", "shipped_quantity", "backorder_id", "substitute_for")
KPI_COLUMNS = (
    "day", "order_lines", "backordered_lines", "backorder_rate", "units_ordered", "fill_rate_at_placement",
    "fill_rate_within_7_days", "backorders_opened", "backorders_served", "backorders_cancelled", "waiting_0_7_days",
    "waiting_8_14_days", "waiting_15_30_days", "waiting_over_30_days", "time_to_fulfil_p50_days",
    "time_to_fulfil_p90_days", "eta_promises_measured", "eta_error_p50_days", "eta_error_p90_days",
    "eta_missed_share")
COLUMNS = {"backorders": BACKORDER_COLUMNS, "orders": ORDER_COLUMNS, "kpis": KPI_COLUMNS}

_QUERIES = {
    "backorders": (
        "SELECT b.id AS id, o.number AS order_number, b.sku AS sku, b.customer_email AS customer_email, "
        "b.channel AS channel, b.status AS status, b.priority_override AS priority, b.quantity AS quantity, "
        "b.original_quantity AS original_quantity, b.allocated_quantity AS allocated_quantity, "
        "b.shipped_quantity AS shipped_quantity, b.cancelled_quantity AS cancelled_quantity, "
        "b.substituted_quantity AS substituted_quantity, b.queue_position AS queue_position, b.eta_date AS eta_date, "
        "b.eta_confidence AS eta_confidence, b.eta_source AS eta_source, b.promised_date AS promised_date, "
        "b.ordered_at AS ordered_at, b.created_at AS created_at, b.updated_at AS updated_at "
        'FROM {backorders} b LEFT JOIN "orders" o ON o.id = b.order_id '
        "WHERE b.id > {after} AND b.updated_at >= {since} ORDER BY b.id LIMIT {limit}"),
    "orders": (
        "SELECT l.id AS key, o.number AS order_number, o.placed_at AS placed_at, o.channel AS channel, "
        "o.customer_email AS customer_email, l.position AS line, l.sku AS sku, l.quantity AS quantity, "
        "l.unit_price AS unit_price, l.currency AS currency, l.allocated_quantity AS allocated_quantity, "
        "l.shipped_quantity AS shipped_quantity, l.backorder_id AS backorder_id, l.substitute_for AS substitute_for "
        'FROM "order_lines" l JOIN "orders" o ON o.id = l.order_id '
        "WHERE l.id > {after} AND o.placed_at >= {since} ORDER BY l.id LIMIT {limit}"),
}
_KEY = {"backorders": "id", "orders": "key"}


def _since(since: datetime | None, pg: bool) -> Any:
    moment = since or datetime(1970, 1, 1, tzinfo=UTC)
    return moment if pg else moment.astimezone(UTC).isoformat(sep=" ")  # SQLite compares tortoise's text form


async def rows(kind: str, since: datetime | None = None, *, chunk: int = CHUNK) -> AsyncIterator[dict[str, Any]]:
    """Every row of `backorders` (changed since `since`) or `orders` (one per line, placed since `since`), in id
    order, read `chunk` at a time."""
    pg = t.Order._meta.db.capabilities.dialect == "postgres"
    marks = ("$1", "$2", "$3") if pg else ("?", "?", "?")
    key, after = _KEY[kind], ""
    while True:
        async with snapshot():  # a chunk's own (a stream is not held open in one): the rows as they are now
            sql = _QUERIES[kind].format(after=marks[0], since=marks[1], limit=marks[2], backorders=backorders())
            found = await t.Order._meta.db.execute_query_dict(sql, [after, _since(since, pg), chunk])
        for row in found:
            yield {column: row[column] for column in COLUMNS[kind]}
        if len(found) < chunk:
            return
        after = found[-1][key]


async def kpi_rows(since: date, today: date) -> AsyncIterator[dict[str, Any]]:
    """The KPIs per day from `since` to `today` (at most the series' limit of days)."""
    for b in await kpi_buckets(since, today, Interval.DAY, fill_within_days=7):
        values = (b.start, b.order_lines, b.backordered_lines, b.backorder_rate, b.units_ordered,
                  b.fill_rate_at_placement, b.fill_rate_within, b.opened, b.served, b.cancelled, *b.ages,
                  b.time_to_fulfil_p50_days, b.time_to_fulfil_p90_days, len(b.eta_errors), b.eta_error_p50_days,
                  b.eta_error_p90_days, b.eta_missed_share)
        yield dict(zip(KPI_COLUMNS, values, strict=True))


def kpi_since(since: datetime | None, today: date) -> date:
    return since.astimezone(UTC).date() if since is not None else today - timedelta(days=29)


def check_range(kind: str, since: datetime | None, today: date) -> None:
    """Refuse, before the first row is sent, a KPI export longer than the series allows."""
    if kind == "kpis":
        first = kpi_since(since, today)
        # said in the export's own terms: it has `since` and no `from`, `to` or interval to choose
        if first > today:
            raise InvalidInput(f"since {first.isoformat()} is after today ({today.isoformat()}): the KPIs are "
                               "exported for the days up to today", field="since")
        try:
            buckets(first, today, Interval.DAY)
        except InvalidInput as error:
            earliest = today - timedelta(days=MAX_BUCKETS - 1)
            raise InvalidInput(f"the KPIs are exported by day, at most {MAX_BUCKETS} days: since "
                               f"{earliest.isoformat()} at the earliest", field="since") from error


async def export_rows(kind: str, since: datetime | None, today: date) -> AsyncIterator[dict[str, Any]]:
    if kind == "kpis":
        async for row in kpi_rows(kpi_since(since, today), today):
            yield row
    else:
        async for row in rows(kind, since):
            yield row
