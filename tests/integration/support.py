"""Helpers for the service tests on the real store: a small shop made through the desk, a picture of every
table to prove a refused use case wrote nothing, the events a bus subscriber heard (and the backorder events
among them), and the desk fixture's clock to move between orders."""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from tortoise.models import Model

from domain.bus import EventStream
from domain.clock import FixedClock
from domain.events import Event
from domain.model import Channel, Order
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from domain.store import models as t
from domain.store.db import MODELS
from tests import shown_places

LAMP, ALT = "LAMP-1", "LAMP-ALT"
PO_DATE = date(2026, 3, 11)  # the desk fixture's clock says 2 March 2026
LEAD_TIME_DATE = date(2026, 3, 16)  # 2 March + the supplier's 14 days


@dataclass
class Shop:
    supplier_id: str
    po_id: str


async def lamp_shop(desk: BackorderDesk, *, on_hand: int = 3, po_units: int = 4, alt_on_hand: int = 10) -> Shop:
    """Given a lamp (3 on hand, a PO of 4 due 11 March from a supplier with 14 days' lead time) and a
    substitute lamp with stock of its own."""
    supplier = await desk.upsert_supplier(None, "Lumen Ltd", 14)
    await desk.upsert_product(ProductInput(sku=ALT, name="Brass lamp", price=Decimal("34.00")))
    await desk.upsert_product(ProductInput(sku=LAMP, name="Anglepoise lamp", price=Decimal("29.50"),
                                           supplier_id=supplier.id, substitutes=(ALT,)))
    if alt_on_hand:
        await desk.receive_stock(ALT, alt_on_hand)
    if on_hand:
        await desk.receive_stock(LAMP, on_hand)
    po_id = ""
    if po_units:
        po = await desk.create_purchase_order(supplier.id, PO_DATE, [LineRequest(LAMP, po_units)], number="PO-1")
        po_id = po.id
    return Shop(supplier.id, po_id)


async def order(desk: BackorderDesk, email: str, quantity: int, sku: str = LAMP, **options: Any) -> Order:
    return await desk.place_order(CustomerDetails(email), Channel.ONLINE, [LineRequest(sku, quantity)], **options)


async def backorder_of(placed: Order, line: int = 0) -> t.Backorder:
    backorder_id = placed.lines[line].backorder_id
    assert backorder_id is not None, f"line {line} of {placed.number} was not backordered"
    row = await shown_places.backorder(backorder_id)
    assert row is not None, backorder_id
    return row


async def backorders_of(*placed: Order) -> list[t.Backorder]:
    return [await backorder_of(o) for o in placed]


async def stock(sku: str = LAMP) -> tuple[int, int]:
    """(on hand, allocated) at the main location."""
    level = await t.StockLevel.get(sku=sku, location="MAIN")
    return level.on_hand, level.allocated


def heard(stream: EventStream) -> list[Event]:
    return [stream.queue.get_nowait() for _ in range(stream.queue.qsize())]


def _tables() -> list[str]:
    names = set()
    for module_name in MODELS:
        for _, cls in inspect.getmembers(importlib.import_module(module_name), inspect.isclass):
            if issubclass(cls, Model) and cls is not Model and not cls._meta.abstract:
                names.add(cls._meta.db_table)
    return sorted(names)


async def snapshot() -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table the application owns, as text: equal snapshots mean nothing was written."""
    db = t.Product._meta.db
    out: dict[str, list[tuple[str, ...]]] = {}
    for table in _tables():
        rows = await db.execute_query_dict(f'SELECT * FROM "{table}"')
        out[table] = sorted(tuple(f"{k}={v!r}" for k, v in sorted(dict(row).items())) for row in rows)
    return out


def clock_of(desk: BackorderDesk) -> FixedClock:
    """The desk fixture's clock, to move it between orders."""
    assert isinstance(desk.clock, FixedClock)
    return desk.clock


def about_events(events: list, kinds: tuple[str, ...] = ()) -> list[tuple]:
    """(kind, backorder id) of the backorder events heard, optionally only of some kinds."""
    return [(e.kind, e.backorder_id) for e in events
            if hasattr(e, "backorder_id") and (not kinds or e.kind in kinds)]
