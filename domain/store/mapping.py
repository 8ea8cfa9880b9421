"""One mapping from database rows to domain objects, for the unit of work (the write side) and the read-side
queries alike: a row is a mapping of column to value, as `.values()` or a raw query gives it, typed or (SQLite
in raw queries) as text; each function here reads both, so the two sides cannot drift apart."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain import model as m
from domain.allocation import AllocationPolicy
from domain.causes import Cause
from domain.currency import ExchangeRate
from domain.eta import Confidence, Eta, EtaSource, EtaSteps
from domain.goodwill import Goodwill
from domain.locations import Location
from domain.preferences import SubstituteConsent

Row = Mapping[str, Any]

# enum members by value, looked up directly: loading a 100k queue calls these 100k times each
_STATUS = {s.value: s for s in m.BackorderStatus}
_TIER = {t_.value: t_ for t_ in m.CustomerTier}
_CHANNEL = {c.value: c for c in m.Channel}
_POLICY = {p.value: p for p in m.BackorderPolicy}
_ALLOCATION = {p.value: p for p in AllocationPolicy}
_PO_STATUS = {s.value: s for s in m.PurchaseOrderStatus}
_CONFIDENCE = {c.value: c for c in Confidence}
_SOURCE = {s.value: s for s in EtaSource}
_CONSENT = {c.value: c for c in SubstituteConsent}
_CENTS = Decimal("0.01")
_RATE_PLACES = Decimal("0.00000001")


# -- column values ------------------------------------------------------------------------------
def as_datetime(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def as_date(value: Any) -> Any:
    return date.fromisoformat(value) if isinstance(value, str) else value


def as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def money(amount: Any, currency: str) -> m.Money:
    """Amounts to the cent, as the DECIMAL(12, 2) columns hold them (SQLite keeps the text it was given). A page
    of the portal maps a few hundred prices, most of them the same few: each is worked out once (Money is
    immutable, so one object serves every row with that amount)."""
    try:  # by its text: Decimal("-0.00") equals Decimal("0.00") as a key, yet is written otherwise
        return _money(str(amount) if isinstance(amount, Decimal) else amount, currency)
    except TypeError:  # not hashable: worked out each time
        return m.Money(Decimal(amount).quantize(_CENTS), currency)


@functools.lru_cache(maxsize=4096)
def _money(amount: Any, currency: str) -> m.Money:
    return m.Money(Decimal(amount).quantize(_CENTS), currency)


@functools.lru_cache(maxsize=4096)
def _json_list(text: str) -> tuple[Any, ...]:
    return tuple(json.loads(text) or ())


def json_list(value: Any) -> list[Any]:
    """A JSON list column (a product's substitutes, a backorder's declined ones) as a new list; the text of
    each is parsed once (a few shapes repeat across a page and a queue)."""
    return list(_json_list(value)) if isinstance(value, str) else list(value or [])


@functools.lru_cache(maxsize=4096)
def _reserved_map(text: str) -> tuple[tuple[str, int], ...]:
    return tuple(json.loads(text).items())


def reserved(value: Any) -> dict[str, int]:
    """A `reserved` column (a few shapes repeat across a queue: {}, {"MAIN": 1}, ...), text parsed once each."""
    return dict(_reserved_map(value)) if isinstance(value, str) else dict(value or {})


def history_cause(cause: str, cause_data: str | None) -> Cause:
    """A history row's cause: the structured one, or (rows from before causes were data) the text of the time.
    Causes are immutable and repeat (a page reads the same few): each text is parsed once."""
    try:
        return _history_cause(cause, cause_data)
    except TypeError:  # a decoded value (not text): read each time
        return Cause.from_dict(as_json(cause_data)) if cause_data else Cause.legacy(cause)


@functools.lru_cache(maxsize=4096)
def _history_cause(cause: str, cause_data: str | None) -> Cause:
    return Cause.from_dict(json.loads(cause_data)) if cause_data else Cause.legacy(cause)


# The key under which a recorded receipt's fold (`TortoiseUnitOfWork._fold_slice`) names, in the cause data of the
# history rows it writes, the `queue_serves` row they fold: two ranges of a SKU can share their time and cause, so
# the range's backorders are found by it (`served_ranges._folded`). Not part of the cause: `Cause.from_dict`
# ignores it, and a row folded before the fold named its range (none has it) is read by its time and cause.
FOLDED_RANGE = "queue_serve"


def folded_cause_data(cause: Cause, record_id: int) -> dict[str, Any]:
    """The cause data of the history rows a fold of range `record_id` writes: the cause, and the range."""
    return {**cause.to_dict(), FOLDED_RANGE: int(record_id)}


def folded_range(cause_data: Any) -> int | None:
    """The range a history row was folded from (`folded_cause_data`), or None: written some other way, or by a
    fold from before it named its range."""
    try:
        return _folded_range(cause_data)
    except TypeError:  # a decoded value (not text)
        found = as_json(cause_data) if cause_data else None
        return int(found[FOLDED_RANGE]) if isinstance(found, dict) and FOLDED_RANGE in found else None


@functools.lru_cache(maxsize=4096)
def _folded_range(cause_data: str | None) -> int | None:
    found = json.loads(cause_data) if cause_data else None
    return int(found[FOLDED_RANGE]) if isinstance(found, dict) and FOLDED_RANGE in found else None


# -- rows ---------------------------------------------------------------------------------------
def product(r: Row) -> m.Product:
    return m.Product(
        sku=r["sku"], name=r["name"], price=money(r["price"], r["currency"]),
        backorder_policy=_POLICY[r["backorder_policy"]], backorder_limit=r["backorder_limit"],
        release_date=as_date(r["release_date"]), substitutes=json_list(r["substitutes"]),
        supplier_id=r["supplier_id"], lead_time_days=r["lead_time_days"],
        allocation_policy=_ALLOCATION[r["allocation_policy"]], fair_share_minimum=r["fair_share_minimum"],
        customer_cap_per_receipt=r["customer_cap_per_receipt"], version=r["version"])


def supplier(r: Row) -> m.Supplier:
    return m.Supplier(r["id"], r["name"], r["lead_time_days"], r["deliveries_on_time"], r["deliveries_late"])


def stock_level(r: Row) -> m.StockLevel:
    # staged required, not defaulted: a reader that left it out showed units being put away as nowhere
    return m.StockLevel(r["sku"], r["location"], r["on_hand"], r["allocated"], r["safety_stock"], r["staged"])


def customer(r: Row) -> m.Customer:
    return m.Customer(r["email"], r["name"], r["phone"], _TIER[r["tier"]])


def order_line(r: Row) -> m.OrderLine:
    converted = r["list_currency"] is not None and r["exchange_rate"] is not None
    return m.OrderLine(
        id=r["id"], order_id=r["order_id"], sku=r["sku"], quantity=r["quantity"],
        unit_price=money(r["unit_price"], r["currency"]), allocated_quantity=r["allocated_quantity"],
        shipped_quantity=r["shipped_quantity"], reserved=dict(as_json(r["reserved"]) or {}),
        backorder_id=r["backorder_id"], substitute_for=r["substitute_for"],
        shipped_from=dict(as_json(r["shipped_from"]) or {}),
        list_price=money(r["list_price"], r["list_currency"]) if converted else None,
        exchange_rate=ExchangeRate(r["list_currency"], r["currency"],
                                   Decimal(str(r["exchange_rate"])).quantize(_RATE_PLACES),
                                   as_date(r["exchange_rate_date"])) if converted else None)


def order_line_values(line: m.OrderLine) -> dict[str, Any]:
    """The other way: an order line's columns (all but id, order_id and position)."""
    rate = line.exchange_rate
    return {
        "sku": line.sku, "quantity": line.quantity, "unit_price": line.unit_price.amount,
        "currency": line.unit_price.currency, "allocated_quantity": line.allocated_quantity,
        "shipped_quantity": line.shipped_quantity, "reserved": line.reserved, "backorder_id": line.backorder_id,
        "substitute_for": line.substitute_for, "shipped_from": line.shipped_from,
        "list_price": line.list_price.amount if line.list_price else None,
        "list_currency": line.list_price.currency if line.list_price else None,
        "exchange_rate": rate.rate if rate else None, "exchange_rate_date": rate.as_of if rate else None,
    }


