"""`QueueServed`: a receipt recorded as the range it served, one event instead of three per backorder it served
whole. It reads back the same after the wire (event log, Redis); it takes the place of the first of the events it
stands for and leaves every other event as it was; told back from the backorders it covers, as they were when it
served them, it gives the events `head.serve` told for them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain import events as ev
from domain.causes import Actor, Cause, CauseKind
from domain.eta import Confidence, Eta, EtaSource
from domain.model import BackorderStatus, PriorityPolicy, Waiting
from domain.model.head import record_serve, serve
from domain.model.served import (
    Covered,
    covered_events,
    customer_parts,
    instead_of_covered,
    queue_changed,
    range_event,
    still_waiting,
)

AT = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
CAUSE = Cause(kind=CauseKind.STOCK_RECEIVED, actor=Actor.AGENT, quantity=8, reference="MAIN", reason="pallet")


def _waiting(n: int, quantity: int, allocated: int = 0, priority: int = 0, eta: Eta | None = None) -> Waiting:
    return Waiting(id=f"b{n}", order_id=f"o{n}", customer_email=f"c{n % 2}@example.com", quantity=quantity,
                   allocated_quantity=allocated, reserved={"MAIN": allocated} if allocated else {},
                   status=BackorderStatus.PARTIALLY_ALLOCATED if allocated else BackorderStatus.WAITING, eta=eta,
                   priority_override=priority, ordered_at=AT - timedelta(days=3, minutes=10 - n), queue_position=n + 1,
                   updated_at=None, version=1)


ROWS = [_waiting(0, 2, priority=7), _waiting(1, 3, allocated=1),
        _waiting(2, 1, eta=Eta(AT.date(), Confidence.HIGH, EtaSource.ALLOCATED)),
        _waiting(3, 2, eta=Eta(date(2026, 3, 20), Confidence.MEDIUM, EtaSource.PURCHASE_ORDER)), _waiting(4, 5)]


def _receipt() -> tuple[list[ev.Event], ev.QueueServed]:
    """Eight units for ROWS: the first four served whole (seven), the last in part (one)."""
    told: list[ev.Event] = [ev.StockReceived(occurred_at=AT, sku="LAMP", location="MAIN", quantity=8, on_hand=8,
                                             cause=CAUSE)]
    served = serve("LAMP", ROWS, 9, 8, lambda units: {"MAIN": units}, PriorityPolicy(), AT, CAUSE, told)
    whole = [s for s in served if s.status is BackorderStatus.ALLOCATED]
    record = record_serve("LAMP", "MAIN", ROWS, whole, 9, AT, CAUSE)
    assert record is not None and record.count == 4
    return told, range_event(record, 17, ROWS)


def test_a_range_event_reads_back_the_same_after_the_wire() -> None:
    _, served = _receipt()
    assert served.partly == (("b1", 1),) and served.first[2] == "b0" and served.last[2] == "b3"
    assert ev.Event.from_dict(json.loads(json.dumps(served.to_dict()))) == served


def test_it_takes_the_place_of_the_events_it_stands_for_and_leaves_the_others() -> None:
    told, served = _receipt()
    kept = instead_of_covered(told, served, {"b0", "b1", "b2", "b3"})
    assert kept[:2] == [told[0], served]
    assert kept[2:] == [e for e in told if getattr(e, "backorder_id", None) == "b4"]  # the one served in part


def test_told_back_from_the_backorders_as_they_were_it_gives_the_events_serve_told() -> None:
    told, served = _receipt()
    covered = {"b0", "b1", "b2", "b3"}
    assert covered_events(served, still_waiting(served, ROWS[:4], 1)) == [
        e for e in told if getattr(e, "backorder_id", None) in covered]


_COVERED = st.lists(st.builds(
    lambda n, email, quantity, before, status, eta, moved: Covered(
        f"b{n}", f"o{n}", email, quantity, min(before, quantity - 1), status, f"queue position {n + 1}",
        eta, moved),
    st.integers(0, 10**6), st.sampled_from(["a@example.com", "b@example.com", "c@example.com"]),
    st.integers(1, 5), st.integers(0, 4), st.sampled_from([s.value for s in BackorderStatus]),
    st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2026, 12, 31))), st.booleans()),
    min_size=1, max_size=30, unique_by=lambda c: c.id)


@given(_COVERED)
def test_made_from_the_backorders_straight_it_is_what_compact_folds_their_events_into(covered: list[Covered]) -> None:
    _, served = _receipt()
    [compacted] = ev.compact(covered_events(served, covered), 1)
    assert queue_changed(served, covered) == compacted
    # and each customer's part, made from their backorders alone, is the part cut from the whole for them
    assert customer_parts(served, covered) == {
        email: compacted.part(positions) for email, positions in compacted.customers.items()}
    assert list(customer_parts(served, covered)) == list(compacted.customers)
