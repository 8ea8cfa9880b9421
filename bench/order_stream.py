"""Replay a real retailer's order stream through the GraphQL API, with scarce stock and scheduled restocks.

`../shared/data/online-retail-sample.csv.gz` (a sample of a year of a real online retailer's invoices) is
replayed in invoice order against a `backorder serve` process: every invoice becomes a `placeOrder`. Every
SKU starts with 40% of the demand it will see in the replayed part; a purchase order every 3 replay days
brings more (80% of the demand in all), received with `receivePurchaseOrder` once the replay clock passes
its date. Reported: orders/s over HTTP (4 clients) against the same invoices placed in-process through
`BackorderDesk.place_order` (the API's cost); backorders created; fill rate (units allocated at placement
/ units ordered); mean wait in replay days from order to fully allocated; and the invariants, in SQL.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import os
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench.common import ORDER_SAMPLE, QUICK, Figure, Timer, free_port, per_dialect, report, scratch_database, wait_up

# the first 1,200 invoices by default (a few minutes for all benches); BENCH_INVOICES=0 replays all ~13k
INVOICES = int(os.environ.get("BENCH_INVOICES") or (300 if QUICK else 1_200)) or 1_000_000
CLIENTS = 4
START_SHARE, RESTOCK_SHARE, EVERY_DAYS = 0.40, 0.80, 3  # restocks bring 80% of demand in all
BIN = Path(sys.executable).parent / "backorder"
SKU = re.compile(r"[A-Z0-9][A-Z0-9._\-/]{0,63}")
NOT_GOODS = {"POST", "DOT", "M", "D", "C2", "CRUK", "PADS", "AMAZONFEE", "BANK CHARGES", "S", "B"}


@dataclass
class Invoice:
    number: str
    at: datetime
    customer: str
    lines: dict[str, int] = field(default_factory=dict)


def read_stream(limit: int) -> tuple[list[Invoice], dict[str, tuple[str, Decimal]]]:
    """Invoices in time order (cancellations and returns left out) and the products they name."""
    assert ORDER_SAMPLE is not None, "the order sample (../shared/data) is not on this machine"
    invoices: dict[str, Invoice] = {}
    products: dict[str, tuple[str, Decimal]] = {}
    with gzip.open(ORDER_SAMPLE, "rt", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            qty, price = int(row["Quantity"]), Decimal(row["UnitPrice"] or "0")
            if row["InvoiceNo"].startswith("C") or qty <= 0 or price <= 0:
                continue
            sku = row["StockCode"].strip().upper()
            if not SKU.fullmatch(sku) or sku in NOT_GOODS:  # postage, bank charges, manual lines: not stock
                continue
            products.setdefault(sku, ((row["Description"] or sku).strip()[:200] or sku, price))
            inv = invoices.get(row["InvoiceNo"])
            if inv is None:
                if len(invoices) >= limit:
                    continue
                customer = row["CustomerID"] or "guest"
                inv = invoices[row["InvoiceNo"]] = Invoice(
                    row["InvoiceNo"], datetime.fromisoformat(row["InvoiceDate"]).replace(tzinfo=UTC),
                    f"c{customer}@example.com")
            inv.lines[sku] = inv.lines.get(sku, 0) + qty
    stream = sorted(invoices.values(), key=lambda i: (i.at, i.number))
    used = {sku for inv in stream for sku in inv.lines}
    return stream, {sku: products[sku] for sku in used}


@dataclass
class Plan:
    stream: list[Invoice]
    products: dict[str, tuple[str, Decimal]]
    start_stock: dict[str, int]
    restocks: list[tuple[date, dict[str, int]]]  # restock POs by date


def plan(limit: int) -> Plan:
    stream, products = read_stream(limit)
    demand: dict[str, int] = defaultdict(int)
    for inv in stream:
        for sku, qty in inv.lines.items():
            demand[sku] += qty
    start = {sku: int(d * START_SHARE) for sku, d in demand.items()}
    first, last = stream[0].at.date(), stream[-1].at.date()
    count = max(1, (last - first).days // EVERY_DAYS)
    restocks = []
    total = {sku: round(d * RESTOCK_SHARE) for sku, d in demand.items()}
    for n in range(1, count + 1):
        # every SKU's restock spread over the POs without rounding any of it away: the n-th PO brings what
        # takes the running total from the (n-1)-th share to the n-th (a SKU that sells little restocks
        # rarely, but it restocks)
        lines = {sku: r * n // count - r * (n - 1) // count for sku, r in total.items()}
        restocks.append((first + timedelta(days=EVERY_DAYS * n), {sku: q for sku, q in lines.items() if q > 0}))
    return Plan(stream, products, start, restocks)


async def set_up(url: str, p: Plan) -> dict[date, str]:
    """Catalogue, starting stock and the restock purchase orders, written in-process (not measured)."""
    from domain.bus import InProcessBus
    from domain.clock import FixedClock
    from domain.services import BackorderDesk, LineRequest
    from domain.store import models as t
    from domain.store.db import open_database
    from domain.store.uow import TortoiseUnitOfWork

    async with open_database(url):
        now = p.stream[0].at
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), FixedClock(now - timedelta(days=1)))
        supplier = await desk.upsert_supplier(None, "Retail Supply Co", 7)
        await t.Product.bulk_create([
            t.Product(sku=sku, name=name, price=price, currency="GBP", backorder_policy="ALLOW", substitutes=[],
                      supplier_id=supplier.id, lead_time_days=7, created_at=now, updated_at=now, version=1)
            for sku, (name, price) in p.products.items()], batch_size=1000)
        await t.StockLevel.bulk_create([t.StockLevel(sku=sku, location="MAIN", on_hand=qty)
                                        for sku, qty in p.start_stock.items() if qty], batch_size=1000)
        pos = {}
        for due, lines in p.restocks:
            po = await desk.create_purchase_order(supplier.id, due, [LineRequest(s, q) for s, q in lines.items()])
            pos[due] = po.id
        return pos


async def replay_http(url: str, p: Plan, pos: dict[date, str]) -> dict[str, Any]:
    from domain.store.db import open_database
    from domain.store.tokens import create_token

    async with open_database(url):
        _, token = await create_token("replay", "agent")
    port = free_port()
    env = {**os.environ, "BACKORDER_DATABASE_URL": url, "BACKORDER_INPROCESS_WORKER": "0",
           "BACKORDER_ENV": "production"}
    server = subprocess.Popen([str(BIN), "serve", "--port", str(port)], env=env,  # noqa: ASYNC220
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/graphql"
    headers = {"Authorization": f"Bearer {token}"}
    placed: dict[str, datetime] = {}  # order id -> replay time
    receipts: list[tuple[datetime, date]] = []  # real time just after a receipt -> replay date
    backorders = 0
    try:
        async with httpx.AsyncClient(timeout=60, headers=headers) as http:
            await wait_up(f"http://127.0.0.1:{port}/healthz")
            due = sorted(pos)
            queue: asyncio.Queue[Invoice | None] = asyncio.Queue()

            async def client() -> None:
                nonlocal backorders
                while (inv := await queue.get()) is not None:
                    body = (await http.post(base, json={"query": PLACE, "variables": {"input": {
                        "customer": {"email": inv.customer}, "channel": "ONLINE", "idempotencyKey": inv.number,
                        "lines": [{"sku": s, "quantity": q} for s, q in inv.lines.items()]}}})).json()
                    assert "errors" not in body, body
                    payload = body["data"]["placeOrder"]
                    assert not payload["userErrors"], payload
                    placed[payload["order"]["id"]] = inv.at
                    backorders += len(payload["backorders"])

            ordering = receiving = 0.0
            for day, invoices in _by_day(p.stream):
                while due and due[0] <= day:  # the delivery arrives before the day's orders
                    po_id = _encode("PurchaseOrder", pos[due[0]])
                    with Timer() as took:
                        body = (await http.post(base, json={"query": RECEIVE_PO, "variables": {"id": po_id}})).json()
                    receiving += took.seconds
                    assert "errors" not in body and not body["data"]["receivePurchaseOrder"]["userErrors"], body
                    receipts.append((datetime.now(UTC), due.pop(0)))
                for inv in invoices:
                    queue.put_nowait(inv)
                for _ in range(CLIENTS):
                    queue.put_nowait(None)
                with Timer() as took:
                    await asyncio.gather(*(client() for _ in range(CLIENTS)))
                ordering += took.seconds
    finally:
        server.terminate()
        server.wait(10)
    return {"seconds": ordering, "receiving": receiving, "placed": placed, "receipts": receipts,
            "backorders": backorders}


async def replay_in_process(url: str, p: Plan) -> float:
    from domain.bus import InProcessBus
    from domain.model import Channel
    from domain.services import BackorderDesk, CustomerDetails, LineRequest
    from domain.store.db import open_database
    from domain.store.uow import TortoiseUnitOfWork

    async with open_database(url):
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()))
        with Timer() as timer:
            for inv in p.stream:
                await desk.place_order(CustomerDetails(inv.customer), Channel.ONLINE,
                                       [LineRequest(s, q) for s, q in inv.lines.items()], idempotency_key=inv.number)
    return timer.seconds


async def check(url: str, result: dict[str, Any], p: Plan) -> dict[str, float]:
    """The invariants in SQL, and the stream's figures."""
    from domain.store import models as t
    from domain.store.db import open_database

    async with open_database(url):
        db = t.Backorder._meta.db
        bad_stock = await db.execute_query_dict(
            'SELECT sku FROM "stock_levels" WHERE allocated < 0 OR allocated > on_hand OR on_hand < 0')
        assert not bad_stock, f"stock over-allocated or negative: {bad_stock[:5]}"
        bad = await db.execute_query_dict(
            'SELECT id FROM "backorders" WHERE NOT (0 <= shipped_quantity AND shipped_quantity <= allocated_quantity '
            "AND allocated_quantity <= quantity)")
        assert not bad, f"backorders out of bounds: {bad[:5]}"
        received = defaultdict(int, p.start_stock)
        for due, lines in p.restocks:
            if any(d == due for _, d in result["receipts"]):
                for sku, qty in lines.items():
                    received[sku] += qty
        on_hand = {r["sku"]: int(r["n"]) for r in await db.execute_query_dict(
            'SELECT sku, SUM(on_hand) AS n FROM "stock_levels" GROUP BY sku')}
        for sku, units in received.items():
            assert on_hand.get(sku, 0) == units, (sku, units, on_hand.get(sku))  # nothing shipped in the replay
        [line] = await db.execute_query_dict(
            'SELECT SUM(quantity) AS ordered, SUM(allocated_quantity) AS filled FROM "order_lines"')
        fill_rate = int(line["filled"]) / int(line["ordered"])
        done = await db.execute_query_dict(
            'SELECT b.order_id, h.at FROM "backorders" b JOIN "backorder_history" h ON h.backorder_id = b.id '
            "WHERE h.kind = 'STATUS' AND h.new_value = 'ALLOCATED'")
        waits = []
        for row in done:
            at = row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(row["at"])
            replay_day = next((d for real, d in result["receipts"] if real >= at), None)
            ordered_at = result["placed"].get(_encode("Order", row["order_id"]))
            if replay_day is not None and ordered_at is not None:
                waits.append((replay_day - ordered_at.date()).days)
        waiting = await t.Backorder.filter(status__in=["WAITING", "PARTIALLY_ALLOCATED"]).count()
    return {"fill_rate": fill_rate, "mean_wait": sum(waits) / len(waits) if waits else float("nan"),
            "served": len(waits), "still_waiting": waiting}