def order(r: Row, lines: list[m.OrderLine], customer_: m.Customer | None) -> m.Order:
    return m.Order(
        id=r["id"], number=r["number"], channel=_CHANNEL[r["channel"]],
        customer=customer_ or m.Customer(r["customer_email"]), placed_at=as_datetime(r["placed_at"]),
        lines=lines, ship_complete=bool(r["ship_complete"]), version=r["version"])


def purchase_order_line(r: Row) -> m.PurchaseOrderLine:
    return m.PurchaseOrderLine(r["sku"], r["quantity"], r["received_quantity"])


def purchase_order(r: Row, lines: list[m.PurchaseOrderLine]) -> m.PurchaseOrder:
    return m.PurchaseOrder(
        id=r["id"], number=r["number"], supplier_id=r["supplier_id"], expected_date=as_date(r["expected_date"]),
        lines=lines, status=_PO_STATUS[r["status"]], location=r["location"], created_at=as_datetime(r["created_at"]),
        first_expected_date=as_date(r["first_expected_date"]) if r.get("first_expected_date") else None)


def location(r: Row) -> Location:
    return Location(r["code"], r["name"])


def exchange_rate(r: Row) -> ExchangeRate:
    return ExchangeRate(r["from_currency"], r["to_currency"], Decimal(str(r["rate"])).quantize(_RATE_PLACES),
                        as_date(r["as_of"]))


