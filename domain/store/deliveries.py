"""Suppliers' delivery records: written when a purchase order line is received, read back as delay
histograms (one grouped query, however long the history) for the ETA projection, reorder advice and the
supplier performance report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from domain.delays import DelayCount, DelayHistory, DeliveryRecord, HistoryRow
from domain.store import models as t


def _db(conn: BaseDBAsyncClient | None) -> BaseDBAsyncClient:
    return conn or t.SupplierDelivery._meta.db


def _marks(conn: BaseDBAsyncClient, count: int, start: int = 1) -> str:
    if conn.capabilities.dialect == "postgres":
        return ", ".join(f"${n}" for n in range(start, start + count))
    return ", ".join("?" * count)


def _mark(conn: BaseDBAsyncClient, n: int) -> str:
    return f"${n}" if conn.capabilities.dialect == "postgres" else "?"


async def record_deliveries(purchase_order_id: str, records: Sequence[DeliveryRecord],
                            conn: BaseDBAsyncClient | None = None) -> None:
    if not records:
        return
    await t.SupplierDelivery.bulk_create([
        t.SupplierDelivery(
            purchase_order_id=purchase_order_id, purchase_order_number=r.purchase_order, supplier_id=r.supplier_id,
            sku=r.sku, quantity=r.quantity, ordered_on=r.ordered_on, first_promised=r.first_promised,
            last_promised=r.last_promised, received_on=r.received_on, delay_days=r.delay_days,
            delay_from_first_days=r.delay_from_first_days, lead_days=r.lead_days)
        for r in records], batch_size=500, using_db=conn)


async def delay_history(supplier_ids: Sequence[str], skus: Sequence[str] | None = None,
                        conn: BaseDBAsyncClient | None = None) -> DelayHistory:
    """The learned record of these suppliers: their deliveries counted by (delay, lead time), in all and, for
    `skus` (None: every SKU), per SKU. Two grouped statements whatever the history's length."""
    ids = sorted(set(supplier_ids))
    if not ids:
        return DelayHistory()
    db = _db(conn)
    totals = await db.execute_query_dict(
        'SELECT "supplier_id", \'\' AS "sku", "delay_days", "lead_days", COUNT(*) AS "n" FROM "supplier_deliveries" '
        f'WHERE "supplier_id" IN ({_marks(db, len(ids))}) GROUP BY "supplier_id", "delay_days", "lead_days"', ids)
    if not totals:
        return DelayHistory()
    wanted = sorted(set(skus)) if skus is not None else None
    where = f' AND "sku" IN ({_marks(db, len(wanted), len(ids) + 1)})' if wanted else ""
    rows = await db.execute_query_dict(
        'SELECT "supplier_id", "sku", "delay_days", "lead_days", COUNT(*) AS "n" FROM "supplier_deliveries" '
        f'WHERE "supplier_id" IN ({_marks(db, len(ids))}){where} '
        'GROUP BY "supplier_id", "sku", "delay_days", "lead_days"', [*ids, *(wanted or [])]) \
        if wanted is None or wanted else []
    return DelayHistory.from_rows(map(_history_row, rows), map(_history_row, totals))


def _history_row(r: dict[str, Any]) -> HistoryRow:
    return HistoryRow(r["supplier_id"], r["sku"], int(r["delay_days"]),
                      int(r["lead_days"]) if r["lead_days"] is not None else None, int(r["n"]))


async def delay_counts(received_from: date | None, received_to: date | None,
                       conn: BaseDBAsyncClient | None = None) -> list[DelayCount]:
    """Lines received between the two dates (inclusive; None: unbounded), counted per supplier and delay."""
    db = _db(conn)
    where, params = [], []  # type: tuple[list[str], list[Any]]
    if received_from is not None:
        params.append(received_from)
        where.append(f'"received_on" >= {_mark(db, len(params))}')
    if received_to is not None:
        params.append(received_to)
        where.append(f'"received_on" <= {_mark(db, len(params))}')
    if db.capabilities.dialect != "postgres":
        params = [p.isoformat() for p in params]
    rows = await db.execute_query_dict(
        'SELECT "supplier_id", "delay_days", "delay_from_first_days", COUNT(*) AS "n" FROM "supplier_deliveries" '
        + (f"WHERE {' AND '.join(where)} " if where else "")
        + 'GROUP BY "supplier_id", "delay_days", "delay_from_first_days"', params)
    return [DelayCount(r["supplier_id"], int(r["delay_days"]), int(r["delay_from_first_days"]), int(r["n"]))
            for r in rows]


async def supplier_has_deliveries(supplier_ids: Sequence[str], conn: BaseDBAsyncClient | None = None) -> bool:
    return await t.SupplierDelivery.filter(supplier_id__in=list(supplier_ids)).using_db(conn).exists() \
        if supplier_ids else False
