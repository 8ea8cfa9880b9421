"""Read-side figures for operations (Prometheus gauges read at scrape time): the backlog of waiting
backorders and the depth and age of the outboxes. A few aggregate queries, whatever the shop's size."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from domain import model as m
from domain.store import models as t
from domain.store import notify
from domain.store.current import backorders, reads

WAITING = [m.BackorderStatus.WAITING.value, m.BackorderStatus.PARTIALLY_ALLOCATED.value]
UNSENT = [notify.QUEUED, notify.SENDING]


@dataclass(frozen=True)
class Backlog:
    waiting_backorders: int
    waiting_units: int
    top_skus: list[tuple[str, int, int]]  # (sku, backorders, units) of the SKUs with the most units waiting
    outbox_depth: dict[tuple[str, str], int] = field(default_factory=dict)  # (outbox, channel) -> unsent
    outbox_oldest_seconds: dict[str, float] = field(default_factory=dict)  # outbox -> age of its oldest unsent


@reads
async def backlog(now: datetime, top: int = 10) -> Backlog:
    db = t.Order._meta.db
    pg = db.capabilities.dialect == "postgres"
    marks = ", ".join(f"${n}" if pg else "?" for n in range(1, len(WAITING) + 1))
    rows = await db.execute_query_dict(
        'SELECT sku, COUNT(*) AS backorders, COALESCE(SUM(quantity - allocated_quantity), 0) AS units '
        f'FROM {backorders()} WHERE status IN ({marks}) GROUP BY sku', WAITING)
    per_sku = sorted(((r["sku"], int(r["backorders"]), int(r["units"])) for r in rows), key=lambda r: (-r[2], r[0]))
    unsent = ", ".join(f"${n}" if pg else "?" for n in range(1, len(UNSENT) + 1))
    depth: dict[tuple[str, str], int] = {}
    oldest: dict[str, float] = {}
    for outbox, table, channel in OUTBOXES:
        by = f"{channel} AS channel, " if channel else ""
        counted = await db.execute_query_dict(
            f'SELECT {by}COUNT(*) AS n, MIN(created_at) AS oldest FROM "{table}" '
            f"WHERE status IN ({unsent})" + (f" GROUP BY {channel}" if channel else ""), UNSENT)
        firsts = []
        for r in counted:
            if int(r["n"]):
                depth[(outbox, str(r.get("channel") or "webhook").lower())] = int(r["n"])
                firsts.append(_aware(r["oldest"]))
        oldest[outbox] = max(0.0, (now - min(firsts)).total_seconds()) if firsts else 0.0
    return Backlog(waiting_backorders=sum(r[1] for r in per_sku), waiting_units=sum(r[2] for r in per_sku),
                   top_skus=per_sku[:top], outbox_depth=depth, outbox_oldest_seconds=oldest)


# (name, table, its channel column: none for webhooks, whose one channel is "webhook")
OUTBOXES: list[tuple[str, str, str | None]] = [("notifications", "outbox_messages", "channel"),
                                               ("webhooks", "webhook_deliveries", None)]


async def staged_skus(conn: BaseDBAsyncClient, skus: Collection[str]) -> set[str]:
    """Those of `skus` with a receipt still being put away (staged units: `staged_receipts`), as `conn` sees them."""
    if not skus:
        return set()
    return set(await t.StagedReceipt.filter(sku__in=list(skus)).using_db(conn).values_list("sku", flat=True))


def _aware(value: object) -> datetime:
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
