"""`QueueServed`: a receipt recorded as the range it served, one event instead of three per backorder it served
whole. It reads back the same after the wire (event log, Redis); it takes the place of the first of the events it
stands for and leaves every other event as it was; told back from the backorders it covers, as they were when it
served them, it gives the events `head.serve` told for them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from domain import events as ev
from domain.causes import Actor, Cause, CauseKind
from domain.eta import Confidence, Eta, EtaSource
from domain.model import BackorderStatus, PriorityPolicy, Waiting
from domain.model.head import record_serve, serve
from domain.model.served import covered_events, instead_of_covered, range_event, still_waiting

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
