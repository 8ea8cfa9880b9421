"""Domain events: the only way effects (subscriptions, notifications) leave the domain.

Each event is a frozen dataclass; `kind` is its stable name on the wire and in the event log.
Events about a backorder carry the order, SKU and customer so consumers can filter without a lookup.
Over 400 lines on purpose: every event's wire form is here, the compact one of a long queue's change
(`QueueChanged`, `compact`, `expand`) beside the per-backorder events it stands for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

from domain.causes import Cause

_SERIALISERS: dict[type, Callable[[Any], dict[str, Any]]] = {}


_last_iso: tuple[date | None, str | None] = (None, None)


def _iso(value: date | None) -> str | None:
    # the events of one change share its moment (`occurred_at`): a receipt serving 100k backorders formatted
    # the same datetime 300k times, twice. Kept by identity (dates are immutable, and the last one is held)
    global _last_iso
    if value is None:
        return None
    last, text = _last_iso
    if last is value:
        return text
    text = value.isoformat()
    _last_iso = (value, text)
    return text


def _serialiser(cls: type) -> Callable[[Any], dict[str, Any]]:
    """`lambda e: {"kind": ..., "a": e.a, "at": _iso(e.at), "skus": list(e.skus)}` for the class's fields:
    dates and datetimes as ISO 8601, tuples as lists, everything else as it is."""
    items = [f'"kind": {cls.kind!r}']  # type: ignore[attr-defined]
    for f in dataclasses.fields(cls):
        annotation = str(f.type)
        if annotation == "Cause":
            items.append(f'"{f.name}": e.{f.name}.to_dict()')
        elif "date" in annotation:  # date, datetime, date | None
            items.append(f'"{f.name}": _iso(e.{f.name})')
        elif annotation.startswith("tuple"):
            items.append(f'"{f.name}": list(e.{f.name})')
        else:
            items.append(f'"{f.name}": e.{f.name}')
    serialise: Callable[[Any], dict[str, Any]] = eval(  # noqa: S307 - built from our own field names only
        "lambda e: {" + ", ".join(items) + "}", {"_iso": _iso})
    return serialise


@dataclass(frozen=True, kw_only=True)
class Event:
    kind: ClassVar[str] = "Event"
    occurred_at: datetime

    def to_dict(self) -> dict[str, Any]:
        # on the hot path: a receipt for a long queue writes an event log row per event, so each class
        # gets its own serialiser, written once from its field types (a third of the generic loop's cost)
        serialise = _SERIALISERS.get(type(self))
        if serialise is None:
            serialise = _SERIALISERS[type(self)] = _serialiser(type(self))
        return serialise(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Event:
        data = dict(data)
        cls = EVENT_TYPES[data.pop("kind")]
        if cls is QueueChanged:
            return QueueChanged.of_dict(data)
        if cls is QueueServed:
            return QueueServed.of_dict(data)
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name == "cause":  # a dict; a string from before causes were data reads as LEGACY
                value = Cause.from_dict(value)
            elif value is not None and f.name == "occurred_at":
                value = datetime.fromisoformat(value)
            elif value is not None and f.name.endswith("_date"):
                value = date.fromisoformat(value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)


@dataclass(frozen=True, kw_only=True)
class BackorderEvent(Event):
    """Something happened to one backorder."""

    backorder_id: str
    order_id: str
    sku: str
    customer_email: str


@dataclass(frozen=True, kw_only=True)
class BackorderCreated(BackorderEvent):
    kind: ClassVar[str] = "BackorderCreated"
    quantity: int
    queue_position: int | None
    eta_date: date | None
    eta_confidence: str | None


@dataclass(frozen=True, kw_only=True)
class BackorderAllocated(BackorderEvent):
    kind: ClassVar[str] = "BackorderAllocated"
    quantity: int
    allocated_quantity: int
    backordered_quantity: int
    reason: str
    cause: Cause


@dataclass(frozen=True, kw_only=True)
class BackorderStatusChanged(BackorderEvent):
    kind: ClassVar[str] = "BackorderStatusChanged"
    old_status: str
    new_status: str
    cause: Cause


@dataclass(frozen=True, kw_only=True)
class EtaChanged(BackorderEvent):
    kind: ClassVar[str] = "EtaChanged"
    old_date: date | None
    new_date: date | None
    confidence: str
    source: str
    cause: Cause


@dataclass(frozen=True, kw_only=True)
class BackorderCancelled(BackorderEvent):
    kind: ClassVar[str] = "BackorderCancelled"
    quantity: int
    released_quantity: int
    remaining_quantity: int
    cancelled_by: str
    reason: str
    requested_by: str | None = None  # "customer" (their wish, whoever did it) | "shop" | None (not said)
    not_by_date: date | None = None  # cancelled by the desk: not expected by the customer's "cancel if not by"


@dataclass(frozen=True, kw_only=True)
class BackorderSubstituted(BackorderEvent):
    kind: ClassVar[str] = "BackorderSubstituted"
    substitute_sku: str
    quantity: int
    new_order_line_id: str
    automatic: bool = False  # taken for the customer under their substitute consent, not chosen by them then


@dataclass(frozen=True, kw_only=True)
class BackorderShipped(BackorderEvent):
    kind: ClassVar[str] = "BackorderShipped"
    quantity: int
    shipped_quantity: int
    shipment_id: str


@dataclass(frozen=True, kw_only=True)
class BackorderReprioritized(BackorderEvent):
    kind: ClassVar[str] = "BackorderReprioritized"
    priority: int
    reason: str
    agent: str


@dataclass(frozen=True, kw_only=True)
class SubstituteOffered(BackorderEvent):
    kind: ClassVar[str] = "SubstituteOffered"
    substitute_sku: str


@dataclass(frozen=True, kw_only=True)
class SubstituteDeclined(BackorderEvent):
    """The customer (or an agent for them) said no to a substitute: it is not offered again for this backorder."""

    kind: ClassVar[str] = "SubstituteDeclined"
    substitute_sku: str
    declined_by: str  # "customer", or the agent's name


@dataclass(frozen=True, kw_only=True)
class BackorderPreferencesChanged(BackorderEvent):
    """The backorder's own "cancel if not by" date or substitute consent changed."""

    kind: ClassVar[str] = "BackorderPreferencesChanged"
    cancel_if_not_by_date: date | None
    substitutes: str
    changed_by: str  # "customer", or the agent's name


