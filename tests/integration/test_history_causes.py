"""History causes are stored as data, and rows written before are read into data by the migration."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from types import SimpleNamespace

from tortoise import connections

from domain.causes import Actor, CauseKind, RequestedBy
from domain.services import BackorderDesk
from domain.store import models as t
from domain.store import queries as q
from notifications import wording
from tests.integration.support import lamp_shop, order

migration = importlib.import_module("domain.store.migrations.0004_structured_causes")
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_a_cancel_at_the_customers_request_is_recorded_as_theirs(desk: BackorderDesk):
    await lamp_shop(desk)
    placed = await order(desk, "ann@example.com", 5)
    backorder_id = next(line.backorder_id for line in placed.lines if line.backorder_id)
    await desk.cancel_backorder(backorder_id, 1, by="agent-kim", reason="customer found one locally",
                                requested_by=RequestedBy.CUSTOMER)
    [entry] = [h for h in (await q.history_by_backorder([backorder_id]))[backorder_id] if h.kind == "QUANTITY"]
    assert (entry.cause.kind, entry.cause.actor, entry.cause.requested_by, entry.cause.agent) == (
        CauseKind.CANCELLED, Actor.AGENT, RequestedBy.CUSTOMER, "agent-kim")
    assert wording.customer_cause(entry.kind, entry.cause) == "1 cancelled at your request"


async def test_the_migration_reads_old_sentences_into_causes_and_keeps_the_unknown_ones(db):
    rows = [("QUANTITY", "3 cancelled by customer: found it elsewhere"),
            ("QUANTITY", "1 cancelled by agent-kim: fraud"),
            ("ETA", "purchase order PO-9: date 2026-03-10 -> 2026-03-17"), ("STATUS", "2 received at MAIN"),
            ("PRIORITY", "agent-kim: VIP complaint"), ("STATUS", "something nobody wrote a pattern for")]
    for kind, text in rows:
        await t.BackorderHistory.create(backorder_id="b-old", at=AT, kind=kind, old_value=None, new_value=None,
                                        cause=text)

    await migration.structure_old_causes(None, SimpleNamespace(client=connections.get("default")))

    history = (await q.history_by_backorder(["b-old"]))["b-old"]
    assert [h.cause.kind for h in history] == [CauseKind.CANCELLED, CauseKind.CANCELLED, CauseKind.PO_CHANGED,
                                               CauseKind.STOCK_RECEIVED, CauseKind.REPRIORITIZED, CauseKind.LEGACY]
    assert [wording.customer_cause(h.kind, h.cause) for h in history if h.kind != "PRIORITY"] == [
        "3 cancelled at your request", "1 cancelled", "supplier date changed", "stock arrived", "status updated"]
    assert [wording.staff_cause(h.cause) for h in history] == [
        "3 cancelled by customer: found it elsewhere", "1 cancelled by agent-kim: fraud",
        "purchase order PO-9: date 2026-03-10 → 2026-03-17", "2 received at MAIN", "agent-kim: VIP complaint",
        "something nobody wrote a pattern for"]
