"""Read side of planning: what reorder advice needs per SKU (daily demand, stock, inbound, waiting, and the lead
time its supplier's deliveries show), read with a fixed number of statements per thousand SKUs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import Any

from domain.delays import EtaLearning
from domain.reorder import LeadTime, ReorderPolicy, ReorderSuggestion, SkuFacts, suggest
from domain.store import models as t
from domain.store import queries as q
from domain.store.deliveries import delay_history
from domain.store.ordering import text_key

SKUS_PER_READ = 1000  # a shop's whole catalogue is read this many SKUs at a time: bounded lists of parameters
DEFAULT_LEAD_TIME_DAYS = 14  # as the aggregate's default when a product has neither its own nor a supplier


def _dialect() -> tuple[Any, bool]:
    db = t.Order._meta.db
    return db, db.capabilities.dialect == "postgres"


def _at(day: date, pg: bool) -> Any:
    """Midnight UTC of `day` as a parameter: SQLite compares tortoise's text form, PostgreSQL a timestamp."""
    at = datetime.combine(day, dt_time(0), tzinfo=UTC)
    return at if pg else at.isoformat(sep=" ")


async def daily_demand(skus: Sequence[str], first_day: date, last_day: date) -> dict[str, list[int]]:
    """Units ordered per SKU per day (UTC) from `first_day` to `last_day` inclusive, every day present (zeros
    too): one statement grouped in the database. A substitute's line is left out: the customer's demand is
    already counted on the SKU they ordered first."""
    days = (last_day - first_day).days + 1
    out = {sku: [0] * days for sku in skus}
    if not skus or days <= 0:
        return out
    db, pg = _dialect()
    day = "to_char(o.placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')" if pg else "substr(o.placed_at, 1, 10)"
    mark = (lambda n: f"${n}") if pg else (lambda n: "?")
    keys = ", ".join(mark(n) for n in range(3, len(skus) + 3))
    rows = await db.execute_query_dict(
        f'SELECT l.sku AS sku, {day} AS day, SUM(l.quantity) AS units FROM "order_lines" l '
        f'JOIN "orders" o ON o.id = l.order_id WHERE o.placed_at >= {mark(1)} AND o.placed_at < {mark(2)} '
        f"AND l.substitute_for IS NULL AND l.sku IN ({keys}) GROUP BY l.sku, {day}",
        [_at(first_day, pg), _at(last_day + timedelta(days=1), pg), *skus])
    for row in rows:
        index = (date.fromisoformat(str(row["day"])) - first_day).days
        if 0 <= index < days:
            out[row["sku"]][index] += int(row["units"])
    return out


async def reorder_facts(today: date, history_days: int, *, skus: Sequence[str] | None = None,
                        supplier_id: str | None = None, default_lead_time_days: int = DEFAULT_LEAD_TIME_DAYS,
                        learning: EtaLearning | None = EtaLearning()) -> list[SkuFacts]:
    """Facts for the products asked for (all when neither `skus` nor `supplier_id` narrows them), SKU order.
    The lead time is learned from deliveries by `learning`'s thresholds, as the ETAs are; None: the stated one."""
    products = t.Product.all()
    if skus is not None:
        products = products.filter(sku__in=list(skus))
    if supplier_id is not None:
        products = products.filter(supplier_id=supplier_id)
    products, by_sku = text_key(products, "sku")
    rows = await products.order_by(by_sku).values("sku", "supplier_id", "lead_time_days")
    if not rows:
        return []
    supplier_ids = list({r["supplier_id"] for r in rows if r["supplier_id"]})
    suppliers = await q.suppliers_by_id(supplier_ids)
    history = await delay_history(supplier_ids) if learning else None
    facts = []
    for start in range(0, len(rows), SKUS_PER_READ):
        chunk = rows[start:start + SKUS_PER_READ]
        found = [r["sku"] for r in chunk]
        demand = await daily_demand(found, today - timedelta(days=history_days - 1), today)
        stock = await q.stock_by_sku(found)
        inbound = await q.inbound_by_sku(found)
        waiting = await q.waiting_by_sku(found)
        for r in chunk:
            supplier = suppliers.get(r["supplier_id"]) if r["supplier_id"] else None
            days = r["lead_time_days"] if r["lead_time_days"] is not None else (
                supplier.lead_time_days if supplier is not None else default_lead_time_days)
            facts.append(SkuFacts(
                sku=r["sku"], supplier_id=r["supplier_id"], daily_demand=demand[r["sku"]],
                available=sum(level.available_to_promise for level in stock.get(r["sku"], [])),
                on_order=sum(s.quantity for s in inbound.get(r["sku"], [])), waiting=waiting.get(r["sku"], 0),
                being_put_away=sum(level.staged for level in stock.get(r["sku"], [])),
                lead_time=LeadTime.of(days, history, r["supplier_id"], r["sku"], learning)
                if history is not None and learning is not None else LeadTime.stated(days)))
    return facts


async def reorder_suggestions(today: date, policy: ReorderPolicy, *, skus: Sequence[str] | None = None,
                              supplier_id: str | None = None, default_lead_time_days: int = DEFAULT_LEAD_TIME_DAYS,
                              learning: EtaLearning | None = EtaLearning()) -> list[ReorderSuggestion]:
    facts = await reorder_facts(today, policy.history_days, skus=skus, supplier_id=supplier_id,
                                default_lead_time_days=default_lead_time_days, learning=learning)
    return [suggest(f, policy) for f in facts]

