"""Domain events: the only way effects (subscriptions, notifications) leave the domain.

Each event is a frozen dataclass; `kind` is its stable name on the wire and in the event log.
Events about a backorder carry the order, SKU and customer so consumers can filter without a lookup.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
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


@dataclass(frozen=True, kw_only=True)
class SessionEnded(Event):
    """A sign-in ended (signed out, an API token revoked): every process ends the live updates it feeds it.
    `session` is a digest of the session's key, never the key itself (a bearer secret)."""

    kind: ClassVar[str] = "SessionEnded"
    session: str


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
        OrderPlaced,
        OrderShipped,
        ShippingPreferenceChanged,
        StockReceived,
        StockAdjusted,
        ProductChanged,
        SupplierChanged,
        PurchaseOrderChanged,
        SessionEnded,
    )
}
