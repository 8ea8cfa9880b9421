"""offer_goodwill on the real store (SQLite, and PostgreSQL with -m db): kept in its own table, a GOODWILL line in
the backorder's history with the agent as actor, a GoodwillOffered event on the bus and in the event log; a refusal
(another currency, an absurd amount, a closed backorder) writes nothing and says nothing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from domain.bus import InProcessBus
from domain.causes import Actor, Cause, CauseKind
from domain.errors import DomainError, ErrorCode
from domain.services import BackorderDesk
from domain.store import models as t
from domain.store import queries as q
from tests.integration.support import backorder_of, heard, lamp_shop, order, snapshot


async def test_goodwill_is_kept_in_the_history_and_announced(desk: BackorderDesk, bus: InProcessBus):
    # given ann waits for 2 lamps at 29.50 EUR
    await lamp_shop(desk, on_hand=3, po_units=4)
    ann = await order(desk, "ann@example.com", 5)
    ann_id = (await backorder_of(ann)).id
    stream = bus.subscribe()
    # when an agent gives her a credit and a code
    backorder, given = await desk.offer_goodwill(ann_id, credit_amount=Decimal("10"), credit_currency="eur",
                                                 discount_code=" SORRY-10 ", note="sorry for the wait",
                                                 agent="sam")
    # then it is kept, in her history (agent as actor) and announced once
    assert (given.credit and (given.credit.amount, given.credit.currency)) == (Decimal("10.00"), "EUR")
    assert (given.discount_code, given.note, given.agent) == ("SORRY-10", "sorry for the wait", "sam")
    kept = (await q.goodwill_by_backorder([ann_id]))[ann_id]
    assert kept == [given]
    rows = await t.BackorderHistory.filter(backorder_id=ann_id, kind="GOODWILL").values("new_value", "cause_data")
    assert len(rows) == 1 and rows[0]["new_value"] == "10.00 EUR"
    cause = Cause.from_dict(json.loads(rows[0]["cause_data"]))
    assert (cause.kind, cause.actor, cause.agent, cause.reference) == (CauseKind.GOODWILL, Actor.AGENT, "sam",
                                                                       "SORRY-10")
    assert backorder.history[-1].cause == cause
    events = [e for e in heard(stream) if e.kind == "GoodwillOffered"]
    assert [(e.backorder_id, e.credit_amount, e.credit_currency, e.discount_code, e.agent) for e in events] == [
        (ann_id, "10.00", "EUR", "SORRY-10", "sam")]
    assert await t.EventLog.filter(backorder_id=ann_id, kind="GoodwillOffered").count() == 1
    # and a code alone is goodwill too; each backorder's list comes from one query
    await desk.offer_goodwill(ann_id, credit_amount=None, credit_currency=None, discount_code="WAIT5",
                              note="again", agent="kim")
    assert [g.discount_code for g in (await q.goodwill_by_backorder([ann_id, "none"]))[ann_id]] == [
        "SORRY-10", "WAIT5"]


@pytest.mark.parametrize(("credit", "code", "note", "field", "error"), [
    (("5", "USD"), None, "sorry", "credit.currency", ErrorCode.CURRENCY_MISMATCH),
    (("0", "EUR"), None, "sorry", "credit.amount", ErrorCode.INVALID_INPUT),
    (("-3", "EUR"), None, "sorry", "credit.amount", ErrorCode.INVALID_INPUT),
    (("59.01", "EUR"), None, "sorry", "credit.amount", ErrorCode.INVALID_INPUT),  # more than 2 x 29.50
    (("9999999999.99", "EUR"), None, "sorry", "credit.amount", ErrorCode.INVALID_INPUT),
    (None, None, "sorry", "credit", ErrorCode.INVALID_INPUT),
    (None, "X" * 65, "sorry", "discount_code", ErrorCode.INVALID_INPUT),
    (None, "CODE", "x" * 501, "note", ErrorCode.INVALID_INPUT),
    (None, "CODE", "  ", "note", ErrorCode.INVALID_INPUT),
])
async def test_bad_goodwill_is_a_typed_error_and_writes_nothing(desk: BackorderDesk, bus: InProcessBus, credit,
                                                                code, note, field, error):
    await lamp_shop(desk, on_hand=3, po_units=4)
    ann_id = (await backorder_of(await order(desk, "ann@example.com", 5))).id
    before, stream = await snapshot(), bus.subscribe()
    with pytest.raises(DomainError) as refused:
        await desk.offer_goodwill(ann_id, credit_amount=credit and credit[0], credit_currency=credit and credit[1],
                                  discount_code=code, note=note, agent="sam")
    assert (refused.value.field, refused.value.code) == (field, error)
    assert await snapshot() == before and heard(stream) == []


async def test_a_closed_or_unknown_backorder_gets_no_goodwill(desk: BackorderDesk):
    await lamp_shop(desk, on_hand=3, po_units=4)
    ann_id = (await backorder_of(await order(desk, "ann@example.com", 5))).id
    await desk.cancel_backorder(ann_id)
    before = await snapshot()
    for backorder_id, code in ((ann_id, ErrorCode.INVALID_STATE), ("nosuch", ErrorCode.BACKORDER_NOT_FOUND)):
        with pytest.raises(DomainError) as refused:
            await desk.offer_goodwill(backorder_id, credit_amount=None, credit_currency=None, discount_code="C",
                                      note="n", agent="sam")
        assert refused.value.code == code
    assert await snapshot() == before
