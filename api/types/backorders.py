"""Backorder types: a backorder with its ETA, history (worded for its reader) and substitutes."""

from __future__ import annotations

import functools
from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry

from api.context import Loaders, held_many, load_many_now, load_now
from api.ids import encode_id
from api.permissions import IsStaff
from api.types.common import (
    BackorderStatus,
    Channel,
    Ctx,
    EtaConfidence,
    EtaSourceEnum,
    ExchangeRate,
    Money,
    SubstituteConsent,
    reader_is_staff,
)
from domain import allocation
from domain import model as m
from domain.causes import Cause
from domain.goodwill import Goodwill as Goodwill_
from domain.pricing import RateBook, compare_prices
from notifications import wording


@strawberry.type(description="When the waiting units are expected, how sure that is, and why.")
class Eta:
    date: date = strawberry.field(description=(
        "When the units are expected. From a purchase order: its expected date moved by the supplier's usual "
        "delay, learned from its deliveries: the delay (days late against the date as last moved) the next "
        "delivery stays within with probability 0.8 (BACKORDER_ETA_DELAY_QUANTILE), the ceil(0.8 (n + 1))-th "
        "smallest of its n delays; never earlier than the PO's date; per SKU once the supplier delivered it 5 "
        "times, else from all its deliveries, once it has 3. A PO already late: from the deliveries that were "
        "at least that late. Beyond every PO: today + the supplier's actual lead time learned the same way "
        "(else its stated lead time)."))
    confidence: EtaConfidence = strawberry.field(description=(  # type: ignore[valid-type]
        "How sure the date is. Learned from the supplier's deliveries (3 or more): HIGH with 5 or more "
        "whose delays lie within 2 days of each other (p90 - p10), LOW when they spread over more than 6 "
        "days, else MEDIUM. Without that history: HIGH from stock or a PO, MEDIUM from the lead time, LOW "
        "when the supplier was late on one delivery in five or more. Always LOW for a PO overdue even after "
        "the supplier's usual delay."))
    source: EtaSourceEnum = strawberry.field(  # type: ignore[valid-type]
        description="Why this date: PURCHASE_ORDER, a delivery the supplier confirmed; LEAD_TIME, estimated "
                    "from the usual lead time; ON_HAND or ALLOCATED, from stock; RELEASE_DATE, a preorder's release.")
    _purchase_order_number: strawberry.Private[str | None] = None

    @strawberry.field(description="The purchase order the date comes from. Staff only: null for customers.")
    def purchase_order_number(self, info: Ctx) -> str | None:
        return self._purchase_order_number if reader_is_staff(info) else None


@strawberry.enum
class HistoryKind(Enum):
    STATUS = "STATUS"
    ETA = "ETA"
    PRIORITY = "PRIORITY"
    QUANTITY = "QUANTITY"
    SUBSTITUTE = "SUBSTITUTE"  # a substitute declined: newValue is its SKU
    PREFERENCE = "PREFERENCE"  # the customer's choices: "<cancel if not by or -> <substitute consent>"
    GOODWILL = "GOODWILL"  # goodwill given: newValue is the credit ("12.50 EUR") or else the discount code


@strawberry.type
class HistoryEntry:
    at: datetime
    kind: HistoryKind
    old_value: str | None
    new_value: str | None
    cause: str


@strawberry.type(description="What an agent gave the customer for the wait: a credit in the order's currency "
                              "and/or a discount code.")
class Goodwill:
    _g: strawberry.Private[Goodwill_]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Goodwill", self._g.id))

    @strawberry.field
    def given_at(self) -> datetime:
        return self._g.at

    @strawberry.field(description="A credit, in the currency the order was paid in.")
    def credit(self) -> Money | None:
        return Money.of(self._g.credit) if self._g.credit else None

    @strawberry.field
    def discount_code(self) -> str | None:
        return self._g.discount_code

    @strawberry.field(description="The agent's note. Staff only: null for customers.")
    def note(self, info: Ctx) -> str | None:
        return self._g.note if reader_is_staff(info) else None

    @strawberry.field(description="Who of the shop gave it. Staff only: null for customers.")
    def agent(self, info: Ctx) -> str | None:
        return self._g.agent if reader_is_staff(info) else None


