"""Every use case, given input it must refuse, raises a typed DomainError with a stable code (and names the
field at fault), writes nothing and announces nothing: checked against a picture of every table.

One shop with something in every state a use case can be refused for; each test runs the bad inputs of a
group of use cases against it, one after another, and the picture must not change at all.

Over 400 lines on purpose: the table of every use case's refused inputs is one table, so that
`test_every_use_case_has_bad_input_cases` can see a use case that has none; split, it would be several
lists to keep in step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.bus import InProcessBus
from domain.errors import DomainError, ErrorCode
from domain.limits import MAX_UNITS
from domain.model import BackorderPolicy, Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.use_cases.supplier_history import HistoricalLine
from tests.integration.support import ALT, LAMP, PO_DATE, lamp_shop, order, snapshot

E = ErrorCode


@dataclass
class World:
    desk: BackorderDesk
    supplier_id: str
    po_id: str  # PO-1: 4 lamps due 11 March, nothing received
    partly_received_po: str  # PO-2: 5 mugs, 2 received
    cancelled_po: str
    waiting: str  # ann's backorder: 2 lamps waiting (her order: 3 allocated from stock)
    ann_order: str
    cancelled: str  # cat's backorder, cancelled
    allocated: str  # eve's backorder of mugs: every unit set aside, nothing waits
    ship_complete_order: str  # bob: 1 substitute lamp set aside, 1 lamp waiting, ships complete
    idle_order: str  # dan: his one lamp waits, nothing set aside
    preorder_order: str  # fay: a book set aside, released 1 April
    kettle: str  # hal's backorder of a EUR kettle, whose in-stock substitute is priced in USD (no rate set)


async def _world(desk: BackorderDesk) -> World:
    shop = await lamp_shop(desk, alt_on_hand=2)
    for sku, policy, extra in (("PLUG", BackorderPolicy.DENY, {}),
                               ("CAP", BackorderPolicy.ALLOW, {"backorder_limit": 1}),
                               ("MUG", BackorderPolicy.ALLOW, {"substitutes": (ALT,)}),
                               ("BOOK", BackorderPolicy.PREORDER, {"release_date": date(2026, 4, 1)})):
        await desk.upsert_product(ProductInput(sku=sku, name=sku.title(), price=Decimal("4.00"),
                                               backorder_policy=policy, **extra))
    await desk.receive_stock("PLUG", 1)
    ann = await order(desk, "ann@example.com", 5)
    bob = await desk.place_order(CustomerDetails("bob@example.com"), Channel.PHONE,
                                 [LineRequest(ALT, 1), LineRequest(LAMP, 1)], ship_complete=True)
    cat = await order(desk, "cat@example.com", 1)
    await desk.cancel_backorder(_bo(cat))
    dan = await order(desk, "dan@example.com", 1)
    eve = await order(desk, "eve@example.com", 2, "MUG")
    await desk.receive_stock("MUG", 2)
    fay = await order(desk, "fay@example.com", 1, "BOOK")
    await desk.receive_stock("BOOK", 3)
    await order(desk, "gus@example.com", 1, "CAP")  # the cap's backorder limit is reached
    await desk.upsert_product(ProductInput(sku="KETTLE-US", name="US kettle", price=Decimal("12.00"), currency="USD"))
    await desk.upsert_product(ProductInput(sku="KETTLE", name="Kettle", price=Decimal("10.00"),
                                           substitutes=("KETTLE-US",)))
    await desk.receive_stock("KETTLE-US", 5)
    hal = await order(desk, "hal@example.com", 1, "KETTLE")
    partly = await desk.create_purchase_order(shop.supplier_id, PO_DATE, [LineRequest("MUG", 5)], number="PO-2")
    await desk.receive_purchase_order(partly.id, [LineRequest("MUG", 2)])
    dropped = await desk.create_purchase_order(shop.supplier_id, PO_DATE, [LineRequest(LAMP, 1)], number="PO-3")
    await desk.update_purchase_order(dropped.id, cancel=True)
    # ivy turned email off herself; jo chose texts herself at one number (her consent is on record for it)
    await desk.set_notification_preferences("ivy@example.com", {"by_email": False}, by="ivy@example.com",
                                            by_agent=False)
    await desk.set_notification_preferences("jo@example.com", {"by_sms": True, "phone": "+447700900111"},
                                            by="jo@example.com", by_agent=False)
    # a store holding pegs, and a dock a purchase order of pegs is bound for: neither may be retired
    await desk.upsert_product(ProductInput(sku="PEG", name="Peg", price=Decimal("1.00")))
    await desk.upsert_location("STORE", "High Street store")
    await desk.receive_stock("PEG", 1, "STORE")
    await desk.upsert_location("DOCK", "Loading dock")
    await desk.create_purchase_order(shop.supplier_id, PO_DATE, [LineRequest("PEG", 5)], number="PO-4",
                                     location="DOCK")
    return World(desk, shop.supplier_id, shop.po_id, partly.id, dropped.id, _bo(ann), ann.id, _bo(cat), _bo(eve),
                 bob.id, dan.id, fay.id, _bo(hal))


def _old(number: str, *, supplier: str = "Lumen Ltd", sku: str = LAMP, quantity: int = 1,
         received: date | None = date(2026, 1, 9)) -> HistoricalLine:
    """A purchase order line of the shop's history: due 5 January 2026, received the 9th."""
    return HistoricalLine(number, supplier, sku, quantity, date(2026, 1, 5), received)