@dataclass(frozen=True, kw_only=True)
class OrderPlaced(Event):
    kind: ClassVar[str] = "OrderPlaced"
    order_id: str
    order_number: str
    customer_email: str
    channel: str
    skus: tuple[str, ...] = field(default_factory=tuple)
    backordered_units: int = 0


@dataclass(frozen=True, kw_only=True)
class OrderShipped(Event):
    kind: ClassVar[str] = "OrderShipped"
    order_id: str
    shipment_id: str
    customer_email: str
    units: int


@dataclass(frozen=True, kw_only=True)
class ShippingPreferenceChanged(Event):
    kind: ClassVar[str] = "ShippingPreferenceChanged"
    order_id: str
    customer_email: str
    ship_complete: bool


@dataclass(frozen=True, kw_only=True)
class StockReceived(Event):
    kind: ClassVar[str] = "StockReceived"
    sku: str
    location: str
    quantity: int
    on_hand: int
    cause: Cause


@dataclass(frozen=True, kw_only=True)
class StockAdjusted(Event):
    kind: ClassVar[str] = "StockAdjusted"
    sku: str
    location: str
    delta: int
    on_hand: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class ProductChanged(Event):
    kind: ClassVar[str] = "ProductChanged"
    sku: str


@dataclass(frozen=True, kw_only=True)
class SupplierChanged(Event):
    kind: ClassVar[str] = "SupplierChanged"
    supplier_id: str
    name: str
    lead_time_days: int


@dataclass(frozen=True, kw_only=True)
class PurchaseOrderChanged(Event):
    kind: ClassVar[str] = "PurchaseOrderChanged"
    purchase_order_id: str
    number: str
    status: str
    expected_date: date | None
    skus: tuple[str, ...] = field(default_factory=tuple)
    change: str = "updated"
    location: str | None = None  # a receipt: where the units were received (the PO's location or another)


@dataclass(frozen=True, kw_only=True)
class LocationChanged(Event):
    """A location set up or renamed ("saved"), retired and kept because history names it ("retired"), or removed
    because nothing ever did ("removed")."""

    kind: ClassVar[str] = "LocationChanged"
    code: str
    name: str
    change: str