def history_entry(r: Row) -> m.HistoryEntry:
    return m.HistoryEntry(as_datetime(r["at"]), r["kind"], r["old_value"], r["new_value"],
                          history_cause(r["cause"], r["cause_data"]))


_DATETIME_COLUMNS = ("ordered_at", "created_at", "updated_at")
_DATE_COLUMNS = ("eta_date", "promised_date", "cancel_if_not_by")


def backorder_row(raw: Row) -> dict[str, Any]:
    """A `backorders` row from a raw query, typed as tortoise would give it (SQLite returns text)."""
    row = dict(raw)
    for column in _DATETIME_COLUMNS:
        if isinstance(row[column], str):
            row[column] = datetime.fromisoformat(row[column])
    for column in _DATE_COLUMNS:
        if isinstance(row[column], str):
            row[column] = date.fromisoformat(row[column])
    if isinstance(row["reserved"], str):
        row["reserved"] = reserved(row["reserved"])
    row["shipped_from"] = reserved(row["shipped_from"]) if row.get("shipped_from") else {}
    if isinstance(row.get("declined_substitutes"), str):
        row["declined_substitutes"] = json.loads(row["declined_substitutes"])
    return row


def eta(row: Row) -> Eta | None:
    if row.get("eta_date") is None:
        return None
    return Eta(row["eta_date"], _CONFIDENCE[row["eta_confidence"]], _SOURCE[row["eta_source"]], row["eta_reference"])


def eta_projection(steps: EtaSteps, origin: int) -> str:
    """A SKU's projection and demand origin as `products.eta_projection` keeps them (its fingerprint,
    `SkuInventory.kept_projection`): compact JSON, read back equal by `stored_projection`."""
    def one(eta: Eta) -> list[Any]:
        return [eta.date.isoformat(), eta.confidence.value, eta.source.value, eta.reference]
    return json.dumps({"bounds": list(steps.bounds), "etas": [one(eta) for eta in steps.etas],
                       "beyond": one(steps.beyond), "allocated": one(steps.allocated), "origin": origin},
                      separators=(",", ":"))