def _bo(placed: Any, line: int = 0) -> str:
    backorder_id = placed.lines[line].backorder_id
    assert backorder_id is not None
    return str(backorder_id)


Case = tuple[str, Callable[[World], Awaitable[Any]], ErrorCode, str | None]  # what, call, code, field


def _goodwill(w: World, backorder_id: str, **given: Any) -> Any:
    """An agent's goodwill on the backorder: a note and nothing else unless the case gives it."""
    options = {"credit_amount": None, "credit_currency": None, "discount_code": None, "note": "sorry for the wait",
               "agent": "agent@desk", **given}
    return w.desk.offer_goodwill(backorder_id, **options)


def _prefs(w: World, email: str, by_agent: bool = True, **changes: Any) -> Any:
    """A change to the customer's notification preferences, by an agent unless `by_agent` says otherwise."""
    return w.desk.set_notification_preferences(email, changes, by="agent@desk" if by_agent else email,
                                               by_agent=by_agent)


def _product(**changes: Any) -> ProductInput:
    return ProductInput(**{"sku": "NEW-1", "name": "New", "price": Decimal("1.00"), **changes})


def _place(lines: list[LineRequest], email: str = "new@example.com", **options: Any) -> Callable[[World], Any]:
    return lambda w: w.desk.place_order(CustomerDetails(email, options.pop("name", ""), options.pop("phone", None)),
                                        Channel.ONLINE, lines, **options)


