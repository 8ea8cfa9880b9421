"""Customer-owned preferences on the real store (SQLite, and PostgreSQL when configured): a "cancel if not by"
date acted on when a purchase order moves and when the date passes (the worker's refresh), substitute consent
and declines, and the account's defaults for new backorders."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.bus import InProcessBus
from domain.causes import CauseKind
from domain.clock import FixedClock
from domain.customers import NotificationPreferences
from domain.errors import DomainError, ErrorCode
from domain.preferences import SubstituteConsent
from domain.services import BackorderDesk, LineRequest, ProductInput
from domain.store import models as t
from domain.store import portal
from domain.store.db import open_database
from domain.store.notify import NotificationEvent
from domain.store.portal import save_preferences
from domain.store.uow import TortoiseUnitOfWork
from notifications.outbox import OutboxRecorder
from notifications.settings import NotificationSettings
from tests.conftest import POSTGRES_URL
from tests.integration.support import ALT, LAMP, PO_DATE, backorder_of, lamp_shop, order


async def _events(backorder_id: str, kind: str) -> list[dict]:
    return [row["payload"] for row in await t.EventLog.filter(backorder_id=backorder_id, kind=kind).values("payload")]


async def _history_causes(backorder_id: str) -> list[str]:
    return list(await t.BackorderHistory.filter(backorder_id=backorder_id).order_by("id")
                .values_list("cause", flat=True))


async def test_a_po_moved_past_the_date_cancels_the_backorder_and_hands_its_place_on(desk: BackorderDesk):
    # given ann waits for 2 lamps covered by PO-1 (11 March) and would wait until 14 March at the latest
    shop = await lamp_shop(desk, on_hand=3, po_units=4)
    ann = await order(desk, "ann@example.com", 5)
    bob = await order(desk, "bob@example.com", 2)
    ann_id = (await backorder_of(ann)).id
    chosen = await desk.set_backorder_preferences(ann_id, cancel_if_not_by=date(2026, 3, 14))
    assert chosen.cancel_if_not_by == date(2026, 3, 14)
    # when the supplier's date moves to 20 March
    await desk.update_purchase_order(shop.po_id, expected_date=date(2026, 3, 20))
    # then ann's backorder is cancelled with her date as the cause, once, and bob moves up
    row = await backorder_of(ann)
    assert (row.status, row.cancelled_quantity, row.cancel_if_not_by) == ("CANCELLED", 2, date(2026, 3, 14))
    cancels = await _events(ann_id, "BackorderCancelled")
    assert [(c["not_by_date"], c["requested_by"]) for c in cancels] == [("2026-03-14", "customer")]
    assert CauseKind.NOT_BY_DATE.value in await _history_causes(ann_id)
    assert (await backorder_of(bob)).queue_position == 1
    # and the cancel is for good: moving the date back does not revive it
    await desk.update_purchase_order(shop.po_id, expected_date=PO_DATE)
    assert len(await _events(ann_id, "BackorderCancelled")) == 1


async def test_the_worker_cancels_a_backorder_whose_date_passed_while_it_waited(desk: BackorderDesk):
    # given a backorder covered by PO-1 on 11 March, "cancel if not by" the 11th
    await lamp_shop(desk, on_hand=0, po_units=2)
    placed = await order(desk, "ann@example.com", 2)
    backorder_id = (await backorder_of(placed)).id
    await desk.set_backorder_preferences(backorder_id, cancel_if_not_by=PO_DATE)
    assert await desk.refresh_stale_etas() == []
    # when the 12th comes and nothing arrived
    desk.clock.advance(timedelta(days=10))
    assert await desk.refresh_stale_etas() == [LAMP]
    # then it is cancelled, told once, and a second run finds nothing to do
    assert (await backorder_of(placed)).status == "CANCELLED"
    assert len(await _events(backorder_id, "BackorderCancelled")) == 1
    assert await desk.refresh_stale_etas() == []


async def test_the_worker_judges_the_date_in_the_customer_s_time_zone(desk: BackorderDesk):
    # given a Los Angeles customer covered by PO-1 on 11 March, "cancel if not by" the 11th (their date)
    await lamp_shop(desk, on_hand=0, po_units=2)
    await save_preferences(NotificationPreferences(email="ann@example.com", timezone="America/Los_Angeles"))
    placed = await order(desk, "ann@example.com", 2)
    backorder_id = (await backorder_of(placed)).id
    await desk.set_backorder_preferences(backorder_id, cancel_if_not_by=PO_DATE)
    # when the worker runs at 02:00 UTC on the 12th (19:00 on the 11th where she is), the PO overdue
    desk.clock.set(datetime(2026, 3, 12, 2, 0, tzinfo=UTC))
    await desk.refresh_stale_etas()
    # then her backorder still waits (her day has not ended) ...
    assert (await backorder_of(placed)).status == "WAITING"
    # ... and the first run after midnight in Los Angeles (07:00 UTC, daylight time) cancels it
    desk.clock.set(datetime(2026, 3, 12, 7, 0, tzinfo=UTC))
    assert await desk.refresh_stale_etas() == [LAMP]
    assert (await backorder_of(placed)).status == "CANCELLED"
    assert len(await _events(backorder_id, "BackorderCancelled")) == 1


async def test_a_declined_substitute_is_never_offered_or_taken_again_and_the_decline_is_in_the_history(
        desk: BackorderDesk):
    await lamp_shop(desk)
    placed = await order(desk, "ann@example.com", 5)
    backorder_id = (await backorder_of(placed)).id
    declined = await desk.decline_substitute(backorder_id, ALT, by="kim")
    assert declined.declined_substitutes == [ALT]
    assert (await backorder_of(placed)).declined_substitutes == [ALT]
    for attempt in (lambda: desk.offer_substitute(backorder_id, ALT, "kim"),
                    lambda: desk.accept_substitute(backorder_id, ALT),
                    lambda: desk.decline_substitute(backorder_id, ALT)):
        with pytest.raises(DomainError) as refused:
            await attempt()
        assert refused.value.code is ErrorCode.SUBSTITUTE_DECLINED
    history = await t.BackorderHistory.filter(backorder_id=backorder_id, kind="SUBSTITUTE").values()
    assert [(h["new_value"], h["cause"]) for h in history] == [(ALT, CauseKind.SUBSTITUTE_DECLINED.value)]


async def test_a_customer_who_wants_no_substitutes_is_offered_none(desk: BackorderDesk):
    await lamp_shop(desk)
    placed = await order(desk, "ann@example.com", 5)
    backorder_id = (await backorder_of(placed)).id
    await desk.set_backorder_preferences(backorder_id, substitutes=SubstituteConsent.NEVER)
    with pytest.raises(DomainError) as refused:
        await desk.offer_substitute(backorder_id, ALT, "kim")
    assert refused.value.code is ErrorCode.SUBSTITUTE_DECLINED


async def test_consenting_to_any_listed_substitute_takes_one_in_stock_at_once(desk: BackorderDesk):
    await lamp_shop(desk, alt_on_hand=10)
    placed = await order(desk, "ann@example.com", 5)  # 3 from stock, 2 waiting
    backorder_id = (await backorder_of(placed)).id
    # the brass lamp costs more (34.00 against 29.50): "same price or lower" does not take it
    await desk.set_backorder_preferences(backorder_id, substitutes=SubstituteConsent.SAME_PRICE_OR_LOWER)
    assert (await backorder_of(placed)).status == "WAITING"
    await desk.set_backorder_preferences(backorder_id, substitutes=SubstituteConsent.ANY_LISTED)
    row = await backorder_of(placed)
    assert (row.status, row.substituted_quantity) == ("SUBSTITUTED", 2)
    lines = await t.OrderLine.filter(order_id=placed.id, sku=ALT).values("quantity", "allocated_quantity")
    assert lines == [{"quantity": 2, "allocated_quantity": 2}]
    [substituted] = await _events(backorder_id, "BackorderSubstituted")
    assert substituted["automatic"] is True


async def test_the_worker_takes_a_consented_substitute_once_it_is_in_stock(desk: BackorderDesk):
    await lamp_shop(desk, alt_on_hand=0)
    placed = await order(desk, "ann@example.com", 5)
    backorder_id = (await backorder_of(placed)).id
    await desk.set_backorder_preferences(backorder_id, substitutes=SubstituteConsent.ANY_LISTED)
    assert await desk.apply_substitute_consents() == []  # none in stock yet
    await desk.receive_stock(ALT, 1)
    assert await desk.apply_substitute_consents() == []  # 1 is not enough for the 2 waiting
    await desk.receive_stock(ALT, 5)
    assert await desk.apply_substitute_consents() == [backorder_id]
    assert (await backorder_of(placed)).status == "SUBSTITUTED"
    assert await desk.apply_substitute_consents() == []


async def test_new_backorders_start_with_the_account_defaults(desk: BackorderDesk):
    await lamp_shop(desk, alt_on_hand=0)
    await save_preferences(NotificationPreferences(email="ann@example.com", cancel_if_not_by=date(2026, 4, 30),
                                                   substitutes=SubstituteConsent.NEVER))
    placed = await order(desk, "ann@example.com", 5)
    row = await backorder_of(placed)
    assert (row.cancel_if_not_by, row.substitute_consent) == (date(2026, 4, 30), "NEVER")
    other = await backorder_of(await order(desk, "bob@example.com", 1))
    assert (other.cancel_if_not_by, other.substitute_consent) == (None, "ASK")


async def test_a_default_consent_takes_a_substitute_as_the_order_is_placed(desk: BackorderDesk):
    await lamp_shop(desk, on_hand=0, alt_on_hand=10)
    await save_preferences(NotificationPreferences(email="ann@example.com", substitutes=SubstituteConsent.ANY_LISTED))
    placed = await order(desk, "ann@example.com", 2)
    assert [(line.sku, line.quantity, line.allocated_quantity) for line in placed.lines] == [
        (LAMP, 2, 0), (ALT, 2, 2)]
    assert (await backorder_of(placed)).status == "SUBSTITUTED"


async def test_a_default_date_the_order_cannot_meet_cancels_its_backorder_at_once(desk: BackorderDesk):
    await lamp_shop(desk, on_hand=0, po_units=0)  # nothing due: expected after the supplier's 14 days
    await save_preferences(NotificationPreferences(email="ann@example.com", cancel_if_not_by=date(2026, 3, 6)))
    placed = await order(desk, "ann@example.com", 2)
    row = await backorder_of(placed)
    assert row.status == "CANCELLED"
    [cancelled] = await _events(row.id, "BackorderCancelled")
    assert cancelled["not_by_date"] == "2026-03-06"


@pytest.mark.skipif(not POSTGRES_URL, reason="two workers really at once need PostgreSQL (SQLite has one writer); "
                                             "set BACKORDER_TEST_POSTGRES_URL")
async def test_two_workers_at_once_cancel_each_late_backorder_once_and_tell_its_customer_once(db_url: str,
                                                                                           bus: InProcessBus):
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    recorder = OutboxRecorder(NotificationSettings(), clock)
    async with open_database(f"{db_url}?minsize=1&maxsize=8", apply_migrations=False):
        def worker() -> BackorderDesk:  # as `serve` and `backorder worker` build it: events to the outbox
            return BackorderDesk(lambda: TortoiseUnitOfWork(bus, before_commit=[recorder]), clock)

        # given three SKUs, each with four backorders covered by a PO due 11 March, "cancel if not by" the 11th
        desk = worker()
        supplier = await desk.upsert_supplier(None, "Lumen Ltd", 14)
        waiting: list[str] = []
        for n in range(3):
            sku = f"LATE-{n}"
            await desk.upsert_product(ProductInput(sku=sku, name=sku, price=Decimal("5.00"), supplier_id=supplier.id))
            await desk.create_purchase_order(supplier.id, PO_DATE, [LineRequest(sku, 8)])
            for c in range(4):
                placed = await order(desk, f"c{c}@example.com", 2, sku)
                backorder_id = placed.lines[0].backorder_id
                assert backorder_id is not None
                await desk.set_backorder_preferences(backorder_id, cancel_if_not_by=PO_DATE)
                waiting.append(backorder_id)
        # when the 12th comes without the delivery and two workers refresh at the same moment
        clock.advance(timedelta(days=10))
        done = await asyncio.gather(*(worker().refresh_stale_etas() for _ in range(2)))
        # then every backorder is cancelled, announced once and put in its customer's outbox once
        assert sorted(set(done[0]) | set(done[1])) == ["LATE-0", "LATE-1", "LATE-2"]
        rows = await t.Backorder.filter(id__in=waiting).values_list("status", flat=True)
        assert set(rows) == {"CANCELLED"}
        for backorder_id in waiting:
            assert len(await _events(backorder_id, "BackorderCancelled")) == 1
            assert await NotificationEvent.filter(backorder_id=backorder_id, kind="BackorderCancelled").count() == 1


@pytest.mark.skipif(not POSTGRES_URL, reason="concurrent transactions need PostgreSQL: set "
                                             "BACKORDER_TEST_POSTGRES_URL")
async def test_concurrent_changes_to_one_customers_preferences_keep_a_true_record(db_url: str, bus: InProcessBus):
    """Agents and the customer saving at once, first save included: each save reads what the one before it wrote
    (the row is locked), so the kept changes chain (each one's old value is the previous one's new value) and end
    at what is saved; a first save that lost the race to create the row is a typed CONFLICT, nothing written."""
    async with open_database(f"{db_url}?minsize=1&maxsize=12", apply_migrations=False):
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus))
        email = "ann@example.com"
        languages = ["de", "fr", "es", "en"] * 3
        saves = [desk.set_notification_preferences(email, {"language": language}, by=f"agent {n}", by_agent=True)
                 for n, language in enumerate(languages)]
        outcomes = await asyncio.gather(*saves, return_exceptions=True)
        assert all(not isinstance(o, BaseException) or (isinstance(o, DomainError) and o.code is ErrorCode.CONFLICT)
                   for o in outcomes), outcomes
        changes = list(reversed(await portal.preference_changes(email, 100)))
        final = (await portal.get_preferences(email)).language
        chain = ["en", *[c.new_value for c in changes]]
        assert [c.old_value for c in changes] == chain[:-1]
        assert chain[-1] == final
