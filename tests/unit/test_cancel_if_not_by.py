"""A customer's "cancel if not by" date, applied by the aggregate whenever it settles: a backorder that can no
longer come by its date (the ETA moved past it, or the date went by while it waited) is cancelled whole, with
that cause, its held units go to the next in line, and it is announced once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import events as ev
from domain.causes import CauseKind, RequestedBy
from domain.eta import InboundSupply
from domain.model import BackorderStatus
from domain.preferences import BackorderPreferences, SubstituteConsent
from tests.unit.support import NOW, TODAY, events_of, inventory, note, place, received


def _po(day: date, quantity: int, number: str = "PO-1") -> InboundSupply:
    return InboundSupply(number, day, quantity)


def test_a_purchase_order_moving_past_the_date_cancels_the_backorder_and_says_why():
    inv = inventory(0, inbound=[_po(date(2026, 3, 10), 2)])
    _, _, first = place(inv, 2)
    _, _, second = place(inv, 2, minutes=1, email="bob@example.com")
    assert first is not None and second is not None and first.eta is not None
    first.cancel_if_not_by = date(2026, 3, 12)
    inv.settle(NOW, note("preferences set"))
    assert first.is_active  # expected on the 10th: in time
    inv.events = []

    inv.inbound = [_po(date(2026, 3, 15), 2)]  # the supplier's date moves past the customer's
    inv.settle(NOW, note("PO date moved"))

    assert first.status is BackorderStatus.CANCELLED and first.cancelled_quantity == 2
    cause = first.history[-1].cause
    assert cause.kind is CauseKind.NOT_BY_DATE and cause.requested_by is RequestedBy.CUSTOMER
    assert (cause.old, cause.new) == ("2026-03-12", "2026-03-15")
    cancelled = events_of(inv, ev.BackorderCancelled)
    assert [(e.backorder_id, e.not_by_date) for e in cancelled] == [(first.id, date(2026, 3, 12))]
    assert not [e for e in events_of(inv, ev.EtaChanged) if e.backorder_id == first.id]  # told once: the cancel
    assert second.queue_position == 1 and second.eta is not None and second.eta.date == date(2026, 3, 15)


def test_held_units_of_a_cancelled_backorder_go_to_the_next_in_line():
    inv = inventory(0, inbound=[_po(date(2026, 3, 20), 10)])
    _, _, first = place(inv, 4)
    _, _, second = place(inv, 3, minutes=1, email="bob@example.com")
    assert first is not None and second is not None
    inv.receive("MAIN", 2, NOW, received(2))
    inv.settle(NOW, received(2))
    assert first.allocated_quantity == 2 and second.allocated_quantity == 0

    first.cancel_if_not_by = date(2026, 3, 15)  # the rest comes on the 20th: too late
    inv.settle(NOW, note("preferences set"))

    assert first.status is BackorderStatus.CANCELLED and first.reserved == {}
    assert second.allocated_quantity == 2  # the two held units went on at once
    inv.check_invariants()


def test_the_date_passing_while_units_wait_cancels_it():
    inv = inventory(0, inbound=[_po(date(2026, 3, 5), 2)])
    _, _, backorder = place(inv, 2)
    assert backorder is not None
    backorder.cancel_if_not_by = date(2026, 3, 5)
    inv.settle(NOW, note("in time"))
    assert backorder.is_active

    inv.settle(NOW + timedelta(days=4), note("the 6th: the PO did not come, the date passed"))

    assert backorder.status is BackorderStatus.CANCELLED
    assert backorder.history[-1].cause.kind is CauseKind.NOT_BY_DATE


def test_a_fully_allocated_backorder_is_never_cancelled_by_its_date():
    inv = inventory(3)
    _, _, backorder = place(inv, 5, settle=False)
    assert backorder is not None
    backorder.cancel_if_not_by = TODAY
    inv.receive("MAIN", 2, NOW, received(2))
    inv.settle(NOW, received(2))
    assert backorder.status is BackorderStatus.ALLOCATED
    inv.settle(NOW + timedelta(days=30), note("a month later, still not shipped"))
    assert backorder.status is BackorderStatus.ALLOCATED  # its units are set aside: nothing is late


def test_a_new_backorder_adopts_the_account_defaults_but_not_a_date_already_passed():
    inv = inventory(0)
    _, _, backorder = place(inv, 1, settle=False)
    assert backorder is not None
    backorder.adopt_defaults(BackorderPreferences(TODAY - timedelta(days=1), SubstituteConsent.NEVER), NOW)
    assert backorder.cancel_if_not_by is None and backorder.substitute_consent is SubstituteConsent.NEVER
    backorder.adopt_defaults(BackorderPreferences(TODAY + timedelta(days=9)), NOW)
    assert backorder.cancel_if_not_by == TODAY + timedelta(days=9)


moves = st.lists(st.one_of(
    st.tuples(st.just("po"), st.integers(0, 40), st.integers(0, 12)),  # the PO's date (days from today), units
    st.tuples(st.just("receive"), st.integers(1, 6), st.just(0)),
    st.tuples(st.just("days"), st.integers(1, 10), st.just(0)),  # time passes
), max_size=8)


@settings(max_examples=150, deadline=None)
@given(queue=st.lists(st.tuples(st.integers(1, 5), st.none() | st.integers(0, 40)), min_size=1, max_size=7),
       moves=moves)
def test_after_any_sequence_of_eta_moves_no_waiting_backorder_is_expected_after_its_date(queue, moves):
    inv = inventory(0, inbound=[_po(TODAY + timedelta(days=7), 6)], lead_time_days=20)
    backorders = []
    for minute, (quantity, days) in enumerate(queue):
        backorder = place(inv, quantity, minutes=minute, email=f"c{minute}@example.com", settle=False)[2]
        assert backorder is not None
        backorder.cancel_if_not_by = TODAY + timedelta(days=days) if days is not None else None
        backorders.append(backorder)
    now = NOW
    inv.settle(now, note("placed"))
    for kind, a, b in moves:
        if kind == "po":
            inv.inbound = [_po(TODAY + timedelta(days=a), b)] if b else []
        elif kind == "receive":
            inv.receive("MAIN", a, now, received(a))
        else:
            now += timedelta(days=a)
        inv.settle(now, note(kind))
        inv.check_invariants()
        for backorder in backorders:
            latest = backorder.cancel_if_not_by
            if backorder.is_active and backorder.waiting_quantity and latest is not None:
                assert now.date() <= latest
                assert backorder.eta is not None and backorder.eta.date <= latest
    for backorder in backorders:  # each cancelled by its date once, and nothing else cancels here
        by_date = [h for h in backorder.history if h.cause.kind is CauseKind.NOT_BY_DATE and h.kind == "QUANTITY"]
        assert len(by_date) == (backorder.status is BackorderStatus.CANCELLED)
        if backorder.status is BackorderStatus.CANCELLED:
            assert backorder.cancel_if_not_by is not None
    announced = [e.backorder_id for e in inv.events if isinstance(e, ev.BackorderCancelled)]
    assert len(announced) == len(set(announced))


@settings(max_examples=200, deadline=None)
@given(zone=st.timezone_keys(allow_prefix=False), steps=st.lists(st.integers(1, 9 * 60), min_size=1, max_size=40))
def test_the_date_is_the_customer_s_day_in_their_time_zone(zone, steps):
    # given a customer in any zone whose units are due on their own latest date (the PO's day), so only the
    # date ending can cancel them (an overdue PO's ETA is "the shop's today" from then on)
    latest = TODAY + timedelta(days=3)
    inv = inventory(0, inbound=[_po(latest, 2)])
    _, _, backorder = place(inv, 2, settle=False)
    assert backorder is not None
    backorder.cancel_if_not_by, backorder.customer_timezone = latest, zone
    # the end of their date, worked out apart from the code: midnight that starts the next day where they are
    ends = datetime.combine(latest + timedelta(days=1), time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    now = datetime.combine(latest, time(0), UTC) - timedelta(hours=30)
    cancelled_at = None
    for minutes in steps:  # when it settles at clock times across the end of their day
        now += timedelta(minutes=minutes)
        inv.settle(now, note("time passes"))
        if cancelled_at is None and backorder.status is BackorderStatus.CANCELLED:
            cancelled_at = now
        # then it is never cancelled before the end of the customer's date, and at the first settle after it
        assert (backorder.status is BackorderStatus.CANCELLED) == (now >= ends), (zone, now, ends)
    if cancelled_at is not None:
        assert backorder.history[-1].cause.kind is CauseKind.NOT_BY_DATE and cancelled_at >= ends