@strawberry.type(description="An in-stock alternative a customer may take instead of waiting.")
class SubstituteOption:
    product: Product
    _available_to_promise: strawberry.Private[int]
    available: bool = strawberry.field(description="Enough is in stock for all the waiting units.")
    price_difference: Money | None = strawberry.field(description=(
        "The substitute's unit price minus the ordered one's, in the order's currency. Prices in two currencies are "
        "never compared as numbers: when the substitute is priced in another currency, its price is converted at "
        "the shop's exchange rate from that currency to the order's (`exchangeRate`, with its date; rounded half up "
        "to the cent); with no such rate this is null and the substitute cannot be accepted (NO_EXCHANGE_RATE)."))
    converted_price: Money | None = strawberry.field(description=(
        "The substitute's unit price in the order's currency (converted at `exchangeRate` when it is priced in "
        "another): what its line would cost per unit. Null when there is no rate."))
    exchange_rate: ExchangeRate | None = strawberry.field(description=(
        "The rate `convertedPrice` and `priceDifference` were converted at; null when no conversion was needed "
        "(or possible)."))

    @strawberry.field(description="Units available to promise now. Staff only: null for customers (see `available`).")
    def available_quantity(self, info: Ctx) -> int | None:
        return self._available_to_promise if reader_is_staff(info) else None


@strawberry.type(description="What the customer chose for this backorder (setBackorderPreferences).")
class BackorderPreferences:
    cancel_if_not_by: date | None = strawberry.field(
        description="The latest date worth waiting for: expected after it, or still waiting when it passes, the "
                    "backorder is cancelled and the customer told why.")
    substitutes: SubstituteConsent  # type: ignore[valid-type]