CASES: dict[str, list[Case]] = {
    "upsert_product": [
        ("negative price", lambda w: w.desk.upsert_product(_product(price=Decimal("-1"))), E.INVALID_INPUT, "price"),
        ("no currency code", lambda w: w.desk.upsert_product(_product(currency="EURO")), E.INVALID_INPUT,
         "price.currency"),
        ("unknown supplier", lambda w: w.desk.upsert_product(_product(supplier_id="nope")), E.SUPPLIER_NOT_FOUND,
         "supplier_id"),
        ("unknown substitute", lambda w: w.desk.upsert_product(_product(substitutes=("NOPE",))),
         E.PRODUCT_NOT_FOUND, "substitutes"),
        ("itself as substitute", lambda w: w.desk.upsert_product(_product(sku=LAMP, substitutes=(LAMP,))),
         E.INVALID_INPUT, "substitutes"),
        ("blank name of a product that exists", lambda w: w.desk.upsert_product(_product(sku=LAMP, name="  ")),
         E.INVALID_INPUT, "name"),
        ("preorder without a release date",
         lambda w: w.desk.upsert_product(_product(backorder_policy=BackorderPolicy.PREORDER)), E.INVALID_INPUT,
         "release_date"),
        ("invalid SKU", lambda w: w.desk.upsert_product(_product(sku="two words")), E.INVALID_INPUT, "sku"),
        ("negative lead time", lambda w: w.desk.upsert_product(_product(lead_time_days=-1)), E.INVALID_INPUT,
         "lead_time_days"),
        ("negative backorder limit", lambda w: w.desk.upsert_product(_product(backorder_limit=-1)),
         E.INVALID_QUANTITY, "backorder_limit"),
        ("a name of a million characters", lambda w: w.desk.upsert_product(_product(name="x" * 1_000_000)),
         E.INVALID_INPUT, "name"),
        ("a lone surrogate in the name", lambda w: w.desk.upsert_product(_product(name="Lamp \ud800")),
         E.INVALID_INPUT, "name"),
        ("a NUL in the name", lambda w: w.desk.upsert_product(_product(name="Lamp\x00")), E.INVALID_INPUT, "name"),
        *[(f"a price of {price}", lambda w, price=price: w.desk.upsert_product(_product(price=Decimal(price))),
           E.INVALID_INPUT, "price") for price in ("1e30", "1e308", "1e15", "1234567890123.45", "NaN", "Infinity")],
    ],
    "upsert_supplier": [
        ("blank name", lambda w: w.desk.upsert_supplier(None, " ", 10), E.INVALID_INPUT, "name"),
        ("a name of a million characters", lambda w: w.desk.upsert_supplier(None, "x" * 1_000_000, 10),
         E.INVALID_INPUT, "name"),
        ("a lone surrogate in the name", lambda w: w.desk.upsert_supplier(None, "\udfff", 10), E.INVALID_INPUT,
         "name"),
        ("a NUL in the name", lambda w: w.desk.upsert_supplier(None, "Acme\x00", 10), E.INVALID_INPUT, "name"),
        ("lead time of eleven years", lambda w: w.desk.upsert_supplier(None, "Slow", 4000), E.INVALID_INPUT,
         "lead_time_days"),
        ("unknown supplier", lambda w: w.desk.upsert_supplier("nope", "Acme", 10), E.SUPPLIER_NOT_FOUND, "supplier_id"),
    ],
    "receive_stock": [
        ("zero units", lambda w: w.desk.receive_stock(LAMP, 0), E.INVALID_QUANTITY, "quantity"),
        ("negative units", lambda w: w.desk.receive_stock(LAMP, -3), E.INVALID_QUANTITY, "quantity"),
        ("a bool for units", lambda w: w.desk.receive_stock(LAMP, True), E.INVALID_QUANTITY, "quantity"),
        ("over a million units", lambda w: w.desk.receive_stock(LAMP, 1_000_001), E.INVALID_QUANTITY, "quantity"),
        ("unknown product", lambda w: w.desk.receive_stock("NOPE", 1), E.PRODUCT_NOT_FOUND, "sku"),
        ("empty SKU", lambda w: w.desk.receive_stock("", 1), E.INVALID_INPUT, "sku"),
        ("invalid location", lambda w: w.desk.receive_stock(LAMP, 1, "back room"), E.INVALID_INPUT, "location"),
        ("a path for a location", lambda w: w.desk.receive_stock(LAMP, 1, "../../etc/passwd"), E.INVALID_INPUT,
         "location"),
        ("a location of a million characters", lambda w: w.desk.receive_stock(LAMP, 1, "A" * 1_000_000),
         E.INVALID_INPUT, "location"),
        ("a NUL in the note", lambda w: w.desk.receive_stock(LAMP, 1, cause="box\x00"), E.INVALID_INPUT, "note"),
        ("a location the shop has not set up", lambda w: w.desk.receive_stock(LAMP, 1, "NOWHERE"),
         E.UNKNOWN_LOCATION, "location"),
    ],
    "adjust_stock": [
        ("below what is allocated", lambda w: w.desk.adjust_stock(LAMP, -1, "broken"), E.INSUFFICIENT_STOCK,
         "delta"),
        ("no reason", lambda w: w.desk.adjust_stock(ALT, 1, " "), E.INVALID_INPUT, "reason"),
        ("a NUL in the reason", lambda w: w.desk.adjust_stock(ALT, 1, "count\x00"), E.INVALID_INPUT, "reason"),
        ("a lone surrogate in the reason", lambda w: w.desk.adjust_stock(ALT, 1, "\ud800"), E.INVALID_INPUT,
         "reason"),
        ("nothing to adjust", lambda w: w.desk.adjust_stock(ALT, 0, "count"), E.INVALID_INPUT, "delta"),
        ("negative safety stock", lambda w: w.desk.adjust_stock(ALT, 0, "count", safety_stock=-1),
         E.INVALID_QUANTITY, "safety_stock"),
        ("unknown product", lambda w: w.desk.adjust_stock("NOPE", 1, "count"), E.PRODUCT_NOT_FOUND, "sku"),
        ("a location the shop has not set up", lambda w: w.desk.adjust_stock(ALT, 1, "found", "NOWHERE"),
         E.UNKNOWN_LOCATION, "location"),
        ("safety stock at a location the shop has not set up",
         lambda w: w.desk.adjust_stock(ALT, 0, "count", "nowhere", safety_stock=1), E.UNKNOWN_LOCATION, "location"),
    ],
    "create_purchase_order": [
        ("expected yesterday", lambda w: w.desk.create_purchase_order(w.supplier_id, date(2026, 3, 1),
                                                                      [LineRequest(LAMP, 1)]),
         E.INVALID_INPUT, "expected_date"),
        ("unknown supplier", lambda w: w.desk.create_purchase_order("nope", PO_DATE, [LineRequest(LAMP, 1)]),
         E.SUPPLIER_NOT_FOUND, "supplier_id"),
        ("unknown product", lambda w: w.desk.create_purchase_order(w.supplier_id, PO_DATE,
                                                                   [LineRequest(LAMP, 1), LineRequest("NOPE", 1)]),
         E.PRODUCT_NOT_FOUND, "lines.sku"),
        ("no lines", lambda w: w.desk.create_purchase_order(w.supplier_id, PO_DATE, []), E.INVALID_INPUT, "lines"),
        ("a SKU twice", lambda w: w.desk.create_purchase_order(w.supplier_id, PO_DATE,
                                                               [LineRequest(LAMP, 1), LineRequest(LAMP, 2)]),
         E.INVALID_INPUT, "lines"),
        ("zero units", lambda w: w.desk.create_purchase_order(w.supplier_id, PO_DATE, [LineRequest(LAMP, 0)]),
         E.INVALID_QUANTITY, "lines.quantity"),
        ("a number that is taken", lambda w: w.desk.create_purchase_order(w.supplier_id, PO_DATE,
                                                                          [LineRequest(LAMP, 1)], number="PO-1"),
         E.DUPLICATE, "number"),
        ("a location the shop has not set up", lambda w: w.desk.create_purchase_order(
            w.supplier_id, PO_DATE, [LineRequest(LAMP, 1)], location="NOWHERE"), E.UNKNOWN_LOCATION, "location"),
        *[(f"location {location!r}", lambda w, location=location: w.desk.create_purchase_order(
            w.supplier_id, PO_DATE, [LineRequest(LAMP, 1)], location=location), E.INVALID_INPUT, "location")
          for location in ("../../etc/passwd", "\U0001f4e6", "\u202eNIAM", "\u05de\u05d7\u05e1\u05df", "", " ",
                           "A" * 1_000_000, "MAIN\x00", "\ud800")],
        *[(f"number {number!r}", lambda w, number=number: w.desk.create_purchase_order(
            w.supplier_id, PO_DATE, [LineRequest(LAMP, 1)], number=number), E.INVALID_INPUT, "number")
          for number in (" ", "", "PO 7", "../PO-1", "P" * 1_000_000, "PO-\x00", "PO-\udc00", "\U0001f4e6")],
    ],
    "update_purchase_order": [
        ("unknown purchase order", lambda w: w.desk.update_purchase_order("nope", date(2026, 3, 20)),
         E.PURCHASE_ORDER_NOT_FOUND, "purchase_order_id"),
        ("expected yesterday", lambda w: w.desk.update_purchase_order(w.po_id, date(2026, 3, 1)), E.INVALID_INPUT,
         "expected_date"),
        ("nothing to change", lambda w: w.desk.update_purchase_order(w.po_id, PO_DATE), E.INVALID_INPUT, "changes"),
        ("negative units", lambda w: w.desk.update_purchase_order(w.po_id, quantities=[LineRequest(LAMP, -1)]),
         E.INVALID_QUANTITY, "lines.quantity"),
        ("fewer than already received",
         lambda w: w.desk.update_purchase_order(w.partly_received_po, quantities=[LineRequest("MUG", 1)]),
         E.INVALID_INPUT, "lines.quantity"),
        ("a line for an unknown product",
         lambda w: w.desk.update_purchase_order(w.po_id, quantities=[LineRequest("NOPE", 1)]),
         E.PRODUCT_NOT_FOUND, "lines.sku"),
        ("a cancelled purchase order", lambda w: w.desk.update_purchase_order(w.cancelled_po, date(2026, 3, 20)),
         E.INVALID_STATE, "purchase_order_id"),
        ("a new date in the past with a valid quantity change",
         lambda w: w.desk.update_purchase_order(w.po_id, date(2026, 2, 1), [LineRequest(LAMP, 9)]),
         E.INVALID_INPUT, "expected_date"),
    ],
    "receive_purchase_order": [
        ("unknown purchase order", lambda w: w.desk.receive_purchase_order("nope"), E.PURCHASE_ORDER_NOT_FOUND,
         "purchase_order_id"),
        ("more than outstanding", lambda w: w.desk.receive_purchase_order(w.po_id, [LineRequest(LAMP, 5)]),
         E.OVER_RECEIPT, "lines.quantity"),
        ("a SKU not on the order", lambda w: w.desk.receive_purchase_order(w.po_id, [LineRequest(ALT, 1)]),
         E.INVALID_INPUT, "lines.sku"),
        ("a SKU twice", lambda w: w.desk.receive_purchase_order(w.po_id, [LineRequest(LAMP, 1),
                                                                          LineRequest(LAMP, 1)]),
         E.INVALID_INPUT, "lines"),
        ("nothing", lambda w: w.desk.receive_purchase_order(w.po_id, [LineRequest(LAMP, 0)]), E.INVALID_QUANTITY,
         "lines"),
        ("negative units", lambda w: w.desk.receive_purchase_order(w.po_id, [LineRequest(LAMP, -1)]),
         E.INVALID_QUANTITY, "lines.quantity"),
        ("a cancelled purchase order", lambda w: w.desk.receive_purchase_order(w.cancelled_po), E.INVALID_STATE,
         "purchase_order_id"),
        ("into a location the shop has not set up",
         lambda w: w.desk.receive_purchase_order(w.po_id, location="NOWHERE"), E.UNKNOWN_LOCATION, "location"),
        ("into a path", lambda w: w.desk.receive_purchase_order(w.po_id, [LineRequest(LAMP, 1)], "../etc"),
         E.INVALID_INPUT, "location"),
    ],
    "place_order": [
        ("not an email", _place([LineRequest(LAMP, 1)], "ann-at-example.com"), E.INVALID_INPUT, "customer.email"),
        ("no lines", _place([]), E.INVALID_INPUT, "lines"),
        ("201 lines", _place([LineRequest(f"S{n}", 1) for n in range(201)]), E.INVALID_INPUT, "lines"),
        ("zero units", _place([LineRequest(LAMP, 0)]), E.INVALID_QUANTITY, "lines.quantity"),
        ("over a million units in two lines", _place([LineRequest(LAMP, 600_000), LineRequest(LAMP, 600_000)]),
         E.INVALID_QUANTITY, "lines.quantity"),
        ("invalid SKU", _place([LineRequest("two words", 1)]), E.INVALID_INPUT, "lines.sku"),
        ("a phone number not in international form", _place([LineRequest(LAMP, 1)], phone="07700 900123"),
         E.INVALID_INPUT, "customer.phone"),
        ("an idempotency key of 129 characters", _place([LineRequest(LAMP, 1)], idempotency_key="k" * 129),
         E.INVALID_INPUT, "idempotency_key"),
        ("an unknown product after a good line", _place([LineRequest(ALT, 1), LineRequest("NOPE", 1)]),
         E.PRODUCT_NOT_FOUND, "lines.sku"),
        ("a deny product beyond its stock", _place([LineRequest(ALT, 1), LineRequest("PLUG", 2)]),
         E.BACKORDER_NOT_ALLOWED, "lines.quantity"),
        ("past the backorder limit", _place([LineRequest("CAP", 1)]), E.BACKORDER_LIMIT_EXCEEDED, "lines.quantity"),
        ("invalid location", _place([LineRequest(ALT, 1)], location="back room"), E.INVALID_INPUT, "location"),
        ("a location the shop has not set up", _place([LineRequest(ALT, 1)], location="NOWHERE"),
         E.UNKNOWN_LOCATION, "location"),
        ("a lone surrogate in the name", _place([LineRequest(ALT, 1)], name="Ann \ud800"), E.INVALID_INPUT,
         "customer.name"),
        ("a name of a million characters", _place([LineRequest(ALT, 1)], name="x" * 1_000_000), E.INVALID_INPUT,
         "customer.name"),
        ("a NUL in the email", _place([LineRequest(ALT, 1)], "ann\x00@example.com"), E.INVALID_INPUT,
         "customer.email"),
        ("a lone surrogate in the email", _place([LineRequest(ALT, 1)], "\ud800@example.com"), E.INVALID_INPUT,
         "customer.email"),
        ("a lone surrogate in the idempotency key", _place([LineRequest(ALT, 1)], idempotency_key="k\ud800"),
         E.INVALID_INPUT, "idempotency_key"),
        ("a NUL in the idempotency key", _place([LineRequest(ALT, 1)], idempotency_key="k\x00"), E.INVALID_INPUT,
         "idempotency_key"),
    ],
    "set_shipping_preference": [
        ("unknown order", lambda w: w.desk.set_shipping_preference("nope", True), E.ORDER_NOT_FOUND, "order_id"),
    ],
    "cancel_backorder": [
        ("unknown backorder", lambda w: w.desk.cancel_backorder("nope"), E.BACKORDER_NOT_FOUND, "backorder_id"),
        ("more than it holds", lambda w: w.desk.cancel_backorder(w.waiting, 3), E.INVALID_QUANTITY, "quantity"),
        ("zero units", lambda w: w.desk.cancel_backorder(w.waiting, 0), E.INVALID_QUANTITY, "quantity"),
        ("a reason of 501 characters", lambda w: w.desk.cancel_backorder(w.waiting, reason="x" * 501),
         E.INVALID_INPUT, "reason"),
        ("a NUL in the reason", lambda w: w.desk.cancel_backorder(w.waiting, reason="no\x00"), E.INVALID_INPUT,
         "reason"),
        ("already cancelled", lambda w: w.desk.cancel_backorder(w.cancelled), E.INVALID_STATE, "backorder_id"),
    ],
    "accept_substitute": [
        ("not a substitute", lambda w: w.desk.accept_substitute(w.waiting, "PLUG"), E.NOT_A_SUBSTITUTE,
         "substitute_sku"),
        ("not enough of the substitute", lambda w: w.desk.accept_substitute(w.waiting, ALT),
         E.SUBSTITUTE_UNAVAILABLE, "substitute_sku"),
        ("unknown backorder", lambda w: w.desk.accept_substitute("nope", ALT), E.BACKORDER_NOT_FOUND, "backorder_id"),
        ("invalid SKU", lambda w: w.desk.accept_substitute(w.waiting, "two words"), E.INVALID_INPUT,
         "substitute_sku"),
        ("nothing waiting", lambda w: w.desk.accept_substitute(w.allocated, ALT), E.INVALID_STATE, "backorder_id"),
        ("a cancelled backorder", lambda w: w.desk.accept_substitute(w.cancelled, ALT), E.INVALID_STATE,
         "backorder_id"),
        ("priced in another currency with no exchange rate", lambda w: w.desk.accept_substitute(w.kettle, "KETTLE-US"),
         E.NO_EXCHANGE_RATE, "substitute_sku"),
    ],
    "offer_substitute": [
        ("not a substitute", lambda w: w.desk.offer_substitute(w.waiting, "PLUG", "kim"), E.NOT_A_SUBSTITUTE,
         "substitute_sku"),
        ("unknown backorder", lambda w: w.desk.offer_substitute("nope", ALT, "kim"), E.BACKORDER_NOT_FOUND,
         "backorder_id"),
        ("nothing waiting", lambda w: w.desk.offer_substitute(w.allocated, ALT, "kim"), E.INVALID_STATE,
         "backorder_id"),
        ("a cancelled backorder", lambda w: w.desk.offer_substitute(w.cancelled, ALT, "kim"), E.INVALID_STATE,
         "backorder_id"),
    ],
    "preview_receipt": [
        ("zero units", lambda w: w.desk.preview_receipt(LAMP, 0), E.INVALID_QUANTITY, "quantity"),
        ("a bool for units", lambda w: w.desk.preview_receipt(LAMP, True), E.INVALID_QUANTITY, "quantity"),
        ("unknown product", lambda w: w.desk.preview_receipt("NOPE", 1), E.PRODUCT_NOT_FOUND, "sku"),
        ("a path for a location", lambda w: w.desk.preview_receipt(LAMP, 1, "../../etc/passwd"), E.INVALID_INPUT,
         "location"),
        ("a location the shop has not set up", lambda w: w.desk.preview_receipt(LAMP, 1, "NOWHERE"),
         E.UNKNOWN_LOCATION, "location"),
    ],
    "upsert_location": [
        *[(f"code {code!r}", lambda w, code=code: w.desk.upsert_location(code, "Somewhere"), E.INVALID_INPUT, "code")
          for code in ("", " ", "back room", "../../etc/passwd", "A" * 33, "\u202eNIAM", "MAIN\x00", "\ud800")],
        ("a NUL in the name", lambda w: w.desk.upsert_location("LEEDS", "Leeds\x00"), E.INVALID_INPUT, "name"),
        ("a name of a million characters", lambda w: w.desk.upsert_location("LEEDS", "x" * 1_000_000),
         E.INVALID_INPUT, "name"),
    ],
    "set_notification_preferences": [
        ("not an email", lambda w: _prefs(w, "ann-at-example.com", by_email=False), E.INVALID_INPUT,
         "customer_email"),
        ("an agent turning texts on without the customer's consent",
         lambda w: _prefs(w, "ann@example.com", by_sms=True, phone="+447700900123"), E.CONSENT_REQUIRED, "by_sms"),
        ("an agent turning email back on after the customer turned it off",
         lambda w: _prefs(w, "ivy@example.com", by_email=True), E.CONSENT_REQUIRED, "by_email"),
        ("an agent moving texts to a number the customer did not give",
         lambda w: _prefs(w, "jo@example.com", phone="+447700900999"), E.CONSENT_REQUIRED, "phone"),
        ("texts without a number", lambda w: _prefs(w, "jo@example.com", phone=None), E.INVALID_INPUT, "phone"),
        ("email set to nothing", lambda w: _prefs(w, "ann@example.com", by_email=None), E.INVALID_INPUT,
         "by_email"),
        ("a language the shop does not speak", lambda w: _prefs(w, "ann@example.com", language="xx"),
         E.INVALID_INPUT, "language"),
        ("a time zone that is not one", lambda w: _prefs(w, "ann@example.com", timezone="Mars/Base"),
         E.INVALID_INPUT, "timezone"),
        ("quiet hours with no end", lambda w: _prefs(w, "ann@example.com", quiet_hours_end=None), E.INVALID_INPUT,
         "quiet_hours_end"),
        ("not a preference", lambda w: _prefs(w, "ann@example.com", tier="VIP"), E.INVALID_INPUT, "tier"),
        ("a phone number that is not one, by the customer",
         lambda w: _prefs(w, "ann@example.com", by_agent=False, phone="07700 900123"), E.INVALID_INPUT, "phone"),
    ],
    "retire_location": [
        ("a location the shop has not set up", lambda w: w.desk.retire_location("NOWHERE"), E.UNKNOWN_LOCATION,
         "code"),
        ("a path for a code", lambda w: w.desk.retire_location("../../etc"), E.INVALID_INPUT, "code"),
        ("no code", lambda w: w.desk.retire_location(" "), E.INVALID_INPUT, "code"),
        ("the default location", lambda w: w.desk.retire_location("main"), E.LOCATION_IN_USE, "code"),
        ("a location holding stock", lambda w: w.desk.retire_location("STORE"), E.LOCATION_IN_USE, "code"),
        ("a purchase order's destination", lambda w: w.desk.retire_location("DOCK"), E.LOCATION_IN_USE, "code"),
    ],
    "upsert_exchange_rate": [
        *[(f"rate {rate}", lambda w, rate=rate: w.desk.upsert_exchange_rate("USD", "EUR", rate), E.INVALID_INPUT,
           "rate") for rate in ("0", "-1", "NaN", "Infinity", "0.123456789", "1e20", "abc", "")],
        ("not a currency code", lambda w: w.desk.upsert_exchange_rate("DOLLAR", "EUR", "0.9"), E.INVALID_INPUT,
         "from_currency"),
        ("a NUL for a currency", lambda w: w.desk.upsert_exchange_rate("USD", "EU\x00", "0.9"), E.INVALID_INPUT,
         "to_currency"),
        ("one currency twice", lambda w: w.desk.upsert_exchange_rate("EUR", "eur", "1"), E.INVALID_INPUT,
         "to_currency"),
        ("dated tomorrow", lambda w: w.desk.upsert_exchange_rate("USD", "EUR", "0.9", date(2026, 3, 3)),
         E.INVALID_INPUT, "date"),
    ],
    "import_purchase_orders": [
        ("no lines", lambda w: w.desk.import_purchase_orders([]), E.INVALID_INPUT, "lines"),
        ("an unknown supplier", lambda w: w.desk.import_purchase_orders([_old("H-1", supplier="Nobody")]),
         E.SUPPLIER_NOT_FOUND, "supplier"),
        ("an unknown product", lambda w: w.desk.import_purchase_orders([_old("H-1", sku="NOPE")]),
         E.PRODUCT_NOT_FOUND, "sku"),
        ("zero units", lambda w: w.desk.import_purchase_orders([_old("H-1", quantity=0)]), E.INVALID_QUANTITY,
         "quantity"),
        ("a number taken", lambda w: w.desk.import_purchase_orders([_old("H-1"), _old("PO-1")]), E.DUPLICATE,
         "number"),
        ("received on a day still to come",
         lambda w: w.desk.import_purchase_orders([_old("H-1", received=date(2026, 4, 1))]), E.INVALID_INPUT,
         "received_date"),
        ("received a year before it was expected",
         lambda w: w.desk.import_purchase_orders([_old("H-1", received=date(2025, 1, 5))]), E.INVALID_INPUT,
         "received_date"),
    ],
    "supplier_performance": [
        ("a period that ends before it starts",
         lambda w: w.desk.supplier_performance(date(2026, 2, 1), date(2026, 1, 1)), E.INVALID_INPUT, "received_to"),
    ],
    "preview_reprioritization": [
        ("priority out of range", lambda w: w.desk.preview_reprioritization(w.waiting, 1001), E.INVALID_INPUT,
         "priority"),
        ("unknown backorder", lambda w: w.desk.preview_reprioritization("nope", 5), E.BACKORDER_NOT_FOUND,
         "backorder_id"),
        ("a cancelled backorder", lambda w: w.desk.preview_reprioritization(w.cancelled, 5), E.INVALID_STATE,
         "backorder_id"),
    ],
    "reprioritize_backorder": [
        ("priority out of range", lambda w: w.desk.reprioritize_backorder(w.waiting, 1001, "why", "kim"),
         E.INVALID_INPUT, "priority"),
        ("a bool for priority", lambda w: w.desk.reprioritize_backorder(w.waiting, True, "why", "kim"),
         E.INVALID_INPUT, "priority"),
        ("no reason", lambda w: w.desk.reprioritize_backorder(w.waiting, 5, "  ", "kim"), E.INVALID_INPUT, "reason"),
        ("a lone surrogate in the reason", lambda w: w.desk.reprioritize_backorder(w.waiting, 5, "\ud800", "kim"),
         E.INVALID_INPUT, "reason"),
        ("unknown backorder", lambda w: w.desk.reprioritize_backorder("nope", 5, "why", "kim"),
         E.BACKORDER_NOT_FOUND, "backorder_id"),
        ("a cancelled backorder", lambda w: w.desk.reprioritize_backorder(w.cancelled, 5, "why", "kim"),
         E.INVALID_STATE, "backorder_id"),
    ],
    "set_backorder_preferences": [
        ("nothing to change", lambda w: w.desk.set_backorder_preferences(w.waiting), E.INVALID_INPUT, "changes"),
        ("a date already passed",
         lambda w: w.desk.set_backorder_preferences(w.waiting, cancel_if_not_by=date(2026, 3, 1)), E.INVALID_INPUT,
         "cancel_if_not_by"),
        ("a date before it is expected (11 March): it would cancel at once",
         lambda w: w.desk.set_backorder_preferences(w.waiting, cancel_if_not_by=date(2026, 3, 5)), E.INVALID_INPUT,
         "cancel_if_not_by"),
        ("a text for the date", lambda w: w.desk.set_backorder_preferences(w.waiting, cancel_if_not_by="soon"),
         E.INVALID_INPUT, "cancel_if_not_by"),
        ("an unknown consent", lambda w: w.desk.set_backorder_preferences(w.waiting, substitutes="ANY"),
         E.INVALID_INPUT, "substitutes"),
        ("unknown backorder", lambda w: w.desk.set_backorder_preferences("nope", cancel_if_not_by=None),
         E.BACKORDER_NOT_FOUND, "backorder_id"),
        ("a cancelled backorder", lambda w: w.desk.set_backorder_preferences(w.cancelled, cancel_if_not_by=None),
         E.INVALID_STATE, "backorder_id"),
    ],
    "decline_substitute": [
        ("not a substitute", lambda w: w.desk.decline_substitute(w.waiting, "MUG"), E.NOT_A_SUBSTITUTE,
         "substitute_sku"),
        ("an invalid SKU", lambda w: w.desk.decline_substitute(w.waiting, "two words"), E.INVALID_INPUT,
         "substitute_sku"),
        ("unknown backorder", lambda w: w.desk.decline_substitute("nope", ALT), E.BACKORDER_NOT_FOUND,
         "backorder_id"),
        ("a cancelled backorder", lambda w: w.desk.decline_substitute(w.cancelled, ALT), E.INVALID_STATE,
         "backorder_id"),
    ],
    "offer_goodwill": [
        ("neither a credit nor a code", lambda w: _goodwill(w, w.waiting), E.INVALID_INPUT, "credit"),
        ("a credit of nothing", lambda w: _goodwill(w, w.waiting, credit_amount="0", credit_currency="EUR"),
         E.INVALID_INPUT, "credit.amount"),
        ("a credit above what the units cost", lambda w: _goodwill(w, w.waiting, credit_amount="100000",
                                                                    credit_currency="EUR"),
         E.INVALID_INPUT, "credit.amount"),
        ("a credit in another currency", lambda w: _goodwill(w, w.waiting, credit_amount="1", credit_currency="USD"),
         E.CURRENCY_MISMATCH, "credit.currency"),
        ("not a currency code", lambda w: _goodwill(w, w.waiting, credit_amount="1", credit_currency="EURO"),
         E.INVALID_INPUT, "credit.currency"),
        ("a code with a space", lambda w: _goodwill(w, w.waiting, discount_code="SORRY 10"), E.INVALID_INPUT,
         "discount_code"),
        ("no note", lambda w: _goodwill(w, w.waiting, discount_code="SORRY10", note=""), E.INVALID_INPUT, "note"),
        ("unknown backorder", lambda w: _goodwill(w, "nope", discount_code="SORRY10"), E.BACKORDER_NOT_FOUND,
         "backorder_id"),
        ("a cancelled backorder", lambda w: _goodwill(w, w.cancelled, discount_code="SORRY10"), E.INVALID_STATE,
         "backorder_id"),
    ],
    "ship_allocated": [
        ("unknown order", lambda w: w.desk.ship_allocated("nope"), E.ORDER_NOT_FOUND, "order_id"),
        ("nothing set aside", lambda w: w.desk.ship_allocated(w.idle_order), E.NOTHING_TO_SHIP, "order_id"),
        ("ships complete, a unit still waits", lambda w: w.desk.ship_allocated(w.ship_complete_order),
         E.SHIP_COMPLETE_PENDING, "order_id"),
        ("a preorder before its release", lambda w: w.desk.ship_allocated(w.preorder_order), E.NOT_RELEASED,
         "order_id"),
    ],
}


