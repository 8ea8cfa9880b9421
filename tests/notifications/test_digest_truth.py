"""A digest says what is true when it is sent: every number and status in the email and the text is the
backorder's state at that moment; the window's events only decide what changed.

A property test drives random sequences of the desk's operations on a few backorders inside one window and
checks every rendered email and text against the backorders as they are when the digest is composed; then
the cases a new user met (issue 11), over the real SMTP server and the Twilio stand-in.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.causes import RequestedBy
from domain.customers import NotificationPreferences
from domain.errors import DomainError
from domain.model import Backorder, BackorderPolicy, Channel
from domain.services import CustomerDetails, LineRequest, ProductInput
from domain.store import notify as store
from domain.store.portal import save_preferences
from notifications.i18n import format_short_day
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import plain
from tests.notifications.truth import SMS_FACT, Example, check_email, desk_change, example_catalogue, expected_facts

# the consumers of committed events, with a long queue's change in either form (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("both_event_forms")

WINDOW = timedelta(seconds=601)
_examples = itertools.count()

# -- the property ---------------------------------------------------------------------------------
customers = st.integers(0, 1)
operations = st.lists(st.one_of(
    st.tuples(st.just("order"), customers, st.integers(1, 4)),
    st.tuples(st.just("receive"), st.integers(1, 5)),
    st.tuples(st.just("cancel"), st.integers(0, 5), st.none() | st.integers(1, 3),
              st.sampled_from(["customer", "asked", "shop", "unsaid"])),
    st.tuples(st.just("substitute"), st.integers(0, 5)),
    st.tuples(st.just("po_date"), st.integers(1, 40)),
    st.tuples(st.just("ship"), st.integers(0, 5)),
    st.tuples(st.just("wait"), st.integers(1, 200)),
    # an agent moves one ahead (or back): the queue is then no longer the order of placing
    st.tuples(st.just("reprioritize"), st.integers(0, 5), st.integers(-3, 3)),
), min_size=1, max_size=10)
# how the product hands out arriving stock: strictly in queue order, or a share for every waiting order first
shares = st.sampled_from([None, (None, None), (1, None), (1, 2)])  # None: PRIORITY; else (minimum, customer cap)


@dataclass
class World(Example):
    fair_share: bool = False


async def _world(shop: Any, share: tuple[int | None, int | None] | None = None) -> World:
    n = next(_examples)
    po = await example_catalogue(shop, n, f"PO-P{n}", share)
    for who in (0, 1):
        await save_preferences(NotificationPreferences(
            email=f"c{n}-{who}@example.com", by_email=True, by_sms=True, phone=f"+4477009{n % 10000:04d}{who}",
            quiet_hours_start=None, quiet_hours_end=None, timezone="Europe/London"))
    return World(shop=shop, n=n, po=po, fair_share=share is not None)


async def _run(world: World, ops: list[tuple[Any, ...]]) -> None:
    desk, clock = world.shop.desk, world.shop.clock
    for op in ops:
        backorders = await world.backorders()
        try:
            if await desk_change(world, op, backorders):
                continue
            match op:
                case ("cancel", index, quantity, wish) if backorders:
                    b = backorders[index % len(backorders)]
                    by = "customer" if wish == "customer" else "agent-kim"
                    requested = {"asked": RequestedBy.CUSTOMER, "shop": RequestedBy.SHOP}.get(wish)
                    await desk.cancel_backorder(b.id, quantity, by=by, reason="", requested_by=requested)
                case ("wait", seconds):
                    clock.advance(timedelta(seconds=seconds))
                case ("reprioritize", index, priority) if backorders:
                    await desk.reprioritize_backorder(backorders[index % len(backorders)].id, priority,
                                                      "promised on the phone", "agent-kim")
        except DomainError:
            pass  # refused (nothing to cancel, nothing allocated to ship...): changes nothing


async def _send(world: World) -> list[store.OutboxMessage]:
    """Close the window and compose; the messages it wrote for this example's customers."""
    before = {m.id for m in await store.OutboxMessage.all().only("id")}
    world.shop.clock.advance(WINDOW)
    await world.shop.dispatcher.compose_due()
    emails = {world.email(0), world.email(1)}
    return [m for m in await store.OutboxMessage.all() if m.id not in before and m.customer_email in emails]


