"""The portal's main query: a customer's orders with lines, backorders, ETAs, history and substitutes.

Throughput at 32 concurrent clients of the portal's own `Orders` document (frontend/portal.js) through
GraphQL, signed in as the customer with a real session cookie, against the floor of the stack: a
hand-written Starlette endpoint in its own uvicorn process that reads the same rows with plain SQL and
returns the same JSON shape. Both serve from the same SQLite file, one process each. Target (issue 5):
GraphQL at >= 40% of the floor.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench.common import QUICK, Figure, free_port, report, scratch_database, wait_up

CLIENTS = 32
SECONDS = 3.0 if QUICK else 10.0
CUSTOMER = "ann.baker@example.com"
BIN = Path(sys.executable).parent / "backorder"
PORTAL_JS = Path(__file__).resolve().parent.parent / "frontend" / "portal.js"


def portal_document() -> str:
    """The `Orders` query exactly as the portal sends it."""
    source = PORTAL_JS.read_text()
    fields = re.search(r"const BACKORDER_FIELDS = `(.*?)`;", source, re.S)
    query = re.search(r"const ORDERS_QUERY = `(.*?)`;", source, re.S)
    assert fields and query, "portal.js no longer defines BACKORDER_FIELDS / ORDERS_QUERY"
    return query.group(1).replace("${BACKORDER_FIELDS}", fields.group(1))


async def set_up(url: str) -> None:
    """200 products with substitutes, POs, and a customer with 10 orders of 3 lines, most backordered."""
    from domain.bus import InProcessBus
    from domain.clock import FixedClock
    from domain.model import Channel
    from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
    from domain.store.db import open_database
    from domain.store.uow import TortoiseUnitOfWork

    async with open_database(url):
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()),
                             FixedClock(datetime.now(UTC) - timedelta(days=1)))
        supplier = await desk.upsert_supplier(None, "Acme", 14)
        for with_substitutes in (False, True):  # substitutes must exist before they are named
            for n in range(200):
                subs = tuple(f"P{(n + k) % 200:03d}" for k in (1, 2)) if with_substitutes else ()
                await desk.upsert_product(ProductInput(sku=f"P{n:03d}", name=f"Product {n}",
                                                       price=Decimal("9.99") + n, substitutes=subs,
                                                       supplier_id=supplier.id))
        for n in range(200):
            await desk.receive_stock(f"P{n:03d}", 2 if n % 3 else 40)
        for n in range(0, 200, 10):
            await desk.create_purchase_order(supplier.id, date.today() + timedelta(days=10 + n // 10),
                                             [LineRequest(f"P{n + k:03d}", 3) for k in range(5)])
        for other in range(20):  # other customers ahead in the queues
            await desk.place_order(CustomerDetails(f"other{other}@example.com"), Channel.ONLINE,
                                   [LineRequest(f"P{(other * 7 + k) % 200:03d}", 3) for k in range(3)])
        for n in range(10):
            await desk.place_order(CustomerDetails(CUSTOMER, "Ann Baker"), Channel.ONLINE,
                                   [LineRequest(f"P{(n * 13 + k * 5) % 200:03d}", 4) for k in range(3)])


# -- the floor: the same rows and shape, by hand -----------------------------------------------------
def floor_app(url: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from domain.store import models as t
    from domain.store.db import open_database

    async def orders(request: Request) -> Response:
        email = request.query_params["email"]
        db = t.Order._meta.db
        rows = await db.execute_query_dict(
            'SELECT id, number, placed_at, channel, ship_complete FROM "orders" WHERE customer_email = ? '
            "ORDER BY id DESC LIMIT 100", [email])
        ids = [r["id"] for r in rows]
        marks = ", ".join("?" * len(ids)) or "NULL"
        lines = await db.execute_query_dict(
            f'SELECT * FROM "order_lines" WHERE order_id IN ({marks}) ORDER BY position', ids)
        skus = sorted({line["sku"] for line in lines})
        bo_ids = [line["backorder_id"] for line in lines if line["backorder_id"]]
        backorders = {b["id"]: b for b in await db.execute_query_dict(
            f'SELECT * FROM "backorders" WHERE id IN ({", ".join("?" * len(bo_ids)) or "NULL"})', bo_ids)}
        history: dict[str, list[dict[str, Any]]] = {}
        for h in await db.execute_query_dict(
                f'SELECT * FROM "backorder_history" WHERE backorder_id IN ({", ".join("?" * len(bo_ids)) or "NULL"}) '
                "ORDER BY id", bo_ids):
            history.setdefault(h["backorder_id"], []).append(
                {"at": h["at"], "kind": h["kind"], "oldValue": h["old_value"], "newValue": h["new_value"],
                 "cause": h["cause"]})
        sku_marks = ", ".join("?" * len(skus)) or "NULL"
        products = {p["sku"]: p for p in await db.execute_query_dict(
            f'SELECT sku, name, price, currency, substitutes FROM "products" WHERE sku IN ({sku_marks})', skus)}
        subs = sorted({s for p in products.values() for s in json.loads(p["substitutes"] or "[]")})
        sub_products = {p["sku"]: p for p in await db.execute_query_dict(
            f'SELECT sku, name, price, currency FROM "products" WHERE sku IN ({", ".join("?" * len(subs)) or "NULL"})',
            subs)}
        free = {s["sku"]: int(s["free"]) for s in await db.execute_query_dict(
            "SELECT sku, SUM(MAX(on_hand - allocated - safety_stock, 0)) AS free FROM \"stock_levels\" "
            f'WHERE sku IN ({", ".join("?" * len(subs)) or "NULL"}) GROUP BY sku', subs)}

        def backorder(b: dict[str, Any]) -> dict[str, Any]:
            price = Decimal(str(products[b["sku"]]["price"]))
            return {"id": b["id"], "status": b["status"], "quantity": b["quantity"],
                    "backorderedQuantity": b["quantity"] - b["allocated_quantity"],
                    "allocatedQuantity": b["allocated_quantity"], "shippedQuantity": b["shipped_quantity"],
                    "cancelledQuantity": b["cancelled_quantity"], "substitutedQuantity": b["substituted_quantity"],
                    "queuePosition": b["queue_position"],
                    "eta": {"date": b["eta_date"], "confidence": b["eta_confidence"], "source": b["eta_source"]},
                    "history": history.get(b["id"], []),
                    "substitutes": [
                        {"product": {"sku": s, "name": sub_products[s]["name"],
                                     "price": {"amount": str(sub_products[s]["price"]), "currency": "GBP"}},
                         "availableQuantity": free.get(s, 0), "available": free.get(s, 0) > 0,
                         "priceDifference": {"amount": str(Decimal(str(sub_products[s]["price"])) - price),
                                             "currency": "GBP"}}
                        for s in json.loads(products[b["sku"]]["substitutes"] or "[]") if s in sub_products]}

        by_order: dict[str, list[dict[str, Any]]] = {}
        totals: dict[str, Decimal] = {}
        for line in lines:
            b = backorders.get(line["backorder_id"]) if line["backorder_id"] else None
            left = b["cancelled_quantity"] + b["substituted_quantity"] if b else 0
            line_total = Decimal(str(line["unit_price"])) * (line["quantity"] - left)
            totals[line["order_id"]] = totals.get(line["order_id"], Decimal(0)) + line_total
            by_order.setdefault(line["order_id"], []).append({
                "id": line["id"], "sku": line["sku"], "quantity": line["quantity"],
                "allocatedQuantity": line["allocated_quantity"], "shippedQuantity": line["shipped_quantity"],
                "unitPrice": {"amount": str(line["unit_price"]), "currency": line["currency"]},
                "lineTotal": {"amount": str(line_total), "currency": line["currency"]},
                "product": {"name": products[line["sku"]]["name"]}, "substituteFor": None,
                "backorder": backorder(b) if b else None})
        body = {"data": {"orders": {"nodes": [
            {"id": r["id"], "number": r["number"], "placedAt": r["placed_at"], "channel": r["channel"],
             "shipComplete": bool(r["ship_complete"]), "lines": by_order.get(r["id"], []),
             "total": {"amount": str(totals.get(r["id"], Decimal(0))), "currency": "GBP"}} for r in rows]}}}
        return Response(json.dumps(body, default=str), media_type="application/json")

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        async with open_database(url, apply_migrations=False, global_fallback=True):  # seen by requests
            yield

    return Starlette(routes=[Route("/orders", orders)], lifespan=lifespan)


async def hammer(send: Any, seconds: float) -> tuple[float, int]:
    """Requests/s from CLIENTS concurrent clients, each sending its next request when the last is answered."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await send()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return done / (time.perf_counter() - started), done