def test_every_use_case_has_bad_input_cases():
    takes_no_input = {"clock", "refresh_stale_etas", "apply_substitute_consents", "fold_pending_serves", "folded",
                      "close", "put_away_staged_receipts", "tell_pending_serves"}
    writes = {name for name in vars(BackorderDesk) if not name.startswith("_") and name not in takes_no_input}
    assert writes == set(CASES)


# a shop costs a database and some twenty use cases to make: one per group of use cases, not per use case
GROUPS = {
    "catalogue": ["upsert_product", "upsert_supplier"],
    "stock": ["receive_stock", "adjust_stock", "preview_receipt"],
    "purchase orders": ["create_purchase_order", "update_purchase_order", "receive_purchase_order"],
    "suppliers' record": ["import_purchase_orders", "supplier_performance"],
    "orders": ["place_order", "set_shipping_preference", "ship_allocated"],
    "backorders": ["cancel_backorder", "accept_substitute", "offer_substitute", "offer_goodwill",
                   "reprioritize_backorder", "preview_reprioritization"],
    "reference data": ["upsert_location", "retire_location", "upsert_exchange_rate"],
    "preferences": ["set_backorder_preferences", "decline_substitute", "set_notification_preferences"],
}


def test_every_use_case_is_in_a_group():
    assert sorted(use_case for group in GROUPS.values() for use_case in group) == sorted(CASES)