def _check_sms(body: str, items: list[str], by_order: dict[str, Backorder]) -> None:
    if len(items) != 1:
        assert f"{len(items)} updates on your orders." in body, body
        return
    b = by_order[items[0]]
    parts = body.split(": ", 2)[2].rsplit(". http", 1)[0].split("; ")[1:]
    facts: dict[str, int] = {}
    for part in parts:
        count, what, exp, _ = SMS_FACT.fullmatch(part).groups()  # type: ignore[union-attr]
        key = "replaced" if what.startswith("replaced") else {"ready": "set aside for you"}.get(what, what)
        if what.startswith("waiting"):
            key = "still on backorder"
            assert exp == (format_short_day(b.eta.date, "en") if b.eta else None), body
        facts[key] = int(count)
    assert facts == expected_facts(b), body


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(before_window=operations, in_window=operations, share=shares)
# always among the examples: a later order moved ahead by an agent, then a PO date moving both ETAs (the one
# moved back is told "ahead of yours", not "placed before yours"); and the same in a fair-share queue
@example(before_window=[("order", 0, 3), ("order", 1, 2), ("reprioritize", 1, 2)], in_window=[("po_date", 20)],
         share=None)
@example(before_window=[("order", 0, 3), ("order", 1, 2), ("reprioritize", 1, 2)], in_window=[("po_date", 20)],
         share=(1, None))
async def test_every_number_and_status_in_a_digest_is_the_state_when_it_is_sent(db, before_window, in_window, share):
    shop = make_shop(make_settings(None, None))
    world = await _world(shop, share)
    await _run(world, before_window)
    await _send(world)
    before = {b.id: b.status.value for b in await world.backorders()}

    await _run(world, in_window)
    messages = await _send(world)

    backorders = await world.backorders()
    by_order = {o.number: b for o in world.orders for b in backorders if b.order_id == o.id}
    emails = {m.recipient: m for m in messages if m.channel == "EMAIL"}
    for message in messages:
        if message.channel == "EMAIL":
            check_email(message.body_text, by_order, before, world.fair_share)
    for message in messages:
        if message.channel == "SMS":
            email = emails[message.customer_email]  # the text says what the email says
            _check_sms(message.body_text, check_email(email.body_text, by_order, before, world.fair_share),
                       by_order)


# -- what a new user met (issue 11), over the real SMTP server and the Twilio stand-in --------------
async def _lamp_shop(smtp: Any, twilio: Any, stock: int = 0) -> tuple[Any, str]:
    shop = make_shop(make_settings(smtp, twilio))
    desk = shop.desk
    supplier = await desk.upsert_supplier(None, "Lumen Ltd", 20)
    await desk.upsert_product(ProductInput(sku="LAMP-ALT", name="Brass desk lamp", price=Decimal("34"), currency="GBP"))
    await desk.upsert_product(ProductInput(sku="LAMP", name="Anglepoise lamp", price=Decimal("29.50"), currency="GBP",
                                           substitutes=("LAMP-ALT",), supplier_id=supplier.id))
    await desk.receive_stock("LAMP-ALT", 10)
    if stock:
        await desk.receive_stock("LAMP", stock)
    po = await desk.create_purchase_order(supplier.id, date(2026, 3, 10), [LineRequest("LAMP", 5)], number="PO-9")
    for email, phone in (("ann@example.com", "+447700900123"), ("bob@example.com", "+447700900456")):
        await save_preferences(NotificationPreferences(email=email, by_email=True, by_sms=True, phone=phone,
                                                       quiet_hours_start=None, quiet_hours_end=None,
                                                       timezone="Europe/London"))
    return shop, po.id


async def _order(shop: Any, email: str, quantity: int) -> Any:
    return await shop.desk.place_order(CustomerDetails(email, email.split("@")[0].title()), Channel.ONLINE,
                                       [LineRequest("LAMP", quantity)])


async def _window(shop: Any) -> None:
    shop.clock.advance(WINDOW)
    await shop.deliver()


async def test_a_backorder_filled_inside_the_window_is_told_it_is_ready_not_on_backorder(db, smtp, twilio):
    shop, _ = await _lamp_shop(smtp, twilio)
    await _order(shop, "ann@example.com", 2)  # 03:09:12: on backorder
    shop.clock.advance(timedelta(seconds=3))
    await shop.desk.receive_stock("LAMP", 2)  # 03:09:15: filled
    await _window(shop)

    [mail] = smtp.messages
    assert mail["Subject"] == "Anglepoise lamp: ready to ship"
    text = plain(mail)
    assert "Good news: it has arrived and is set aside for you, ready to ship." in text
    assert "Now: 2 set aside for you." in text
    assert "on backorder" not in text and "Expected" not in text and "queue" not in text
    [sms] = twilio.bodies
    assert sms.startswith("Lamp & Co: Anglepoise lamp: ready to ship; 2 ready.")