@dataclass(frozen=True, kw_only=True)
class ExchangeRateChanged(Event):
    """The shop's rate from one currency to another was set (it replaces the one before)."""

    kind: ClassVar[str] = "ExchangeRateChanged"
    from_currency: str
    to_currency: str
    rate: str  # a decimal, as text: events are JSON
    as_of_date: date


@dataclass(frozen=True, kw_only=True)
class NotificationPreferencesChanged(Event):
    """How a customer is told changed (`fields`: the preferences whose values changed, never the values: a phone
    number stays in the customer's own record), or their recorded consent to a channel did."""

    kind: ClassVar[str] = "NotificationPreferencesChanged"
    customer_email: str
    fields: tuple[str, ...]
    changed_by: str  # the agent's name, or the customer's email when it was the customer (as the audit keeps it)
    consent_changed: bool = False


@dataclass(frozen=True, kw_only=True)
class SessionEnded(Event):
    """A sign-in ended (signed out, an API token revoked): every process ends the live updates it feeds it.
    `session` is a digest of the session's key, never the key itself (a bearer secret)."""

    kind: ClassVar[str] = "SessionEnded"
    session: str


# -- many backorders changed by one change, kept compactly ----------------------------------------
_QUEUE_TYPES = (BackorderAllocated, BackorderStatusChanged, EtaChanged)  # what a QueueChanged stands for