async def run(kind: str) -> None:
    p = plan(INVOICES)
    async with scratch_database(kind) as url:
        pos = await set_up(url, p)
        result = await replay_http(url, p, pos)
        figures = await check(url, result, p)
    async with scratch_database(kind) as url:
        await set_up(url, p)
        in_process = await replay_in_process(url, p)
    n = len(p.stream)
    lines = sum(len(i.lines) for i in p.stream)
    span = f"{p.stream[0].at:%Y-%m-%d} to {p.stream[-1].at:%Y-%m-%d}"
    report(Figure("order_stream", f"orders/s over GraphQL ({kind}, {CLIENTS} clients)", n / result["seconds"],
                  "orders/s", baseline=n / in_process, baseline_name="in-process place_order",
                  note=f"{n:,} invoices, {lines:,} lines, {len(p.products):,} SKUs, {span}, "
                       f"{len(result['receipts'])} POs received in {result['receiving']:.1f} s, not counted"))
    report(Figure("order_stream", f"backorders created ({kind})", result["backorders"], "backorders",
                  note=f"{figures['still_waiting']:,} still waiting at the end; invariants hold"))
    report(Figure("order_stream", f"fill rate at placement ({kind})", figures["fill_rate"] * 100, "%",
                  note=f"starting stock {START_SHARE:.0%} of demand, POs every {EVERY_DAYS} days {RESTOCK_SHARE:.0%}"))
    report(Figure("order_stream", f"mean wait, order to fully allocated ({kind})", figures["mean_wait"], "days",
                  note=f"replay days, over {figures['served']:,} backorders served"))


PLACE = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id } backorders { id } userErrors { code message } } }"""
RECEIVE_PO = """mutation($id: ID!) { receivePurchaseOrder(input: {id: $id}) {
  purchaseOrder { status } userErrors { code message } } }"""


def _by_day(stream: list[Invoice]) -> list[tuple[date, list[Invoice]]]:
    days: dict[date, list[Invoice]] = defaultdict(list)
    for inv in stream:
        days[inv.at.date()].append(inv)
    return sorted(days.items())


def _encode(kind: str, key: str) -> str:
    import base64

    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


if __name__ == "__main__":
    per_dialect(sys.argv[1:] or ["sqlite"], run)