async def test_a_cancel_at_the_customers_request_says_so(db, smtp, twilio):
    shop, _ = await _lamp_shop(smtp, twilio)
    placed = await _order(shop, "ann@example.com", 2)
    await _window(shop)
    await shop.desk.cancel_backorder(placed.lines[0].backorder_id, by="agent Sam", reason="customer found one locally",
                                     requested_by=RequestedBy.CUSTOMER)
    await _window(shop)

    text = plain(smtp.messages[-1])
    assert "Cancelled, as you asked. You will not be charged for cancelled items." in text
    assert "we had to cancel" not in text and "found one locally" not in text and "Sam" not in text
    assert twilio.bodies[-1].startswith("Lamp & Co: Anglepoise lamp: cancelled as you asked; 2 cancelled.")


async def test_a_customers_own_cancel_inside_the_window_sends_nothing(db, smtp, twilio):
    shop, _ = await _lamp_shop(smtp, twilio)
    placed = await _order(shop, "ann@example.com", 2)
    await shop.desk.cancel_backorder(placed.lines[0].backorder_id, by="customer", reason="ordered by mistake")
    await _window(shop)
    assert smtp.messages == [] and twilio.bodies == []


async def test_a_second_order_is_told_its_place_and_units_as_they_are_when_the_message_goes(db, smtp, twilio):
    shop, _ = await _lamp_shop(smtp, twilio)
    await _order(shop, "ann@example.com", 3)  # queue position 1
    await _order(shop, "bob@example.com", 4)  # queue position 2, 4 waiting
    await shop.desk.receive_stock("LAMP", 5)  # ann's 3, then 2 of bob's: bob is now first for his other 2
    await _window(shop)

    bobs = next(m for m in smtp.messages if m["To"] == "bob@example.com")
    text = plain(bobs)
    assert "Part of it has arrived and is set aside for you." in text
    assert "Now: 2 set aside for you; 2 still on backorder." in text
    assert "You are next in line: no order is waiting before yours." in text
    assert "4 items" not in text and "2nd" not in text
    assert [body for body in twilio.bodies if "part has arrived" in body] == [
        "Lamp & Co: Anglepoise lamp: part has arrived; 2 ready; 2 waiting, exp. 10 Mar. http://shop.test/ "
        "Reply STOP to opt out"]


async def test_one_unit_cancelled_and_one_substituted_are_each_told_as_one(db, smtp, twilio):
    shop, _ = await _lamp_shop(smtp, twilio)
    placed = await _order(shop, "ann@example.com", 2)
    await _window(shop)
    backorder_id = placed.lines[0].backorder_id
    await shop.desk.cancel_backorder(backorder_id, 1, by="customer")
    await shop.desk.accept_substitute(backorder_id, "LAMP-ALT")
    await _window(shop)

    text = plain(smtp.messages[-1])
    assert smtp.messages[-1]["Subject"] == "Anglepoise lamp: alternative confirmed"
    assert "The alternative you chose takes its place." in text
    assert "Now: 1 replaced by Brass desk lamp; 1 cancelled." in text
    assert "2 ×" not in text
    assert "You pay £34.00 for Brass desk lamp." in text
    # the text states the price where the email does: what they pay for the alternative taken
    assert twilio.bodies[-1].startswith("Lamp & Co: Anglepoise lamp: replaced by your alternative; 1 replaced, you "
                                        "pay £34.00; 1 cancelled.")


async def test_a_preorder_is_told_released_only_once_its_release_day_has_come(db, smtp, twilio):
    shop, _ = await _lamp_shop(smtp, twilio)
    desk = shop.desk  # the clock says 2 March; the lamp is released on 5 March
    await desk.upsert_product(ProductInput(sku="NEW-LAMP", name="Lamp 2027", price=Decimal("49"), currency="GBP",
                                           backorder_policy=BackorderPolicy.PREORDER, release_date=date(2026, 3, 5)))
    for email in ("ann@example.com", "bob@example.com"):
        await desk.place_order(CustomerDetails(email), Channel.ONLINE, [LineRequest("NEW-LAMP", 1)])
    await _window(shop)
    await desk.receive_stock("NEW-LAMP", 1)  # before the release: Ann's is set aside, but nothing ships yet
    await _window(shop)
    assert smtp.messages[-1]["Subject"] == "Lamp 2027: preorder set aside"
    assert "Your preorder is set aside for you and ships from its release day, 5 March 2026." in plain(
        smtp.messages[-1])

    shop.clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    await desk.receive_stock("NEW-LAMP", 1)  # on the release day: Bob's
    await _window(shop)
    assert smtp.messages[-1]["To"] == "bob@example.com"
    assert smtp.messages[-1]["Subject"] == "Lamp 2027: preorder ready to ship"
    assert "Your preorder has been released and is set aside for you, ready to ship." in plain(smtp.messages[-1])