@pytest.mark.parametrize("group", GROUPS)
async def test_bad_input_is_refused_with_a_typed_error_and_writes_nothing(desk: BackorderDesk, bus: InProcessBus,
                                                                          group: str):
    world = await _world(desk)
    before = await snapshot()
    published = bus.published
    for use_case in GROUPS[group]:
        for what, call, code, field in CASES[use_case]:
            try:
                await call(world)
            except DomainError as error:
                assert (error.code, error.field) == (code, field), f"{use_case}: {what}: {error!r}"
            else:
                pytest.fail(f"{use_case}: {what}: accepted")
            assert await snapshot() == before, f"{use_case}: {what} wrote to the database"
            assert bus.published == published, f"{use_case}: {what} announced events"


@pytest.mark.parametrize("call", ["receive_stock", "adjust_stock", "receive_purchase_order"])
async def test_stock_past_32_bits_is_refused_before_anything_is_written(desk: BackorderDesk, bus: InProcessBus,
                                                                        call: str):
    """2,200 receipts of a million units each once saved 2.2 billion on hand on SQLite (then `products`
    could not be read: GraphQL's Int is 32-bit) and failed as an unexpected error on PostgreSQL."""
    world = await _world(desk)
    await t.StockLevel.filter(sku=LAMP).update(on_hand=MAX_UNITS - 500_000)  # as if after 2,147 receipts
    big = await desk.create_purchase_order(world.supplier_id, PO_DATE, [LineRequest(LAMP, 1_000_000)])
    before = await snapshot()
    published = bus.published
    with pytest.raises(DomainError) as refused:
        if call == "receive_stock":
            await desk.receive_stock(LAMP, 1_000_000)
        elif call == "adjust_stock":
            await desk.adjust_stock(LAMP, 1_000_000, "found a pallet")
        else:
            await desk.receive_purchase_order(big.id)
    assert refused.value.code is E.INVALID_QUANTITY
    assert await snapshot() == before
    assert bus.published == published
    await desk.receive_stock(LAMP, 400_000)  # up to the limit is fine