@dataclass(frozen=True, kw_only=True)
class QueueChanged(Event):
    """One change that moved many backorders of a SKU (a receipt serving a long queue, its re-projection): the
    per-backorder events it stands for (BackorderAllocated, BackorderStatusChanged, EtaChanged), in their
    order, kept as columns of plain values. A receipt serving 100k backorders is one row in the event log
    instead of 300k; every consumer derives each backorder's events at one seam, `expand()`, so what a
    subscriber, a digest or a webhook sees is what the per-backorder events said (`compact` makes it; a
    property test holds `expand(compact(events)) == events`).

    `backorders`: (backorder id, order id, customer email) of each backorder, referred to by index; `causes`:
    the distinct causes, by index; `entries`, one per event: (code, backorder index, cause index, *values),
    code A (quantity, allocated_quantity, backordered_quantity, reason), S (old_status, new_status) or
    E (old_date, new_date as ISO 8601 or None, confidence, source)."""

    kind: ClassVar[str] = "QueueChanged"
    sku: str
    backorders: tuple[tuple[str, str, str], ...]
    causes: tuple[Cause, ...]
    entries: tuple[tuple[Any, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        # tuples go to JSON as arrays as they are: no copy of 100k entries
        return {"kind": self.kind, "occurred_at": _iso(self.occurred_at), "sku": self.sku,
                "backorders": self.backorders, "causes": [c.to_dict() for c in self.causes],
                "entries": self.entries}

    @staticmethod
    def of_dict(data: dict[str, Any]) -> QueueChanged:
        at = data["occurred_at"]
        return QueueChanged(
            occurred_at=datetime.fromisoformat(at) if isinstance(at, str) else at, sku=data["sku"],
            backorders=tuple((str(i), str(o), str(e)) for i, o, e in data["backorders"]),
            causes=tuple(Cause.from_dict(c) for c in data["causes"]),
            entries=tuple(tuple(entry) for entry in data["entries"]))

    @property
    def customers(self) -> dict[str, list[int]]:
        """Customer email -> the indexes of their entries, in order (worked out once per event)."""
        found: dict[str, list[int]] | None = self.__dict__.get("_customers")
        if found is None:
            found = {}
            emails = [b[2] for b in self.backorders]
            for n, entry in enumerate(self.entries):
                found.setdefault(emails[entry[1]], []).append(n)
            object.__setattr__(self, "_customers", found)
        return found

    def part(self, positions: Sequence[int]) -> QueueChanged:
        """The entries at `positions` only (one customer's part, for their digest), as a QueueChanged of its own:
        only the backorders and the causes those entries name (a cause of another customer's change, an agent's
        reason or an order number, is not kept in this customer's outbox row)."""
        index: dict[int, int] = {}
        cause_index: dict[int, int] = {}
        backorders: list[tuple[str, str, str]] = []
        causes: list[Cause] = []
        entries = []
        for n in positions:
            entry = self.entries[n]
            b = index.get(entry[1])
            if b is None:
                b = index[entry[1]] = len(backorders)
                backorders.append(self.backorders[entry[1]])
            c = cause_index.get(entry[2])
            if c is None:
                c = cause_index[entry[2]] = len(causes)
                causes.append(self.causes[entry[2]])
            entries.append((entry[0], b, c, *entry[3:]))
        return QueueChanged(occurred_at=self.occurred_at, sku=self.sku, backorders=tuple(backorders),
                            causes=tuple(causes), entries=tuple(entries))

    def expand(self) -> list[BackorderEvent]:
        """The per-backorder events this stands for, in order (the same objects each time: every subscriber
        that receives one shares it, as they share any event the bus hands them)."""
        made: list[BackorderEvent] | None = self.__dict__.get("_expanded")
        if made is None:
            made = [self._event(entry) for entry in self.entries]
            object.__setattr__(self, "_expanded", made)
        return made

    def _event(self, entry: tuple[Any, ...]) -> BackorderEvent:
        backorder_id, order_id, email = self.backorders[entry[1]]
        ids = {"occurred_at": self.occurred_at, "backorder_id": backorder_id, "order_id": order_id,
               "sku": self.sku, "customer_email": email}
        cause = self.causes[entry[2]]
        code = entry[0]
        if code == "A":
            return BackorderAllocated(**ids, quantity=entry[3], allocated_quantity=entry[4],
                                      backordered_quantity=entry[5], reason=entry[6], cause=cause)
        if code == "S":
            return BackorderStatusChanged(**ids, old_status=entry[3], new_status=entry[4], cause=cause)
        if code == "E":
            return EtaChanged(**ids, old_date=_date(entry[3]), new_date=_date(entry[4]), confidence=entry[5],
                              source=entry[6], cause=cause)
        raise ValueError(f"not an entry of a QueueChanged: {entry!r}")


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value is not None else None


# runs shorter than this stay as they are: a change to a few backorders reads the same in the log as always
COMPACT_FROM = 64


def compact(events: Sequence[Event], min_run: int | None = None) -> list[Event]:
    """`events` with each run of at least `min_run` (default COMPACT_FROM) consecutive BackorderAllocated,
    BackorderStatusChanged and EtaChanged events of one SKU and one moment replaced by one QueueChanged that
    stands for them."""
    min_run = COMPACT_FROM if min_run is None else min_run
    out: list[Event] = []
    n, count = 0, len(events)
    while n < count:
        first = events[n]
        end = n
        if isinstance(first, _QUEUE_TYPES):
            sku, at = first.sku, first.occurred_at
            while end < count:
                e = events[end]
                if not isinstance(e, _QUEUE_TYPES) or e.sku != sku or e.occurred_at != at:
                    break
                end += 1
        if end - n >= min_run:
            out.append(_compacted(events[n:end]))
            n = end
        else:
            out.extend(events[n:max(end, n + 1)])
            n = max(end, n + 1)
    return out


def _compacted(run: Sequence[Event]) -> QueueChanged:
    backorders: dict[str, int] = {}
    ids: list[tuple[str, str, str]] = []
    causes: dict[Cause, int] = {}
    last: tuple[Cause | None, int] = (None, 0)
    entries: list[tuple[Any, ...]] = []
    for e in run:
        assert isinstance(e, (BackorderAllocated, BackorderStatusChanged, EtaChanged))
        b = backorders.get(e.backorder_id)
        if b is None:
            b = backorders[e.backorder_id] = len(ids)
            ids.append((e.backorder_id, e.order_id, e.customer_email))
        cause = e.cause
        if last[0] is cause:
            c = last[1]
        else:
            c = causes.setdefault(cause, len(causes))
            last = (cause, c)
        if isinstance(e, BackorderAllocated):
            entries.append(("A", b, c, e.quantity, e.allocated_quantity, e.backordered_quantity, e.reason))
        elif isinstance(e, BackorderStatusChanged):
            entries.append(("S", b, c, e.old_status, e.new_status))
        else:
            entries.append(("E", b, c, e.old_date.isoformat() if e.old_date else None,
                            e.new_date.isoformat() if e.new_date else None, e.confidence, e.source))
    first = run[0]
    assert isinstance(first, BackorderEvent)
    return QueueChanged(occurred_at=first.occurred_at, sku=first.sku, backorders=tuple(ids),
                        causes=tuple(causes), entries=tuple(entries))


QueueKey = tuple[int, datetime, str]  # (agent priority, order time, id): a backorder's place in a queue's order


@dataclass(frozen=True, kw_only=True)
class QueueServed(Event):
    """A receipt at the head of a long first-come-first-served queue that served the first `count` backorders
    waiting for `sku` whole, recorded as that range (`queue_serves` row `record_id`, `head.ServeRecord`) instead
    of their rows: emitted instead of their per-backorder events (BackorderAllocated, BackorderStatusChanged,
    EtaChanged), which it stands for. Those cannot be made from this alone (each backorder's order, customer, old
    status and ETA are in its row): a consumer reads them through `ports.ServedRanges`, the same before the range
    is folded into the rows and after. `first` and `last` are the range's ends in queue order (agent priority,
    order time, id), `units` what they took from `location` in all, of `waiting_count` waiting then; `partly`
    the covered backorders that already had units (id, allocated then), which the rows forget once folded."""

    kind: ClassVar[str] = "QueueServed"
    sku: str
    location: str
    cause: Cause
    first: QueueKey
    last: QueueKey
    count: int
    units: int
    waiting_count: int
    record_id: int
    partly: tuple[tuple[str, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        def key(k: QueueKey) -> list[Any]:
            return [k[0], k[1].isoformat(), k[2]]
        return {"kind": self.kind, "occurred_at": _iso(self.occurred_at), "sku": self.sku,
                "location": self.location, "cause": self.cause.to_dict(), "first": key(self.first),
                "last": key(self.last), "count": self.count, "units": self.units,
                "waiting_count": self.waiting_count, "record_id": self.record_id,
                "partly": [list(p) for p in self.partly]}

    @staticmethod
    def of_dict(data: dict[str, Any]) -> QueueServed:
        def key(k: Sequence[Any]) -> QueueKey:
            at = k[1]
            return (int(k[0]), datetime.fromisoformat(at) if isinstance(at, str) else at, str(k[2]))
        at = data["occurred_at"]
        return QueueServed(
            occurred_at=datetime.fromisoformat(at) if isinstance(at, str) else at, sku=data["sku"],
            location=data["location"], cause=Cause.from_dict(data["cause"]), first=key(data["first"]),
            last=key(data["last"]), count=int(data["count"]), units=int(data["units"]),
            waiting_count=int(data["waiting_count"]), record_id=int(data["record_id"]),
            partly=tuple((str(i), int(n)) for i, n in data.get("partly", ())))


@dataclass(frozen=True, kw_only=True)
class GoodwillOffered(BackorderEvent):
    """An agent gave the waiting customer a credit (in the order's currency) and/or a discount code."""

    kind: ClassVar[str] = "GoodwillOffered"
    goodwill_id: str
    credit_amount: str | None  # a decimal, as text: events are JSON
    credit_currency: str | None
    discount_code: str | None
    agent: str


def expand(events: Iterable[Event]) -> Iterator[Event]:
    """Every event as the per-backorder events it stands for: a QueueChanged opened up, any other as it is."""
    for event in events:
        if isinstance(event, QueueChanged):
            yield from event.expand()
        else:
            yield event


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        BackorderCreated,
        BackorderAllocated,
        BackorderStatusChanged,
        EtaChanged,
        BackorderCancelled,
        BackorderSubstituted,
        BackorderShipped,
        BackorderReprioritized,
        SubstituteOffered,
        SubstituteDeclined,
        BackorderPreferencesChanged,
        GoodwillOffered,
        OrderPlaced,
        OrderShipped,
        ShippingPreferenceChanged,
        StockReceived,
        StockAdjusted,
        ProductChanged,
        SupplierChanged,
        PurchaseOrderChanged,
        LocationChanged,
        ExchangeRateChanged,
        NotificationPreferencesChanged,
        SessionEnded,
        QueueChanged,
        QueueServed,
    )
}
