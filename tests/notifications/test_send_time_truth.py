"""Every message states what is true when it is sent, not when it was queued: a text held for quiet hours, an
email between tries and a back-in-stock message are worded (or dropped) at send time, from the rows as they are,
in the customer's language then, and go to the customer's address then (a number changed overnight, texts turned
off, a STOP from the new number).

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
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.causes import RequestedBy
from domain.customers import SUPPORTED_LANGUAGES, NotificationPreferences
from domain.errors import DomainError
from domain.model import Backorder, Channel
from domain.services import CustomerDetails, LineRequest, ProductInput
from domain.store import notify as store
from domain.store import queries as q
from domain.store.portal import get_preferences, save_preferences
from notifications import wording
from notifications.i18n import format_moment, format_money, format_short_day, translations
from tests.notifications.conftest import make_settings, make_shop
from tests.notifications.support import plain, send_sign_in_link
from tests.notifications.truth import (
    ACTIVE,
    SMS_FACT,
    Example,
    check_email,
    desk_change,
    example_catalogue,
    expected_facts,
)

pytestmark = pytest.mark.usefixtures("both_event_forms")

LONDON = ZoneInfo("Europe/London")
QUIET = (time(21, 0), time(8, 0))
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
    # the customer's own changes between queueing and sending: a new number (saved by them, or by an agent, who
    # needs their consent to texts at it), texts on or off, STOP from the number they have now, another language
    st.tuples(st.just("phone"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("texts"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("stop"), st.integers(0, 2)),
    st.tuples(st.just("language"), st.integers(0, 2), st.sampled_from(SUPPORTED_LANGUAGES)),
), min_size=1, max_size=24)


@dataclass
class World(Example):
    smtp: Any = None
    twilio: Any = None
    mails_seen: int = 0
    texts_seen: int = 0
    back_in_stock: dict[str, int] = field(default_factory=dict)  # subscriber -> messages they got
    quiet: tuple[time, time] = QUIET  # customer 0's quiet hours, London time
    numbers: dict[str, int] = field(default_factory=dict)  # every number a customer of the example ever had
    letter: ClassVar[str] = "t"

    def number(self, who: int, version: int) -> str:
        return f"+4477{self.n % 10000:04d}{who}{version % 100:02d}"

    async def preferences(self, who: int) -> NotificationPreferences:
        return await get_preferences(self.email(who))


async def _world(shop: Any, smtp: Any, twilio: Any, quiet: tuple[time, time] = QUIET) -> World:
    n = next(_examples)
    po = await example_catalogue(shop, n, f"PO-T{n}")
    # the peers and the database outlive one example: this one reads only what reaches its own customers
    world = World(shop=shop, smtp=smtp, twilio=twilio, n=n, po=po, mails_seen=len(smtp.messages),
                  texts_seen=len(twilio.requests), quiet=quiet)
    twilio.script.clear()
    for who in (0, 1, 2):  # 0 keeps quiet hours, 1 and 2 do not
        start, end = quiet if who == 0 else (None, None)
        world.numbers[world.number(who, 0)] = who
        await save_preferences(NotificationPreferences(
            email=world.email(who), by_email=True, by_sms=who < 2, phone=world.number(who, 0),
            quiet_hours_start=start, quiet_hours_end=end, timezone="Europe/London"))
    await shop.notifications.subscribe_to_product(world.sku, f"watcher{n}@example.com", None)
    return world


async def _apply(world: World, op: tuple[Any, ...]) -> None:
    desk, clock = world.shop.desk, world.shop.clock
    backorders = await world.backorders()
    try:
        if await desk_change(world, op, backorders):
            return
        match op:
            case ("count_down", quantity):
                await desk.adjust_stock(world.sku, -quantity, "counted fewer")
            case ("cancel", index, quantity, wish) if backorders:
                requested = RequestedBy.CUSTOMER if wish == "customer" else RequestedBy.SHOP
                await desk.cancel_backorder(backorders[index % len(backorders)].id, quantity, by="agent-kim",
                                            reason="", requested_by=requested)
            case ("wait", minutes):
                clock.advance(timedelta(minutes=minutes))
            case ("smtp", trouble):
                world.smtp.handler.defer = {world.email(w) for w in (0, 1, 2)} if trouble else set()
            case ("twilio_fails", times):
                world.twilio.fail_next(500, 20500, "Internal Server Error", times=times)
            case ("phone", who, by_agent):
                number = world.number(who, len([n for n, w in world.numbers.items() if w == who]))
                world.numbers[number] = who
                await desk.set_notification_preferences(world.email(who), {"phone": number},
                                                        by="agent-kim" if by_agent else world.email(who),
                                                        by_agent=by_agent)
            case ("texts", who, on):
                await desk.set_notification_preferences(world.email(who), {"by_sms": on}, by=world.email(who),
                                                        by_agent=False)
            case ("stop", who):
                if number := (await world.preferences(who)).phone:
                    await store.record_sms_opt_out(number, clock.now(), "STOP")
            case ("language", who, language):
                await desk.set_notification_preferences(world.email(who), {"language": language},
                                                        by=world.email(who), by_agent=False)
            case ("deliver",):
                await world.shop.desk.folded()  # a receipt recorded as a range told first (Shop.deliver)
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
    # one round tells each customer at most once per channel: two messages due together (a text held for quiet
    # hours, a later window's) are one, worded from both
    digests_to = [m["To"] for m in mails if m["To"] in mine and not m["Subject"].endswith("is back in stock")]
    texts_to = [t["To"] for t in texts]
    assert all(digests_to.count(to) == 1 for to in digests_to), ("two emails in one round", digests_to)
    assert all(texts_to.count(to) == 1 for to in texts_to), ("two texts in one round", texts_to)
    customers = {world.email(w): w for w in (0, 1, 2)}
    prefs = {w: await world.preferences(w) for w in (0, 1, 2)}
    for mail in mails:
        if mail["To"] not in mine:
            continue
        if mail["To"] in customers:  # in the customer's language as it is now (the watcher is no customer)
            language = prefs[customers[mail["To"]]].language
            assert plain(mail).startswith(translations(language).gettext("Hello {name},").format(name="Ann")), (
                language, plain(mail))
            if language != "en":
                continue  # the figures are read back from the English words (below, and in every English example)
        if mail["Subject"].endswith("is back in stock"):
            assert available > 0, "told back in stock when nothing is available to order"
            world.back_in_stock[mail["To"]] = world.back_in_stock.get(mail["To"], 0) + 1
            assert world.back_in_stock[mail["To"]] == 1, "told twice for one return to stock"
            continue
        # every number, status, queue place and date as the backorders are at this moment (the status-change
        # check is left out: what changed was told by the window, what is stated must be true now)
        check_email(plain(mail), by_order, now_status)
    for text in texts:
        who = world.numbers.get(text["To"])
        if who is None:
            continue
        # to the number the customer has now, texts on, and not one that said STOP: never where it was queued for
        assert text["To"] == prefs[who].texts_to(), ("a text to a number that is not the customer's now", text["To"],
                                                     prefs[who])
        assert not await store.sms_opted_out(text["To"]), ("a text to a number that said STOP", text["To"])
        language = prefs[who].language
        assert text["Body"].endswith(translations(language).gettext("Reply STOP to opt out")), (language, text)
        if language != "en":
            continue
        if who == 0:
            local = world.shop.clock.now().astimezone(LONDON).time()
            start, end = world.quiet
            quiet = (start <= local or local < end) if start > end else (start <= local < end)
            assert not quiet, f"a text at {local} in the customer's quiet hours {start}-{end}"
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
    matches = [b for b in mine if expected_facts(b) == facts
               and etas in ([], [format_short_day(b.eta.date, "en") if b.eta else None])
               and _headline_holds(said, b) and all(p == pays.get(b.id) for p in paid if p)]
    assert matches, (body, [(b.status.value, expected_facts(b)) for b in mine])


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
# a text held for the night, the customer's number changed before morning (it went to the old one); and a text
# between tries while the customer changed their number to one that had said STOP, then changed language
@example(history=[("order", 0, 2), ("wait", 40), ("deliver",), ("phone", 0, False), ("wait", 700), ("deliver",)])
@example(history=[("order", 1, 1), ("twilio_fails", 2), ("deliver",), ("phone", 1, False), ("stop", 1),
                  ("phone", 1, False), ("texts", 1, True), ("language", 1, "fr"), ("wait", 5), ("deliver",)])
async def test_every_message_states_what_is_true_when_it_is_sent(db, smtp, twilio, history):
    shop = make_shop(make_settings(smtp, twilio, coalesce_seconds=0, retry_base_seconds=60.0,
                                   retry_max_seconds=600.0))
    shop.clock.set(datetime(2026, 3, 2, 20, 30, tzinfo=UTC))  # half an hour before the customer's quiet hours
    world = await _world(shop, smtp, twilio)
    smtp.handler.defer = set()
    for op in [*history, ("smtp", False), ("wait", 720), ("deliver",), ("wait", 15), ("deliver",)]:
        await _apply(world, op)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(history=operations, quiet_from=st.integers(0, 23), quiet_hours=st.integers(1, 23),
       start=st.integers(0, 24 * 60 - 1))
# the text held until 8:00, and a new date told at 8:00:30 before the held one was picked up: both were due in the
# same round, and two texts went
@example(history=[("order", 0, 2), ("deliver",), ("wait", 60 * 9 + 31), ("po_date", 20), ("deliver",)],
         quiet_from=21, quiet_hours=11, start=22 * 60 + 30)
async def test_each_customer_is_told_at_most_once_a_round_on_each_channel(db, smtp, twilio, history, quiet_from,
                                                                          quiet_hours, start):
    """Random histories under random quiet hours and clocks: in every dispatcher round each customer gets at most
    one email and one text, and each states the truth as it is when it is sent (`_check_what_arrived`)."""
    shop = make_shop(make_settings(smtp, twilio, coalesce_seconds=0, retry_base_seconds=60.0,
                                   retry_max_seconds=600.0))
    shop.clock.set(datetime(2026, 3, 2, tzinfo=UTC) + timedelta(minutes=start))
    world = await _world(shop, smtp, twilio, quiet=(time(quiet_from), time((quiet_from + quiet_hours) % 24)))
    smtp.handler.defer = set()
    for op in [*history, ("smtp", False), ("wait", 24 * 60), ("deliver",), ("wait", 15), ("deliver",)]:
        await _apply(world, op)


# the customer's contact and language changing while their messages wait (quiet hours, a provider's retries), in
# rounds: a change of the desk's (often an order of that round's customer), perhaps a provider failing, a dispatcher
# round (what it queues may be held or retried), then that customer's own changes before the next round sends it
contact_changes = st.lists(st.one_of(
    st.tuples(st.just("phone"), st.booleans()),  # saved by the customer, or by an agent (True)
    st.tuples(st.just("texts"), st.booleans()),
    st.just(("stop",)),
    st.tuples(st.just("language"), st.sampled_from(SUPPORTED_LANGUAGES)),
), max_size=3)
contact_rounds = st.lists(st.tuples(
    st.integers(0, 2),  # the round's customer
    # no receipts here (test_every_message_states_what_is_true_when_it_is_sent has them): the facts change by the
    # date moving, and an order that waits is what makes a message to hold or retry
    st.one_of(st.tuples(st.just("order"), st.integers(1, 4)), st.tuples(st.just("po_date"), st.integers(1, 40))),
    st.integers(0, 2),  # Twilio answers 500 to this many sends of the round
    st.booleans(),  # the mail server says "try again later" this round
    contact_changes,
    st.integers(1, 720),  # minutes to the next round
), min_size=1, max_size=6).map(lambda rounds: [
    op for who, change, failures, deferred, contact, minutes in rounds
    for op in [("order", who, change[1]) if change[0] == "order" else change, ("twilio_fails", failures),
               ("smtp", deferred), ("deliver",), *((c[0], who, *c[1:]) for c in contact), ("wait", minutes)]])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(history=contact_rounds)
# a text between tries when the customer gave a new number: it went to the old one
@example(history=[("order", 1, 1), ("twilio_fails", 2), ("smtp", False), ("deliver",), ("phone", 1, False),
                  ("wait", 5)])
async def test_every_message_goes_to_the_customer_as_they_are_when_it_is_sent(db, smtp, twilio, history):
    """Random interleavings of queueing, the customer's changes (number, texts on or off, STOP, language) and
    sending: a text goes to the number the customer has when it is sent (none once texts are off or that number
    said STOP), every message is in their language then, and states the truth then (`_check_what_arrived`)."""
    shop = make_shop(make_settings(smtp, twilio, coalesce_seconds=0, retry_base_seconds=60.0,
                                   retry_max_seconds=600.0))
    shop.clock.set(datetime(2026, 3, 2, 20, 30, tzinfo=UTC))
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


async def test_a_text_held_for_the_night_and_the_mornings_news_go_as_one_text(db, smtp, twilio):
    shop, po = await _lamp_shop(smtp, twilio)
    await _ann_orders(shop)
    await shop.deliver()  # the text waits for 8 a.m.
    shop.clock.set(datetime(2026, 3, 3, 8, 0, 30, tzinfo=UTC))  # due, not yet picked up, when the date moves
    await shop.desk.update_purchase_order(po, expected_date=datetime(2026, 3, 20).date())
    await shop.deliver()
    assert twilio.bodies == ["Lamp & Co: Anglepoise lamp: on backorder; 2 waiting, exp. 20 Mar. http://shop.test/ "
                             "Reply STOP to opt out"]


async def test_two_texts_queued_at_once_for_one_customer_go_as_one(db, smtp, twilio, monkeypatch):
    # given a text held for the night, and a second one queued beside it without seeing it (two dispatchers
    # composing at once on PostgreSQL, neither seeing the other's uncommitted row)
    shop, po = await _lamp_shop(smtp, twilio)
    await _ann_orders(shop)
    await shop.deliver()
    await shop.desk.update_purchase_order(po, expected_date=datetime(2026, 3, 20).date())

    async def unseen(*args: Any) -> None:
        return None
    monkeypatch.setattr(store, "unsent_digest", unseen)
    await shop.dispatcher.compose_due()
    monkeypatch.undo()
    assert await store.OutboxMessage.filter(channel="SMS", status="QUEUED").count() == 2
    # when both are due in the morning's round
    shop.clock.set(datetime(2026, 3, 3, 8, 0, 30, tzinfo=UTC))
    await shop.deliver()
    # then one text goes, worded from both windows as things are then; the other says where its news went
    assert twilio.bodies == ["Lamp & Co: Anglepoise lamp: on backorder; 2 waiting, exp. 20 Mar. http://shop.test/ "
                             "Reply STOP to opt out"]
    sent, merged = await store.OutboxMessage.filter(channel="SMS").order_by("created_at", "id")
    assert (sent.status, merged.status) == ("SENT", "MERGED")
    assert merged.last_error == f"told in message {sent.id}, due in the same round"
    assert len(sent.about["digests"]) == 2


async def test_two_texts_merged_in_one_round_go_to_the_number_the_customer_has_then(db, smtp, twilio, monkeypatch):
    # given two texts for Ann queued for the morning without seeing each other (as above), the first to her old number
    shop, po = await _lamp_shop(smtp, twilio)
    await _ann_orders(shop)
    await shop.deliver()
    await shop.desk.set_notification_preferences("ann@example.com", {"phone": "+447700900999"}, by="ann@example.com",
                                                 by_agent=False)
    await shop.desk.update_purchase_order(po, expected_date=datetime(2026, 3, 20).date())

    async def unseen(*args: Any) -> None:
        return None
    monkeypatch.setattr(store, "unsent_digest", unseen)
    await shop.dispatcher.compose_due()
    monkeypatch.undo()
    assert sorted(r.recipient for r in await store.OutboxMessage.filter(channel="SMS")) == [
        "+447700900123", "+447700900999"]
    # when both are due in the morning's round and are merged into the older one
    shop.clock.set(datetime(2026, 3, 3, 8, 0, 30, tzinfo=UTC))
    await shop.deliver()
    # then the one text goes to the number she has now, and the outbox says so
    assert [r["To"] for r in twilio.requests] == ["+447700900999"]
    sent = await store.OutboxMessage.get(channel="SMS", status="SENT")
    assert sent.recipient == "+447700900999"


async def test_a_held_text_goes_to_nobody_when_texts_were_turned_off_or_the_new_number_said_stop(db, smtp, twilio):
    shop, po = await _lamp_shop(smtp, twilio)
    await store.record_sms_opt_out("+447700900777", shop.clock.now(), "STOP")  # a number that said STOP once
    await _ann_orders(shop)
    await shop.deliver()  # the text waits for 8 a.m.
    await shop.desk.set_notification_preferences("ann@example.com", {"phone": "+447700900777"}, by="ann@example.com",
                                                 by_agent=False)
    shop.clock.set(datetime(2026, 3, 3, 8, 0, 30, tzinfo=UTC))
    await shop.deliver()
    assert twilio.requests == []
    [row] = await store.OutboxMessage.filter(channel="SMS")
    assert (row.status, row.recipient) == ("SUPPRESSED", "+447700900777")
    # and a text held while she turned texts off goes to nobody
    await shop.desk.set_notification_preferences("ann@example.com", {"phone": "+447700900888"}, by="ann@example.com",
                                                 by_agent=False)
    shop.clock.set(datetime(2026, 3, 3, 23, 0, tzinfo=UTC))
    await shop.desk.update_purchase_order(po, expected_date=datetime(2026, 3, 20).date())
    await shop.deliver()
    await shop.desk.set_notification_preferences("ann@example.com", {"by_sms": False}, by="ann@example.com",
                                                 by_agent=False)
    shop.clock.set(datetime(2026, 3, 4, 8, 0, 30, tzinfo=UTC))
    await shop.deliver()
    assert twilio.requests == []
    assert [(r.status, r.last_error) for r in await store.OutboxMessage.filter(channel="SMS").order_by("created_at")][
        1:] == [("SUPPRESSED", "the customer turned texts off before it was sent")]


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
    [row] = await store.OutboxMessage.filter(channel="SMS", status="OUTDATED")
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
    assert dropped.status == "OUTDATED" and dropped.last_error.startswith("no longer in stock")
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
    await send_sign_in_link(shop, "ann@example.com", shop.clock.now() + timedelta(minutes=30))
    await shop.deliver(rounds=1)
    smtp.handler.defer.clear()
    shop.clock.advance(timedelta(minutes=31))  # the next try comes after the link stopped working
    await shop.deliver()
    assert smtp.messages == []
    [row] = await store.OutboxMessage.filter(kind="PORTAL_LINK")
    assert row.status == "OUTDATED" and row.last_error == "the sign-in link expired before it could be sent"


async def test_a_sign_in_link_retried_is_worded_in_the_language_and_zone_the_customer_has_when_it_goes(db, smtp,
                                                                                                        twilio):
    shop, _ = await _lamp_shop(smtp, twilio)
    smtp.handler.defer.add("ann@example.com")
    expires = shop.clock.now() + timedelta(hours=2)
    link = await send_sign_in_link(shop, "ann@example.com", expires)
    await shop.deliver(rounds=1)  # "try again later": queued in English, London time
    await shop.desk.set_notification_preferences("ann@example.com", {"language": "de", "timezone": "Europe/Berlin"},
                                                 by="ann@example.com", by_agent=False)
    smtp.handler.defer.clear()
    shop.clock.advance(timedelta(minutes=30))
    await shop.deliver()
    [mail] = smtp.messages
    assert mail["Subject"] == translations("de").gettext("Your link to see your orders")
    assert format_moment(expires, "Europe/Berlin", "de") in " ".join(plain(mail).split())
    assert link in plain(mail)  # the working link, made again from the link's id
    [row] = await store.OutboxMessage.filter(kind="PORTAL_LINK")
    # what agents see is what went, but for the token, which signs in as her
    token = link.partition("#token=")[2]
    assert token not in row.body_text and token not in (row.body_html or "")
    assert row.body_text == plain(mail).replace(token, store.WITHHELD)


async def test_back_in_stock_is_worded_in_the_subscribers_language_and_the_products_name_when_it_goes(db, smtp,
                                                                                                       twilio):
    shop, _ = await _lamp_shop(smtp, twilio)
    await save_preferences(NotificationPreferences(email="jonas@example.de", language="en"))
    assert await shop.notifications.subscribe_to_product("LAMP", "jonas@example.de", None) == "ACTIVE"
    smtp.handler.defer.add("jonas@example.de")
    await shop.desk.receive_stock("LAMP", 3)
    await shop.deliver(rounds=1)  # queued in English, as "Anglepoise lamp"; the mail server says "later"
    await shop.desk.set_notification_preferences("jonas@example.de", {"language": "de"}, by="jonas@example.de",
                                                 by_agent=False)
    await shop.desk.upsert_product(ProductInput(sku="LAMP", name="Schreibtischlampe", price=Decimal("29.50"),
                                                currency="GBP"))
    smtp.handler.defer.clear()
    shop.clock.advance(timedelta(hours=1))
    await shop.deliver()
    [mail] = smtp.messages
    assert mail["Subject"] == "Schreibtischlampe ist wieder vorrätig"
    assert "Anglepoise" not in plain(mail) and mail["List-Unsubscribe"]


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
    await send_sign_in_link(shop, "ann@example.com", shop.clock.now() + timedelta(minutes=30))
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