async def main() -> None:
    from domain.store.db import open_database
    from domain.store.tokens import create_token

    async with scratch_database("sqlite") as url:
        await set_up(url)
        async with open_database(url):
            _, token = await create_token("bench", "agent")
        gql_port, floor_port = free_port(), free_port()
        env = {**os.environ, "BACKORDER_DATABASE_URL": url, "BACKORDER_INPROCESS_WORKER": "0",
               "BACKORDER_PUBLIC_URL": f"http://127.0.0.1:{gql_port}"}
        servers = [
            subprocess.Popen([str(BIN), "serve", "--port", str(gql_port)], env=env,  # noqa: ASYNC220
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            subprocess.Popen([sys.executable, "-m", "bench.portal_query", "--floor", str(floor_port), url],  # noqa: ASYNC220
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        ]
        try:
            base = f"http://127.0.0.1:{gql_port}"
            limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
            async with httpx.AsyncClient(limits=limits, timeout=30) as http:
                await wait_up(f"{base}/healthz")
                await wait_up(f"http://127.0.0.1:{floor_port}/orders?email=x")
                link = (await http.post(f"{base}/graphql", headers={"Authorization": f"Bearer {token}"}, json={
                    "query": "mutation($e: String!) { customerPortalLink(input: {email: $e}) { url } }",
                    "variables": {"e": CUSTOMER}})).json()["data"]["customerPortalLink"]["url"]
                signed_in = await http.post(f"{base}/graphql", headers={"Origin": base}, json={
                    "query": "mutation($t: String!) { redeemPortalLink(input: {token: $t}) { userErrors { code } } }",
                    "variables": {"t": link.split("token=", 1)[1]}})
                assert signed_in.json()["data"]["redeemPortalLink"]["userErrors"] == [], signed_in.text
                document = {"query": portal_document()}
                headers = {"Origin": base}
                sample = (await http.post(f"{base}/graphql", json=document, headers=headers)).json()
                assert "errors" not in sample, sample
                orders = sample["data"]["orders"]["nodes"]
                backordered = sum(1 for o in orders for line in o["lines"] if line["backorder"])
                assert len(orders) == 10 and backordered > 10, (len(orders), backordered)
                floor_url = f"http://127.0.0.1:{floor_port}/orders?email={CUSTOMER}"
                floor_sample = (await http.get(floor_url)).json()
                assert len(floor_sample["data"]["orders"]["nodes"]) == 10

                async def graphql() -> None:
                    r = await http.post(f"{base}/graphql", json=document, headers=headers)
                    assert r.status_code == 200

                async def floor() -> None:
                    r = await http.get(floor_url)
                    assert r.status_code == 200

                await hammer(graphql, 1.0)  # warm both up
                await hammer(floor, 1.0)
                floor_rps, _ = await hammer(floor, SECONDS)
                gql_rps, _ = await hammer(graphql, SECONDS)
        finally:
            for server in servers:
                server.terminate()
                server.wait(10)
    ratio = gql_rps / floor_rps
    report(Figure("portal_query", f"customer's orders, GraphQL ({CLIENTS} clients)", gql_rps, "req/s",
                  baseline=floor_rps, baseline_name="hand-written Starlette+SQL", target=">= 40% of the floor",
                  met=ratio >= 0.4,
                  note=f"10 orders, 30 lines, {backordered} backorders with history and substitutes; "
                       f"{len(json.dumps(sample)):,} B; one process each, SQLite"))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--floor"]:
        import uvicorn

        uvicorn.run(floor_app(sys.argv[3]), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
    else:
        asyncio.run(main())