@strawberry.type
class Backorder:
    _b: strawberry.Private[m.Backorder]
    id: strawberry.ID
    sku: str
    status: BackorderStatus  # type: ignore[valid-type]
    customer_email: str
    channel: Channel  # type: ignore[valid-type]
    ordered_at: datetime
    original_quantity: int = strawberry.field(description="Units first backordered.")
    quantity: int = strawberry.field(
        description="Units this backorder still owes (cancelled and substituted units leave it).")
    allocated_quantity: int = strawberry.field(description="Units set aside for it so far (shipped ones included).")
    backordered_quantity: int = strawberry.field(description="Units still waiting for stock.")
    shipped_quantity: int
    cancelled_quantity: int
    substituted_quantity: int
    queue_position: int | None = strawberry.field(description="1 = next to be served; null once nothing waits.")
    eta: Eta | None
    promised_date: date | None = strawberry.field(description="The first ETA the customer was given.")
    priority: int = strawberry.field(permission_classes=[IsStaff],
                                     description="Agent override: higher is served first.")
    priority_reason: str | None = strawberry.field(permission_classes=[IsStaff])
    allocation_reason: str | None = strawberry.field(
        permission_classes=[IsStaff], description="Why it got the units it got at the last allocation.")
    updated_at: datetime | None
    preferences: BackorderPreferences
    declined_substitutes: list[str] = strawberry.field(
        description="SKUs of substitutes declined for it: never offered again for this backorder.")

    @staticmethod
    def of(b: m.Backorder) -> Backorder:
        active, e = b.is_active, b.eta
        return Backorder(
            _b=b, id=strawberry.ID(encode_id("Backorder", b.id)), sku=b.sku, status=b.status,
            customer_email=b.customer_email, channel=b.channel, ordered_at=b.ordered_at,
            original_quantity=b.original_quantity, quantity=b.quantity, allocated_quantity=b.allocated_quantity,
            backordered_quantity=b.waiting_quantity, shipped_quantity=b.shipped_quantity,
            cancelled_quantity=b.cancelled_quantity, substituted_quantity=b.substituted_quantity,
            queue_position=b.queue_position if active else None,
            eta=Eta(date=e.date, confidence=e.confidence, source=e.source, _purchase_order_number=e.reference)
            if e is not None and active else None,
            promised_date=b.promised_date, priority=b.priority_override, priority_reason=b.priority_reason,
            allocation_reason=b.allocation_reason, updated_at=b.updated_at,
            preferences=BackorderPreferences(cancel_if_not_by=b.cancel_if_not_by, substitutes=b.substitute_consent),
            declined_substitutes=list(b.declined_substitutes))

    @staticmethod
    def maybe(b: m.Backorder | None) -> Backorder | None:
        return Backorder.of(b) if b is not None else None


    @strawberry.field(description="What changed and why. Customers read each cause in plain words, and no "
                                  "PRIORITY entries.")
    def history(self, info: Ctx) -> list[HistoryEntry]:
        loaders = info.context.loaders
        if reader_is_staff(info):
            return load_now(loaders.history_by_backorder, self._b.id, lambda entries: history_entries(entries, True))
        # a customer reads only their own backorders: worded in their language
        return load_now(loaders.history_by_backorder, self._b.id, lambda entries: load_now(
            loaders.language_by_email, self._b.customer_email,
            lambda language: history_entries(entries, False, language)))

    @strawberry.field(description="The goodwill agents gave for this backorder, oldest first (read for every "
                                  "backorder of a page in one query).")
    def goodwill(self, info: Ctx) -> list[Goodwill]:
        return load_now(info.context.loaders.goodwill_by_backorder, self._b.id,
                        lambda given: [Goodwill(_g=g) for g in given])

    @strawberry.field(description="Why it is where it is in the queue, in words its customer can read (their "
                                  "language; English for staff, who also read allocationReason): \"You are 3rd in "
                                  "line: 2 orders placed before yours are waiting.\" Null once nothing waits.")
    def queue_explanation(self, info: Ctx) -> str | None:
        b, loaders = self._b, info.context.loaders
        if not b.is_active or b.queue_position is None:
            return None
        position = b.queue_position

        def worded(in_turn: bool, product: m.Product | None, language: str) -> str:
            fair = product is not None and product.allocation_policy is allocation.AllocationPolicy.FAIR_SHARE
            return _queue_words(position, in_turn, fair, language)

        def in_language(language: str) -> Any:
            return load_now(loaders.placed_in_turn_by_backorder, b.id, lambda in_turn: load_now(
                loaders.product_by_sku, b.sku, lambda product: worded(in_turn, product, language)))

        if reader_is_staff(info):
            return in_language("en")
        return load_now(loaders.language_by_email, b.customer_email, in_language)

    @strawberry.field
    def order(self, info: Ctx) -> Order | None:
        return load_now(info.context.loaders.order_by_id, self._b.order_id, Order.maybe)

    @strawberry.field
    def product(self, info: Ctx) -> Product | None:
        return load_now(info.context.loaders.product_by_sku, self._b.sku, Product.maybe)

    @strawberry.field(description="The product's substitutes with what is in stock now; best first. None when the "
                                  "customer wants no substitutes (NEVER), and never one they declined.")
    def substitutes(self, info: Ctx) -> list[SubstituteOption]:
        loaders, today = info.context.loaders, info.context.desk.clock.today()
        return load_now(loaders.product_by_sku, self._b.sku, lambda product: self._options(loaders, product, today))

    def _options(self, loaders: Loaders, product: m.Product | None, today: date) -> Any:
        skus = self._b.offerable_substitutes(product.substitutes) if product is not None else []
        if product is None or not skus:
            return []
        # after a prefetch everything is held: read at once (a page prices ~40 options; the chain of loads below,
        # a closure per step, cost as much as the pricing)
        candidates, stock = held_many(loaders.product_by_sku, skus), held_many(loaders.stock_by_sku, skus)
        held, order = loaders.order_by_id.peek(self._b.order_id)
        if candidates is not None and stock is not None and held:
            return self._priced(loaders, self._ordered_price(order, product), candidates, stock, today)
        return load_many_now(loaders.product_by_sku, skus, lambda candidates: load_many_now(
            loaders.stock_by_sku, skus, lambda stock: load_now(
                loaders.order_by_id, self._b.order_id, lambda order: self._priced(
                    loaders, self._ordered_price(order, product), candidates, stock, today))))

    def _ordered_price(self, order: m.Order | None, product: m.Product) -> m.Money:
        """What the customer pays per unit for what they wait for (the line's price, in the order's currency): what
        accepting a substitute compares with and prices its line in."""
        line = next((li for li in order.lines if li.id == self._b.order_line_id), None) if order else None
        return line.unit_price if line is not None else product.price

    def _priced(self, loaders: Loaders, ordered: m.Money, candidates: list[m.Product | None],
                stock: list[list[m.StockLevel]], today: date) -> Any:
        pairs = sorted({(c.price.currency, ordered.currency) for c in candidates
                        if c is not None and c.price.currency != ordered.currency})
        if not pairs:  # one currency: no rate to read
            return self._ranked(ordered, candidates, stock, today, {})
        return load_many_now(loaders.exchange_rate_by_pair, pairs, lambda found: self._ranked(
            ordered, candidates, stock, today, {pair: rate for pair, rate in zip(pairs, found, strict=True) if rate}))

    def _ranked(self, ordered: m.Money, candidates: list[m.Product | None], stock: list[list[m.StockLevel]],
                today: date, rates: RateBook) -> list[SubstituteOption]:
        b, options = self._b, []
        for candidate, levels in zip(candidates, stock, strict=True):  # in the order of `skus`
            if candidate is None:
                continue
            atp = sum(s.available_to_promise for s in levels)
            price = compare_prices(ordered, candidate.price, rates)
            options.append(SubstituteOption(
                product=Product.of(candidate), _available_to_promise=atp,
                available=b.is_active and atp >= max(1, b.waiting_quantity) and not candidate.is_preorder(today),
                price_difference=Money.of(price.difference) if price else None,
                converted_price=Money.of(price.converted) if price else None,
                exchange_rate=ExchangeRate.maybe(price.rate) if price else None,
            ))
        return sorted(options, key=lambda o: not o.available)