def stored_projection(text: str | None) -> tuple[EtaSteps, int] | None:
    """`products.eta_projection` read back (None: no projection is known to be followed, or one recorded before
    the demand index)."""
    if text is None:
        return None
    data = json.loads(text)
    if "origin" not in data:
        return None

    def one(values: list[Any]) -> Eta:
        return Eta(date.fromisoformat(values[0]), _CONFIDENCE[values[1]], _SOURCE[values[2]], values[3])
    return EtaSteps(tuple(int(bound) for bound in data["bounds"]), tuple(one(eta) for eta in data["etas"]),
                    one(data["beyond"]), one(data["allocated"])), int(data["origin"])


def backorder(row: Row, history: list[m.HistoryEntry]) -> m.Backorder:
    """From a row typed by `backorder_row` (or by tortoise)."""
    return m.Backorder(
        id=row["id"], order_id=row["order_id"], order_line_id=row["order_line_id"], sku=row["sku"],
        customer_email=row["customer_email"], customer_tier=_TIER[row["customer_tier"]],
        channel=_CHANNEL[row["channel"]], ordered_at=row["ordered_at"], quantity=row["quantity"],
        original_quantity=row["original_quantity"], allocated_quantity=row["allocated_quantity"],
        shipped_quantity=row["shipped_quantity"], cancelled_quantity=row["cancelled_quantity"],
        substituted_quantity=row["substituted_quantity"], reserved=dict(row["reserved"] or {}),
        shipped_from=dict(as_json(row.get("shipped_from")) or {}),
        status=_STATUS[row["status"]], eta=eta(row), promised_date=row["promised_date"],
        priority_override=row["priority_override"], priority_reason=row["priority_reason"],
        order_quantity=row["order_quantity"], allocation_reason=row["allocation_reason"],
        queue_position=row["queue_position"], demand_to=row.get("demand_to"), history=history,
        created_at=row["created_at"],
        updated_at=row["updated_at"], version=row["version"],
        cancel_if_not_by=as_date(row.get("cancel_if_not_by")),
        substitute_consent=_CONSENT[row.get("substitute_consent") or "ASK"],
        declined_substitutes=list(as_json(row.get("declined_substitutes")) or []),
    )


def backorder_values(b: m.Backorder) -> dict[str, Any]:
    """The other way: a backorder's columns (all but id and version)."""
    return {
        "order_id": b.order_id, "order_line_id": b.order_line_id, "sku": b.sku, "customer_email": b.customer_email,
        "customer_tier": b.customer_tier.value, "channel": b.channel.value, "ordered_at": b.ordered_at,
        "quantity": b.quantity, "original_quantity": b.original_quantity, "allocated_quantity": b.allocated_quantity,
        "shipped_quantity": b.shipped_quantity, "cancelled_quantity": b.cancelled_quantity,
        "substituted_quantity": b.substituted_quantity, "reserved": b.reserved, "shipped_from": b.shipped_from,
        "status": b.status.value, "eta_date": b.eta.date if b.eta else None,
        "eta_confidence": b.eta.confidence.value if b.eta else None,
        "eta_source": b.eta.source.value if b.eta else None,
        "eta_reference": b.eta.reference if b.eta else None,
        "promised_date": b.promised_date, "priority_override": b.priority_override,
        "priority_reason": b.priority_reason, "order_quantity": b.order_quantity,
        "allocation_reason": b.allocation_reason, "queue_position": b.queue_position, "demand_to": b.demand_to,
        "created_at": b.created_at, "updated_at": b.updated_at, "cancel_if_not_by": b.cancel_if_not_by,
        "substitute_consent": b.substitute_consent.value, "declined_substitutes": list(b.declined_substitutes),
    }


def goodwill(r: Row) -> Goodwill:
    amount = r["credit_amount"]
    return Goodwill(id=r["id"], backorder_id=r["backorder_id"], at=as_datetime(r["at"]), agent=r["agent"],
                    credit=money(amount, r["credit_currency"]) if amount is not None else None,
                    discount_code=r["discount_code"], note=r["note"])
