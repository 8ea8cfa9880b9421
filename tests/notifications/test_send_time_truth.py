"""Every message states what is true when it is sent, not when it was queued: a text held for quiet hours, an
email between tries and a back-in-stock message are worded (or dropped) at send time, from the rows as they are.

A property test drives random histories of the desk's changes interleaved with quiet hours, failing providers
(retries) and dispatcher rounds, over the real SMTP server (aiosmtpd) and the real twilio client against the
stand-in, and checks every message the moment it arrives against the state at that moment; then the cases the
colleague found, as examples.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.causes import RequestedBy
from domain.customers import NotificationPreferences
from domain.errors import DomainError
from domain.model import Backorder, Channel
from domain.services import CustomerDetails, LineRequest, ProductInput
from domain.store import notify as store
from domain.store import queries as q
from domain.store.portal import save_preferences
from notifications import wording
from notifications.i18n import format_money, format_short_day
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import plain
from tests.notifications.test_digest_truth import SMS_FACT, _check_email, _expected

pytestmark = pytest.mark.usefixtures("both_event_forms")

LONDON = ZoneInfo("Europe/London")
QUIET = (time(21, 0), time(8, 0))
ACTIVE = ("WAITING", "PARTIALLY_ALLOCATED", "ALLOCATED")
_examples = itertools.count()

operations = st.lists(st.one_of(
    st.tuples(st.just("order"), st.integers(0, 2), st.integers(1, 4)),
    st.tuples(st.just("receive"), st.integers(1, 5)),
    st.tuples(st.just("count_down"), st.integers(1, 3)),  # a count finds fewer on the shelf
    st.tuples(st.just("cancel"), st.integers(0, 5), st.none() | st.integers(1, 3),
              st.sampled_from(["customer", "shop"])),
    st.tuples(st.just("substitute"), st.integers(0, 5)),
    st.tuples(st.just("po_date"), st.integers(1, 40)),
    st.tuples(st.just("ship"), st.integers(0, 5)),
    st.tuples(st.just("wait"), st.integers(1, 720)),  # minutes: through the evening's quiet hours and out
    st.tuples(st.just("smtp"), st.booleans()),  # the mail server starts or stops answering "try again later"
    st.tuples(st.just("twilio_fails"), st.integers(1, 3)),  # Twilio answers 500 to the next sends
    st.just(("deliver",)),
), min_size=1, max_size=24)


@dataclass
class World:
    shop: Any
    smtp: Any
    twilio: Any
    n: int
    po: str
    orders: list[Any] = field(default_factory=list)
    mails_seen: int = 0
    texts_seen: int = 0
    back_in_stock: dict[str, int] = field(default_factory=dict)  # subscriber -> messages they got

    @property
    def sku(self) -> str:
        return f"P{self.n}"

    def email(self, who: int) -> str:
        return f"t{self.n}-{who}@example.com"

    def phone(self, who: int) -> str:
        return f"+4477008{self.n % 10000:04d}{who}"

    async def backorders(self) -> list[Backorder]:
        ids = [line.backorder_id for o in self.orders for line in o.lines if line.backorder_id]
        found = await q.backorders_by_id(ids)
        return [found[i] for i in ids if i in found]


async def _world(shop: Any, smtp: Any, twilio: Any) -> World:
    n = next(_examples)
    desk = shop.desk
    supplier = await desk.upsert_supplier(None, f"Supplier {n}", 20)
    await desk.upsert_product(ProductInput(sku=f"S{n}", name=f"Brass lamp {n}", price=Decimal("34"), currency="GBP"))
    await desk.upsert_product(ProductInput(sku=f"P{n}", name=f"Anglepoise lamp {n}", price=Decimal("29.50"),
                                           currency="GBP", substitutes=(f"S{n}",), supplier_id=supplier.id))
    await desk.receive_stock(f"S{n}", 50)
    po = await desk.create_purchase_order(supplier.id, shop.clock.today() + timedelta(days=8),
                                          [LineRequest(f"P{n}", 3)], number=f"PO-T{n}")
    # the peers and the database outlive one example: this one reads only what reaches its own customers
    world = World(shop=shop, smtp=smtp, twilio=twilio, n=n, po=po.id, mails_seen=len(smtp.messages),
                  texts_seen=len(twilio.requests))
    twilio.script.clear()
    for who in (0, 1, 2):  # 0 keeps quiet hours, 1 and 2 do not
        start, end = QUIET if who == 0 else (None, None)
        await save_preferences(NotificationPreferences(
            email=world.email(who), by_email=True, by_sms=who < 2, phone=world.phone(who), quiet_hours_start=start,
            quiet_hours_end=end, timezone="Europe/London"))
    await shop.notifications.subscribe_to_product(world.sku, f"watcher{n}@example.com", None)
    return world


async def _apply(world: World, op: tuple[Any, ...]) -> None:
    desk, clock = world.shop.desk, world.shop.clock
    backorders = await world.backorders()
    try:
        match op:
            case ("order", who, quantity):
                world.orders.append(await desk.place_order(
                    CustomerDetails(world.email(who), "Ann"), Channel.ONLINE, [LineRequest(world.sku, quantity)]))
            case ("receive", quantity):
                await desk.receive_stock(world.sku, quantity)
            case ("count_down", quantity):
                await desk.adjust_stock(world.sku, -quantity, "counted fewer")
            case ("cancel", index, quantity, wish) if backorders:
                requested = RequestedBy.CUSTOMER if wish == "customer" else RequestedBy.SHOP
                await desk.cancel_backorder(backorders[index % len(backorders)].id, quantity, by="agent-kim",
                                            reason="", requested_by=requested)
            case ("substitute", index) if backorders:
                await desk.accept_substitute(backorders[index % len(backorders)].id, f"S{world.n}")
            case ("po_date", days):
                await desk.update_purchase_order(world.po, expected_date=clock.today() + timedelta(days=days))
            case ("ship", index) if world.orders:
                await desk.ship_allocated(world.orders[index % len(world.orders)].id)
            case ("wait", minutes):
                clock.advance(timedelta(minutes=minutes))
            case ("smtp", trouble):
                world.smtp.handler.defer = {world.email(w) for w in (0, 1, 2)} if trouble else set()
            case ("twilio_fails", times):
                world.twilio.fail_next(500, 20500, "Internal Server Error", times=times)
            case ("deliver",):
                await world.shop.dispatcher.run_once()
                await _check_what_arrived(world)
    except DomainError:
        pass  # refused (nothing to cancel, nothing allocated to ship, fewer on the shelf than counted away)


async def _check_what_arrived(world: World) -> None:
    """Every message that reached the SMTP server or Twilio in this round, against the rows as they are now."""
    mails, world.mails_seen = world.smtp.messages[world.mails_seen:], len(world.smtp.messages)
    texts, world.texts_seen = world.twilio.requests[world.texts_seen:], len(world.twilio.requests)
    backorders = await world.backorders()
    by_order = {o.number: b for o in world.orders for b in backorders if b.order_id == o.id}
    now_status = {b.id: b.status.value for b in backorders}
    available = await store.available_to_order(world.sku)
    # what each backorder's alternatives cost the customer, from the orders as they are now
    orders = await q.orders_by_id([o.id for o in world.orders])
    pays = {b.id: format_money(sum((line.unit_price.amount * line.quantity for line in lines), Decimal(0)),
                               lines[0].unit_price.currency, "en")
            for b in backorders if b.order_id in orders
            for lines in [[line for line in orders[b.order_id].lines if line.substitute_for == b.id]] if lines}
    mine = {world.email(w) for w in (0, 1, 2)} | {f"watcher{world.n}@example.com"}
    for mail in mails:
        if mail["To"] not in mine:
            continue
        if mail["Subject"].endswith("is back in stock"):
            assert available > 0, "told back in stock when nothing is available to order"
            world.back_in_stock[mail["To"]] = world.back_in_stock.get(mail["To"], 0) + 1
            assert world.back_in_stock[mail["To"]] == 1, "told twice for one return to stock"
            continue
        # every number, status, queue place and date as the backorders are at this moment (the status-change
        # check is left out: what changed was told by the window, what is stated must be true now)
        _check_email(plain(mail), by_order, now_status)
    for text in texts:
        who = next((w for w in (0, 1, 2) if world.phone(w) == text["To"]), None)
        if who is None:
            continue
        if who == 0:
            local = world.shop.clock.now().astimezone(LONDON).time()
            assert QUIET[1] <= local < QUIET[0], f"a text at {local} in the customer's quiet hours"
        mine = [b for b in backorders if b.customer_email == world.email(who)]
        _check_text(text["Body"], mine, pays)


def _check_text(body: str, mine: list[Backorder], pays: dict[str, str]) -> None:
    if " updates on your orders." in body:
        count = int(body.split(": ", 1)[1].split(" ", 1)[0])
        assert 2 <= count <= len(mine), body
        return
    head, *parts = body.split(": ", 2)[2].rsplit(". http", 1)[0].split("; ")
    said = {k for k, v in wording.SMS_HEADLINES.items() if v == head}
    assert said, body
    facts: dict[str, int] = {}
    etas: list[str | None] = []
    paid: list[str | None] = []
    for part in parts:
        count, what, exp, pay = SMS_FACT.fullmatch(part).groups()  # type: ignore[union-attr]
        key = "replaced" if what.startswith("replaced") else {"ready": "set aside for you"}.get(what, what)
        paid.append(pay)
        if what.startswith("waiting"):
            key = "still on backorder"
            etas.append(exp)
        facts[key] = int(count)
    # the text names the product, not the order: it is true of one of the customer's backorders of it, now (a
    # price, when stated, is what the alternatives taken cost them; like the email, a later window's text about a
    # backorder replaced earlier need not repeat it)
    matches = [b for b in mine if _expected(b) == facts
               and etas in ([], [format_short_day(b.eta.date, "en") if b.eta else None])
               and _headline_holds(said, b) and all(p == pays.get(b.id) for p in paid if p)]
    assert matches, (body, [(b.status.value, _expected(b)) for b in mine])


def _headline_holds(said: set[str], b: Backorder) -> bool:
    status, waiting = b.status.value, b.waiting_quantity if b.status.value in ACTIVE else 0
    if said & {"created", "eta_later", "eta_earlier", "long_delay", "substitute_offered"}:
        return bool(waiting)
    if said <= {"allocated", "released"}:
        return status == "ALLOCATED"
    if said <= {"shipped"}:
        return status == "SHIPPED"
    if said <= {"cancelled", "cancelled_customer", "cancelled_shop", "cancelled_not_by"}:
        return status == "CANCELLED"
    if said <= {"substituted", "substituted_auto"}:
        return status == "SUBSTITUTED"
    return True


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(history=operations)
# a text held for the night, the backorder cancelled by the shop before morning; and stock taken again after its
# return, while the back-in-stock email waited for the mail server
@example(history=[("order", 0, 2), ("deliver",), ("wait", 60), ("cancel", 0, None, "shop"), ("wait", 30),
                  ("deliver",), ("wait", 700), ("deliver",)])
@example(history=[("smtp", True), ("receive", 1), ("deliver",), ("order", 2, 1), ("smtp", False), ("wait", 5),
                  ("deliver",), ("receive", 2), ("deliver",), ("wait", 5), ("deliver",)])
async def test_every_message_states_what_is_true_when_it_is_sent(db, smtp, twilio, history):
    shop = make_shop(make_settings(smtp, twilio, coalesce_seconds=0, retry_base_seconds=60.0,
                                   retry_max_seconds=600.0))
    shop.clock.set(datetime(2026, 3, 2, 20, 30, tzinfo=UTC))  # half an hour before the customer's quiet hours
    world = await _world(shop, smtp, twilio)
    smtp.handler.defer = set()
    for op in [*history, ("smtp", False), ("wait", 720), ("deliver",), ("wait", 15), ("deliver",)]:
        await _apply(world, op)


# -- the holes the colleague found, as examples ---------------------------------------------------------------
async def _lamp_shop(smtp: Any, twilio: Any) -> tuple[Any, str]:
    shop = make_shop(make_settings(smtp, twilio, coalesce_seconds=0))
    desk = shop.desk
    supplier = await desk.upsert_supplier(None, "Lumen Ltd", 20)
    await desk.upsert_product(ProductInput(sku="LAMP", name="Anglepoise lamp", price=Decimal("29.50"), currency="GBP",
                                           supplier_id=supplier.id))
    po = await desk.create_purchase_order(supplier.id, datetime(2026, 3, 10).date(), [LineRequest("LAMP", 5)],
                                          number="PO-9")
    await save_preferences(NotificationPreferences(
        email="ann@example.com", by_email=True, by_sms=True, phone="+447700900123", quiet_hours_start=QUIET[0],
        quiet_hours_end=QUIET[1], timezone="Europe/London"))
    shop.clock.set(datetime(2026, 3, 2, 23, 0, tzinfo=UTC))  # 11 p.m. in London: texts wait for 8 a.m.
    return shop, po.id


async def _ann_orders(shop: Any, quantity: int = 2) -> Any:
    return await shop.desk.place_order(CustomerDetails("ann@example.com", "Ann"), Channel.ONLINE,
                                       [LineRequest("LAMP", quantity)])


async def test_a_text_held_for_the_night_is_told_with_the_date_of_the_morning_once(db, smtp, twilio):
    shop, po = await _lamp_shop(smtp, twilio)
    await _ann_orders(shop)
    await shop.deliver()  # the email goes; the text waits for the morning
    await shop.desk.update_purchase_order(po, expected_date=datetime(2026, 3, 20).date())
    await shop.deliver()
    assert twilio.requests == [] and len(smtp.messages) == 2

    shop.clock.set(datetime(2026, 3, 3, 8, 0, 30, tzinfo=UTC))
    await shop.deliver()
    # one text for the night's two windows, with the date as it is in the morning (not 10 March)
    assert twilio.bodies == ["Lamp & Co: Anglepoise lamp: on backorder; 2 waiting, exp. 20 Mar. http://shop.test/ "
                             "Reply STOP to opt out"]
    [row] = await store.OutboxMessage.filter(channel="SMS")
    assert row.body_text == twilio.bodies[0] and len(row.about["digests"]) == 2  # agents see what was sent


async def test_a_text_held_for_the_night_says_the_cancel_once_not_the_old_news(db, smtp, twilio):
    shop, _ = await _lamp_shop(smtp, twilio)
    placed = await _ann_orders(shop)
    await shop.deliver()
    await shop.desk.cancel_backorder(placed.lines[0].backorder_id, by="agent Sam", reason="discontinued",
                                     requested_by=RequestedBy.SHOP)
    await shop.deliver()
    shop.clock.set(datetime(2026, 3, 3, 8, 0, 30, tzinfo=UTC))
    await shop.deliver()
    assert twilio.bodies == ["Lamp & Co: Anglepoise lamp: cancelled by us, sorry; 2 cancelled. http://shop.test/ "
                             "Reply STOP to opt out"]


async def test_a_text_whose_news_was_undone_overnight_is_not_sent(db, smtp, twilio):
    shop, po = await _lamp_shop(smtp, twilio)
    shop.clock.set(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    await _ann_orders(shop)
    await shop.deliver()
    twilio.requests.clear()
    shop.clock.set(datetime(2026, 3, 2, 23, 0, tzinfo=UTC))
    await shop.desk.update_purchase_order(po, expected_date=datetime(2026, 3, 20).date())
    await shop.deliver()  # "new date: 20 March" waits for the morning ...
    await shop.desk.update_purchase_order(po, expected_date=datetime(2026, 3, 10).date())
    await shop.deliver()  # ... and the date moves back before it
    shop.clock.set(datetime(2026, 3, 3, 8, 0, 30, tzinfo=UTC))
    await shop.deliver()
    assert twilio.requests == []
    [row] = await store.OutboxMessage.filter(channel="SMS", status="SUPPRESSED")
    assert row.last_error.startswith("nothing left to tell")


async def test_an_email_retried_after_a_change_is_worded_when_it_goes(db, smtp, twilio):
    shop, po = await _lamp_shop(smtp, twilio)
    smtp.handler.defer.add("ann@example.com")  # "try again later"
    await _ann_orders(shop)
    await shop.deliver(rounds=1)
    await shop.desk.update_purchase_order(po, expected_date=datetime(2026, 3, 20).date())
    await shop.deliver(rounds=1)
    smtp.handler.defer.clear()
    shop.clock.advance(timedelta(hours=1))
    await shop.deliver()
    [mail] = smtp.messages  # the second window joined the email waiting for its next try
    assert "Expected: 20 March 2026" in plain(mail) and "10 March" not in plain(mail)


async def test_back_in_stock_goes_only_while_it_is_and_the_next_real_return_is_told_once(db, smtp, twilio):
    shop, _ = await _lamp_shop(smtp, twilio)
    assert await shop.notifications.subscribe_to_product("LAMP", "watcher@example.com", None) == "ACTIVE"
    smtp.handler.defer.add("watcher@example.com")
    await shop.desk.receive_stock("LAMP", 1)
    await shop.deliver(rounds=1)  # the mail server says "later"
    await shop.desk.place_order(CustomerDetails("bob@example.com", "Bob"), Channel.ONLINE, [LineRequest("LAMP", 1)])
    smtp.handler.defer.clear()
    shop.clock.advance(timedelta(hours=1))
    await shop.deliver()
    assert [m["To"] for m in smtp.messages if "back in stock" in m["Subject"]] == []  # it was not, by then
    [dropped] = await store.OutboxMessage.filter(kind="BACK_IN_STOCK")
    assert dropped.status == "SUPPRESSED" and dropped.last_error.startswith("no longer in stock")
    assert (await store.ProductSubscription.get(email="watcher@example.com")).status == "ACTIVE"

    await shop.desk.receive_stock("LAMP", 2)  # it really is back
    await shop.deliver()
    await shop.desk.receive_stock("LAMP", 1)  # more of it: no second message
    await shop.deliver()
    assert [m["To"] for m in smtp.messages if "back in stock" in m["Subject"]] == ["watcher@example.com"]
    keys = [m.idempotency_key for m in await store.OutboxMessage.filter(kind="BACK_IN_STOCK").order_by("created_at")]
    assert len(keys) == len(set(keys)) == 2


# -- the audit: every kind of customer message is worded at send time, or says here why it cannot go stale ------
# Webhooks are for integrations: they report events as they happened (their semantics), not a state, and are left.
WORDED_ONCE = {
    # "reply YES to get one text when <product> is back in stock": a question about the next return, with no
    # figure, date or status in it, true until it is answered; a STOP meanwhile suppresses it at send time
    "SMS_OPT_IN",
}


async def test_a_sign_in_link_that_expired_while_waiting_to_be_sent_is_not_sent(db, smtp, twilio):
    shop, _ = await _lamp_shop(smtp, twilio)
    smtp.handler.defer.add("ann@example.com")
    await shop.notifications.send_portal_link("ann@example.com", "http://shop.test/#token=abc",
                                              shop.clock.now() + timedelta(minutes=30))
    await shop.deliver(rounds=1)
    smtp.handler.defer.clear()
    shop.clock.advance(timedelta(minutes=31))  # the next try comes after the link stopped working
    await shop.deliver()
    assert smtp.messages == []
    [row] = await store.OutboxMessage.filter(kind="PORTAL_LINK")
    assert row.status == "SUPPRESSED" and row.last_error == "the sign-in link expired before it could be sent"


async def test_the_opt_in_question_is_worded_once_and_states_nothing_that_can_change(db, smtp, twilio):
    shop, _ = await _lamp_shop(smtp, twilio)
    shop.clock.set(datetime(2026, 3, 3, 12, 0, tzinfo=UTC))
    twilio.fail_next(500, 20500, "Internal Server Error", times=1)
    assert await shop.notifications.subscribe_to_product("LAMP", None, "+447700900555") == "PENDING"
    await shop.deliver(rounds=1)
    await shop.desk.receive_stock("LAMP", 3)  # the product comes back while the question waits for its next try
    shop.clock.advance(timedelta(hours=1))
    await shop.deliver()
    [row] = await store.OutboxMessage.filter(kind="SMS_OPT_IN")
    assert twilio.bodies == [row.body_text] and row.about is None
    assert twilio.bodies == ["Lamp & Co: reply YES to get one text when Anglepoise lamp is back in stock. "
                             "Reply STOP to opt out"]
    assert not any(ch.isdigit() for ch in row.body_text)  # no quantity, date or price to go stale


async def test_every_kind_of_customer_message_is_worded_when_sent_or_said_why_not(db, smtp, twilio):
    shop, _ = await _lamp_shop(smtp, twilio)
    shop.clock.set(datetime(2026, 3, 3, 12, 0, tzinfo=UTC))
    await _ann_orders(shop)  # a digest, by email and by text
    await shop.notifications.send_portal_link("ann@example.com", "http://shop.test/#token=abc",
                                              shop.clock.now() + timedelta(minutes=30))
    await shop.notifications.subscribe_to_product("LAMP", "watcher@example.com", None)
    await shop.notifications.subscribe_to_product("LAMP", None, "+447700900555")
    await store.confirm_product_subscriptions("+447700900555")
    await shop.desk.receive_stock("LAMP", 5)  # back in stock, by email and by text
    await shop.dispatcher.compose_due()
    rows = await store.OutboxMessage.all()
    assert {(r.kind, r.channel) for r in rows} >= {("DIGEST", "EMAIL"), ("DIGEST", "SMS"), ("PORTAL_LINK", "EMAIL"),
                                                   ("BACK_IN_STOCK", "EMAIL"), ("BACK_IN_STOCK", "SMS"),
                                                   ("SMS_OPT_IN", "SMS")}
    for row in rows:
        assert row.about is not None or row.kind in WORDED_ONCE, (row.kind, row.channel)


async def test_a_message_is_never_worded_from_another_customers_backorder(db, smtp, twilio):
    # given Ann's email waiting for its next try, and Bob's backorder for an oak desk
    shop, _ = await _lamp_shop(smtp, twilio)
    await shop.desk.upsert_product(ProductInput(sku="DESK", name="Oak desk", price=Decimal("300.00"), currency="GBP"))
    smtp.handler.defer.add("ann@example.com")
    await _ann_orders(shop)
    await shop.deliver(rounds=1)
    bob = await shop.desk.place_order(CustomerDetails("bob@example.com", "Bob"), Channel.ONLINE,
                                      [LineRequest("DESK", 1)])
    [bobs] = [line.backorder_id for line in bob.lines if line.backorder_id]
    # when what Ann's message is about names Bob's backorder (an event attributed to the wrong customer: a fault
    # upstream, as a customer's part of a long queue's change holding someone else's entry would be)
    [waiting] = await store.OutboxMessage.filter(customer_email="ann@example.com", channel="EMAIL", status="QUEUED")
    digests = (waiting.about or {})["digests"]
    assert await store.NotificationEvent.filter(digest_id__in=digests).update(
        backorder_id=bobs, order_id=bob.id, sku="DESK")
    smtp.handler.defer.clear()
    shop.clock.advance(timedelta(hours=1))
    await shop.deliver()
    # then nothing Ann is sent is worded from Bob's rows: his product and order are not named to her
    to_ann = [plain(m) for m in smtp.messages if "ann@example.com" in str(m["To"])]
    assert not any("Oak desk" in text or bob.number in text for text in to_ann), to_ann
