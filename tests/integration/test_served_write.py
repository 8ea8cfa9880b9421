"""The backorders a receipt serves whole at the head of a first-come-first-served queue are written by SQL that
computes each row's values (`TortoiseUnitOfWork.write_served`, `head.ServedWhole`): what it writes, row and history,
is what `head.serve` decided, for every state of a waiting row that changes the decision: no ETA, an ETA of the
receipt's day or another from a purchase order, one already from units set aside (kept as it is), units already
set aside here or at another location, an agent's priority either way, places further down the queue. The
receipt property (test_receipt_at_head.py) draws queues placed through the desk, whose waiting backorders never
have an ETA of the receipt's day or from allocated units. Runs on SQLite and, with BACKORDER_TEST_POSTGRES_URL, on
PostgreSQL."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.allocation import PriorityPolicy
from domain.bus import InProcessBus
from domain.causes import Actor, Cause, CauseKind
from domain.model.head import serve, served_whole
from domain.services import BackorderDesk, ProductInput
from domain.store import models as t
from domain.store.uow import TortoiseUnitOfWork
from tests import shown_places

pytestmark = pytest.mark.db

NOW = datetime(2026, 3, 3, 10, 30, tzinfo=UTC)
ETAS = [None, (NOW.date(), "PURCHASE_ORDER", "PO-1"), (date(2026, 3, 9), "PURCHASE_ORDER", "PO-2"),
        (NOW.date(), "ALLOCATED", None), (date(2026, 3, 1), "ALLOCATED", None)]
SET_ASIDE = [None, "MAIN", "EAST"]  # one unit already allocated there, or none
PRIORITIES = [0, 7, -2]


def waiting_row(sku: str, backorder_id: str, ordered_at: datetime, quantity: int,
                eta: tuple[date, str, str | None] | None, aside: str | None, priority: int, queue_position: int,
                customer_email: str = "c@example.com") -> t.Backorder:
    """A waiting backorder's row (not saved) in one of the states that change what serving it decides: its ETA
    (one of ETAS), one unit already set aside at a location (one of SET_ASIDE), an agent's priority."""
    return t.Backorder(
        id=backorder_id, order_id=f"o{backorder_id}", order_line_id=f"l{backorder_id}", sku=sku,
        customer_email=customer_email, customer_tier="STANDARD", channel="ONLINE", ordered_at=ordered_at,
        quantity=quantity, original_quantity=quantity, allocated_quantity=1 if aside else 0,
        reserved={aside: 1} if aside else {}, status="PARTIALLY_ALLOCATED" if aside else "WAITING",
        eta_date=eta[0] if eta else None, eta_confidence="MEDIUM" if eta else None,
        eta_source=eta[1] if eta else None, eta_reference=eta[2] if eta else None,
        priority_override=priority, queue_position=queue_position, created_at=ordered_at, updated_at=ordered_at,
        version=2)


# the ids go to PostgreSQL as one text split there (`uow._ID_SEPARATOR`); ids with the separator in them as an array
@pytest.mark.parametrize("prefix", ["b", "b,"])
async def test_the_set_based_write_leaves_what_serve_decided(desk: BackorderDesk, bus: InProcessBus,
                                                              prefix: str) -> None:
    # given a waiting backorder of three units in every combination of those states, ordered a second apart
    await desk.upsert_product(ProductInput(sku="LAMP", name="Lamp", price=Decimal("1.00")))
    start = NOW - timedelta(days=1)
    for n, (eta, aside, priority) in enumerate(itertools.product(ETAS, SET_ASIDE, PRIORITIES)):
        await waiting_row("LAMP", f"{prefix}{n:03d}", start + timedelta(seconds=n, microseconds=700_000), 3, eta, aside,
                          priority, n + 1, f"c{n % 4}@example.com").save()
    cause = Cause(kind=CauseKind.STOCK_RECEIVED, actor=Actor.AGENT, quantity=500, reference="MAIN")

    # when the head is read, `serve` decides (as the fourth and following of 60 waiting), and the store writes it
    async with TortoiseUnitOfWork(bus) as uow:
        await uow.lock_skus(["LAMP"])
        rows, _ = await uow.waiting_head("LAMP", 10**6)
        served = serve("LAMP", rows, 60, sum(r.quantity - r.allocated_quantity for r in rows),
                       lambda units: {"MAIN": units}, PriorityPolicy(), NOW, cause, [], first_position=4)
        whole = served_whole("LAMP", "MAIN", served, 60, NOW, cause, first_position=4)
        assert len(whole.ids) == len(rows) == len(ETAS) * len(SET_ASIDE) * len(PRIORITIES)
        await uow.write_served(whole)
        await uow.commit()

    # then every row and its new history are what `serve` decided
    written = {r["id"]: r for r in await shown_places.rows(sku="LAMP")}
    history: dict[str, list[tuple[Any, ...]]] = {}
    for h in await t.BackorderHistory.filter(backorder_id__in=list(written)).order_by("id").values():
        history.setdefault(h["backorder_id"], []).append(
            (h["at"], h["kind"], h["old_value"], h["new_value"], h["cause"], json.loads(h["cause_data"])))
    for s in served:
        row = written[s.id]
        eta = s.eta
        assert (row["allocated_quantity"], row["reserved"], row["status"], row["allocation_reason"], row["eta_date"],
                row["eta_confidence"], row["eta_source"], row["eta_reference"], row["queue_position"],
                row["updated_at"], row["version"]) == (
            s.allocated_quantity, s.reserved, s.status.value, s.allocation_reason, eta.date if eta else None,
            eta.confidence.value if eta else None, eta.source.value if eta else None, eta.reference if eta else None,
            s.queue_position, s.updated_at, s.version), s.id
        assert history.get(s.id, []) == [(s.updated_at, kind, old, new, cause.kind.value, cause.to_dict())
                                         for kind, old, new in s.history], s.id
