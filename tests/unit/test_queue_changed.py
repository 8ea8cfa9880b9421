"""`QueueChanged`: a long queue's change kept as one event. Whatever runs `compact` folds, `expand` gives
back exactly the per-backorder events, in their order, in memory and after the wire (event log, Redis)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import events as ev
from domain.causes import Actor, Cause, CauseKind

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CAUSES = [Cause(kind=CauseKind.STOCK_RECEIVED, actor=Actor.AGENT, quantity=5, reference="MAIN", reason="pallet"),
          Cause(kind=CauseKind.QUEUE_CANCELLATION, reference="SKU-1"),
          Cause(kind=CauseKind.PO_CHANGED, actor=Actor.AGENT, reference="PO-1", old="2026-03-01", new="2026-03-09")]


@st.composite
def backorder_event(draw: st.DrawFn) -> ev.Event:
    n = draw(st.integers(0, 6))
    ids = {"occurred_at": AT + timedelta(seconds=draw(st.integers(0, 1))), "backorder_id": f"b{n}",
           "order_id": f"o{n}", "sku": draw(st.sampled_from(["SKU-1", "SKU-2"])), "customer_email": f"c{n % 3}@x"}
    cause = draw(st.sampled_from(CAUSES))
    kind = draw(st.sampled_from(["A", "S", "E", "other"]))
    if kind == "A":
        return ev.BackorderAllocated(**ids, quantity=draw(st.integers(1, 9)), allocated_quantity=3,
                                     backordered_quantity=4, reason=draw(st.sampled_from(["first in line", "x"])),
                                     cause=cause)
    if kind == "S":
        return ev.BackorderStatusChanged(**ids, old_status="WAITING", new_status="ALLOCATED", cause=cause)
    if kind == "E":
        dates = st.none() | st.dates(date(2026, 1, 1), date(2027, 1, 1))
        return ev.EtaChanged(**ids, old_date=draw(dates), new_date=draw(dates), confidence="HIGH",
                             source=draw(st.sampled_from(["ALLOCATED", "PURCHASE_ORDER"])), cause=cause)
    return ev.BackorderCancelled(**ids, quantity=1, released_quantity=0, remaining_quantity=0, cancelled_by="x",
                                 reason="r")


@settings(max_examples=300)
@given(st.lists(backorder_event(), max_size=60), st.integers(1, 8))
def test_expanding_what_was_compacted_gives_the_same_events_in_order(events: list[ev.Event], min_run: int) -> None:
    compacted = ev.compact(events, min_run=min_run)
    assert list(ev.expand(compacted)) == events
    # and through the wire, as the event log and the Redis bus carry it
    wired = [ev.Event.from_dict(json.loads(json.dumps(e.to_dict()))) for e in compacted]
    assert wired == compacted
    assert list(ev.expand(wired)) == events


@given(st.lists(backorder_event(), max_size=60))
def test_one_customers_part_is_their_events_only(events: list[ev.Event]) -> None:
    for queue_changed in (e for e in ev.compact(events, min_run=1) if isinstance(e, ev.QueueChanged)):
        everyone = queue_changed.expand()
        for email, positions in queue_changed.customers.items():
            part = queue_changed.part(positions)
            theirs = [e for e in everyone if e.customer_email == email]
            assert part.expand() == theirs
            # what is stored in their outbox row (the part's wire form) names nothing of anyone else's: not another
            # customer's backorder, nor the cause of another customer's change (an agent's reason, an order number)
            assert {b[2] for b in part.backorders} == {email}
            assert set(part.causes) == {e.cause for e in theirs}
            assert len(part.causes) == len(set(part.causes))


def test_a_long_run_is_one_event_and_a_short_one_stays_as_it_is() -> None:
    cause = CAUSES[0]
    run = [ev.BackorderAllocated(occurred_at=AT, backorder_id=f"b{n}", order_id=f"o{n}", sku="SKU-1",
                                 customer_email="c@x", quantity=1, allocated_quantity=1, backordered_quantity=1,
                                 reason="first in line", cause=cause) for n in range(ev.COMPACT_FROM)]
    received = ev.StockReceived(occurred_at=AT, sku="SKU-1", location="MAIN", quantity=64, on_hand=64, cause=cause)
    assert [e.kind for e in ev.compact([received, *run])] == ["StockReceived", "QueueChanged"]
    assert ev.compact([received, *run[1:]]) == [received, *run[1:]]