def history_entries(entries: list[m.HistoryEntry], staff: bool, language: str = "en") -> list[HistoryEntry]:
    """A backorder's history as its reader may see it: all of it for staff, worded for customers."""
    if staff:
        return [HistoryEntry(at=h.at, kind=HistoryKind(h.kind), old_value=h.old_value, new_value=h.new_value,
                             cause=wording.staff_cause(h.cause)) for h in entries]
    kinds = _HISTORY_KINDS
    return [HistoryEntry(at=h.at, kind=kinds.get(h.kind) or HistoryKind(h.kind), old_value=h.old_value,
                         new_value=h.new_value, cause=_cause_words(h.kind, h.cause, language))
            for h in entries if h.kind in wording.CUSTOMER_HISTORY_KINDS]


_HISTORY_KINDS = {kind.value: kind for kind in HistoryKind}  # a dict look-up: calling the Enum costs ten times it


# The customer's sentences are pure functions of a few small values that repeat from page to page (a queue
# position and a count, a history row's cause): each is worded once per process, where Babel's plural rules,
# number formats and catalogue look-ups were a tenth of the portal query's CPU (bench/portal_profile.py).
@functools.lru_cache(maxsize=4096)
def _queue_words(position: int, in_turn: bool, fair_share: bool, language: str) -> str:
    return wording.queue_explanation(position, in_turn, fair_share=fair_share, language=language)


def _cause_words(kind: str, cause: Cause, language: str) -> str:
    try:
        return _cached_cause_words(kind, cause, language)
    except TypeError:  # a cause holding something unhashable: worded each time
        return wording.customer_cause(kind, cause, language)


@functools.lru_cache(maxsize=4096)
def _cached_cause_words(kind: str, cause: Cause, language: str) -> str:
    return wording.customer_cause(kind, cause, language)


# Product and Order name Backorder and Backorder names them: the modules import each other at the bottom,
# after their own classes exist, so either may be imported first (strawberry resolves the annotations
# when the schema is built).
from api.types.catalogue import Product  # noqa: E402
from api.types.orders import Order  # noqa: E402
