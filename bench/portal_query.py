"""The portal's main query: a customer's orders with lines, backorders, ETAs, history and substitutes.

Throughput at 32 concurrent connections of the portal's own `Orders` document (frontend/portal/documents.js) through
GraphQL, signed in as the customer with a real session cookie, against the floor of the stack: a
hand-written Starlette endpoint in its own uvicorn process that does the same work (session check, the
customer's name and preferences, the same rows by plain SQL, every sentence worded in the customer's
language) and returns the same JSON, which the bench checks byte for byte before timing. Both serve from the
same SQLite file, one process each. The load comes from `wrk` (Debian's package; installed with apt when
missing), not from Python on the same two cores. BENCH_ROUNDS (default 3) interleaved rounds of floor then
GraphQL; the figure is the round with the median ratio, the spread of ratios beside it.
Target (issue 15): GraphQL at >= 40% of the floor.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench.common import QUICK, Figure, free_port, report, scratch_database, wait_up

CLIENTS = 32
SECONDS = 3.0 if QUICK else 10.0
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CUSTOMER = "ann.baker@example.com"
BIN = Path(sys.executable).parent / "backorder"
PORTAL_JS = Path(__file__).resolve().parent.parent / "frontend" / "portal" / "documents.js"


def portal_document() -> str:
    """The `Orders` query exactly as the portal sends it."""
    source = PORTAL_JS.read_text()
    fields = re.search(r"const BACKORDER_FIELDS = `(.*?)`;", source, re.S)
    query = re.search(r"const ORDERS_QUERY = `(.*?)`;", source, re.S)
    assert fields and query, "portal/documents.js no longer defines BACKORDER_FIELDS / ORDERS_QUERY"
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


# -- the floor: the same work and the same answer, by hand ---------------------------------------
# What the portal's page costs the server at least: the session check (the cookie's hash looked up, open and
# not expired), the customer's name and preferences (their language), the customer's orders with lines,
# backorders, history and substitutes read with plain SQL, every sentence worded in the customer's language
# (history causes and the queue explanation, with the count of orders placed before each backorder), and the
# same JSON the GraphQL path returns (the bench checks the two answers are equal), without a type system,
# permission checks, validation or DataLoaders.
def floor_app(url: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from api.ids import encode_id
    from domain.customers import SUPPORTED_LANGUAGES
    from domain.store import models as t
    from domain.store.db import open_database
    from domain.store.mapping import as_datetime, history_cause
    from notifications import wording

    cents = Decimal("0.01")

    def when(value: Any) -> str:
        return as_datetime(value).isoformat()

    def day(value: Any) -> str | None:
        return None if value is None else str(value)

    def clock(value: Any) -> str | None:
        return None if value is None else dt_time.fromisoformat(str(value)).isoformat()

    async def orders(request: Request) -> Response:
        db = t.Order._meta.db

        def marks(values: list[Any]) -> str:
            return ", ".join("?" * len(values)) or "NULL"

        token = request.cookies.get("bd_session", "")
        sessions = await db.execute_query_dict(
            'SELECT email, order_id FROM "portal_sessions" WHERE token_hash = ? AND ended_at IS NULL '
            "AND expires_at > ?", [hashlib.sha256(token.encode()).hexdigest(), datetime.now(UTC)])
        if not sessions or sessions[0]["order_id"] is not None:
            return Response("sign in", status_code=401)
        email = sessions[0]["email"]
        account = (await db.execute_query_dict(
            'SELECT c.name AS name, p.by_email AS by_email, p.by_sms AS by_sms, p.phone AS phone, '
            "p.quiet_hours_start AS quiet_hours_start, p.quiet_hours_end AS quiet_hours_end, "
            "p.timezone AS timezone, p.language AS language, p.cancel_if_not_by AS cancel_if_not_by, "
            'p.substitute_consent AS substitute_consent FROM "customers" c '
            'LEFT JOIN "customer_preferences" p ON p.email = c.email WHERE c.email = ?', [email]))[0]
        language = account["language"] or "en"
        sms_stopped = bool(account["phone"]) and bool(await db.execute_query_dict(
            'SELECT 1 FROM "sms_consent" WHERE phone = ? AND opted_out', [account["phone"]]))
        rows = await db.execute_query_dict(
            'SELECT id, number, placed_at, channel, ship_complete FROM "orders" WHERE customer_email = ? '
            "ORDER BY id DESC LIMIT 100", [email])
        ids = [r["id"] for r in rows]
        lines = await db.execute_query_dict(
            f'SELECT * FROM "order_lines" WHERE order_id IN ({marks(ids)}) ORDER BY order_id, position', ids)
        skus = sorted({line["sku"] for line in lines})
        bo_ids = [line["backorder_id"] for line in lines if line["backorder_id"]]
        backorders = {b["id"]: b for b in await db.execute_query_dict(
            f'SELECT * FROM "backorders" WHERE id IN ({marks(bo_ids)})', bo_ids)}
        history: dict[str, list[dict[str, Any]]] = {}
        for h in await db.execute_query_dict(
                f'SELECT * FROM "backorder_history" WHERE backorder_id IN ({marks(bo_ids)}) ORDER BY id', bo_ids):
            if h["kind"] in wording.CUSTOMER_HISTORY_KINDS:
                history.setdefault(h["backorder_id"], []).append(
                    {"at": when(h["at"]), "kind": h["kind"], "oldValue": h["old_value"], "newValue": h["new_value"],
                     "cause": wording.customer_cause(h["kind"], history_cause(h["cause"], h["cause_data"]),
                                                     language)})
        placed_before = {r["id"]: int(r["n"]) for r in await db.execute_query_dict(
            'SELECT b.id AS id, COUNT(o.id) AS n FROM "backorders" b LEFT JOIN "backorders" o ON o.sku = b.sku '
            "AND o.queue_position IS NOT NULL AND o.queue_position < b.queue_position AND o.ordered_at < b.ordered_at "
            f"WHERE b.queue_position IS NOT NULL AND b.id IN ({marks(bo_ids)}) GROUP BY b.id", bo_ids)}
        products = {p["sku"]: p for p in await db.execute_query_dict(
            'SELECT sku, name, price, currency, substitutes, allocation_policy, release_date FROM "products" '
            f"WHERE sku IN ({marks(skus)})", skus)}
        subs = sorted({s for p in products.values() for s in json.loads(p["substitutes"] or "[]")})
        sub_products = {p["sku"]: p for p in await db.execute_query_dict(
            f'SELECT sku, name, price, currency, backorder_policy, release_date FROM "products" '
            f'WHERE sku IN ({marks(subs)})', subs)}
        free: dict[str, int] = {}
        for s in await db.execute_query_dict(
                f'SELECT sku, on_hand, allocated, safety_stock FROM "stock_levels" WHERE sku IN ({marks(subs)})', subs):
            free[s["sku"]] = free.get(s["sku"], 0) + max(s["on_hand"] - s["allocated"] - s["safety_stock"], 0)
        today = date.today().isoformat()

        def price(p: dict[str, Any]) -> Decimal:
            return Decimal(str(p["price"])).quantize(cents)

        def backorder(b: dict[str, Any], line: dict[str, Any]) -> dict[str, Any]:
            product = products[b["sku"]]
            active = b["status"] in ("WAITING", "PARTIALLY_ALLOCATED")
            waiting = b["quantity"] - b["allocated_quantity"]
            position = b["queue_position"] if active else None
            options = []
            # the customer's consent and the ones they declined decide what is offered; prices are compared with
            # what they pay for the line (all in one currency here: no exchange rate to read)
            declined = set(json.loads(b["declined_substitutes"] or "[]"))
            listed = [] if b["substitute_consent"] == "NEVER" else json.loads(product["substitutes"] or "[]")
            ordered = Decimal(str(line["unit_price"])).quantize(cents)
            for s in listed:
                if s not in sub_products or s in declined:
                    continue
                sub = sub_products[s]
                assert sub["currency"] == line["currency"], "the bench's shop sells in one currency"
                preorder = (sub["backorder_policy"] == "PREORDER" and sub["release_date"] is not None
                            and str(sub["release_date"]) > today)
                options.append({
                    "product": {"sku": s, "name": sub["name"],
                                "price": {"amount": str(price(sub)), "currency": sub["currency"]}},
                    "available": active and free.get(s, 0) >= max(1, waiting) and not preorder,
                    "priceDifference": {"amount": str(price(sub) - ordered), "currency": line["currency"]},
                    "exchangeRate": None})
            options.sort(key=lambda o: not o["available"])
            explanation = None
            if active and position is not None:
                explanation = wording.queue_explanation(
                    position, placed_before.get(b["id"], 0), fair_share=product["allocation_policy"] == "FAIR_SHARE",
                    language=language)
            return {"id": encode_id("Backorder", b["id"]), "status": b["status"], "quantity": b["quantity"],
                    "backorderedQuantity": waiting, "allocatedQuantity": b["allocated_quantity"],
                    "shippedQuantity": b["shipped_quantity"], "cancelledQuantity": b["cancelled_quantity"],
                    "substitutedQuantity": b["substituted_quantity"], "queuePosition": position,
                    "queueExplanation": explanation,
                    "preferences": {"cancelIfNotBy": day(b["cancel_if_not_by"]),
                                    "substitutes": b["substitute_consent"]},
                    "eta": {"date": str(b["eta_date"]), "confidence": b["eta_confidence"], "source": b["eta_source"]}
                    if b["eta_date"] is not None and active else None,
                    "history": history.get(b["id"], []), "substitutes": options}

        by_order: dict[str, list[dict[str, Any]]] = {}
        totals: dict[str, Decimal] = {}
        currencies: dict[str, set[str]] = {}
        for line in lines:
            b = backorders.get(line["backorder_id"]) if line["backorder_id"] else None
            left = b["cancelled_quantity"] + b["substituted_quantity"] if b else 0
            unit_price = Decimal(str(line["unit_price"])).quantize(cents)
            line_total = (unit_price * (line["quantity"] - left)).quantize(cents)
            totals[line["order_id"]] = totals.get(line["order_id"], Decimal("0.00")) + line_total
            currencies.setdefault(line["order_id"], set()).add(line["currency"])
            by_order.setdefault(line["order_id"], []).append({
                "id": encode_id("OrderLine", line["id"]), "sku": line["sku"], "quantity": line["quantity"],
                "allocatedQuantity": line["allocated_quantity"], "shippedQuantity": line["shipped_quantity"],
                "unitPrice": {"amount": str(unit_price), "currency": line["currency"]},
                "lineTotal": {"amount": str(line_total), "currency": line["currency"]},
                "product": {"name": products[line["sku"]]["name"]}, "substituteFor": None,
                "backorder": backorder(b, line) if b else None})
        body = {"data": {
            "viewer": {"role": "customer", "name": email, "customerEmail": email, "orderOnly": False},
            "myAccount": {"email": email, "name": account["name"], "preferences": {
                "byEmail": bool(account["by_email"]), "bySms": bool(account["by_sms"]), "smsStopped": sms_stopped,
                "phone": account["phone"], "quietHoursStart": clock(account["quiet_hours_start"]),
                "quietHoursEnd": clock(account["quiet_hours_end"]), "timezone": account["timezone"],
                "language": language, "cancelIfNotBy": day(account["cancel_if_not_by"]),
                "substitutes": account["substitute_consent"] or "ASK"}},
            "orders": {"nodes": [
                {"id": encode_id("Order", r["id"]), "number": r["number"], "placedAt": when(r["placed_at"]),
                 "channel": r["channel"], "shipComplete": bool(r["ship_complete"]),
                 "total": {"amount": str(totals[r["id"]]), "currency": currencies[r["id"]].pop()}
                 if len(currencies.get(r["id"], ())) == 1 else None,
                 "lines": by_order.get(r["id"], [])} for r in rows]},
            "supportedLanguages": list(SUPPORTED_LANGUAGES)}}
        return Response(json.dumps(body), media_type="application/json")

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        async with open_database(url, apply_migrations=False, global_fallback=True):  # seen by requests
            yield

    return Starlette(routes=[Route("/orders", orders)], lifespan=lifespan)


def wrk_binary() -> str | None:
    """Debian's `wrk` (an event-driven load generator in C: it is not the bottleneck, as a Python client on the
    same two cores was), installed with apt when missing and allowed (root); None if it cannot be had."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("installing wrk (apt-get install wrk) ...", flush=True)
    for command in (["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=300", "wrk"],
                    ["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=300", "wrk"]):
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # noqa: ASYNC221
        if command[1] == "install" and done.returncode == 0:
            break
        if done.returncode != 0:
            print(f"  {' '.join(command[:3])}: {done.stderr.strip()[-300:]}", flush=True)
    return shutil.which("wrk")


def run_wrk(wrk: str, url: str, seconds: float, *, method: str = "GET", body: str = "",
            headers: dict[str, str]) -> float:
    """Requests/s of CLIENTS connections for `seconds` (one wrk thread: the server, not wrk, is the limit);
    every answer must be a 2xx."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f"wrk.method = {json.dumps(method)}\nwrk.body = {json.dumps(body)}\n")
        for name, value in headers.items():
            script.write(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n")
    try:
        out = subprocess.run([wrk, "-t1", f"-c{CLIENTS}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",  # noqa: ASYNC221
                              "-s", script.name, url], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(script.name)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or errors:
        raise RuntimeError(f"wrk saw failures against {url}:\n{out}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert found, out
    return float(found.group(1))


async def hammer(send: Any, seconds: float) -> float:
    """Requests/s from CLIENTS concurrent httpx clients (when wrk cannot be had): each sends its next request
    when the last is answered. The client shares the two cores with the servers, so it weighs on both."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await send()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return done / (time.perf_counter() - started)


def uptime() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 1)[0]


async def main() -> None:
    from domain.customers import NotificationPreferences
    from domain.store.db import open_database
    from domain.store.portal import save_preferences
    from domain.store.tokens import create_token

    wrk = wrk_binary()
    async with scratch_database("sqlite") as url:
        await set_up(url)
        async with open_database(url):
            _, token = await create_token("bench", "agent")
            await save_preferences(NotificationPreferences(email=CUSTOMER, language="fr"))  # wording is translated
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
            floor_url = f"http://127.0.0.1:{floor_port}/orders"
            limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
            async with httpx.AsyncClient(limits=limits, timeout=30) as http:
                await wait_up(f"{base}/healthz")
                await wait_up(f"http://127.0.0.1:{floor_port}/orders?up=1", ok=(200, 401))
                link = (await http.post(f"{base}/graphql", headers={"Authorization": f"Bearer {token}"}, json={
                    "query": "mutation($e: String!) { customerPortalLink(input: {email: $e}) { url } }",
                    "variables": {"e": CUSTOMER}})).json()["data"]["customerPortalLink"]["url"]
                signed_in = await http.post(f"{base}/graphql", headers={"Origin": base}, json={
                    "query": "mutation($t: String!) { redeemPortalLink(input: {token: $t}) { userErrors { code } } }",
                    "variables": {"t": link.split("token=", 1)[1]}})
                assert signed_in.json()["data"]["redeemPortalLink"]["userErrors"] == [], signed_in.text
                cookie = f"bd_session={signed_in.cookies['bd_session']}"
                http.cookies.clear()
                document = json.dumps({"query": portal_document()})
                headers = {"Origin": base, "Cookie": cookie, "Content-Type": "application/json"}
                sample = (await http.post(f"{base}/graphql", content=document, headers=headers)).json()
                assert "errors" not in sample, sample
                orders = sample["data"]["orders"]["nodes"]
                backordered = sum(1 for o in orders for line in o["lines"] if line["backorder"])
                assert len(orders) == 10 and backordered > 10, (len(orders), backordered)
                floor_sample = (await http.get(floor_url, headers={"Cookie": cookie})).json()
                # the floor does the same work: it must give the same answer, sentence for sentence
                assert floor_sample == sample, first_difference(floor_sample, sample)
                assert (await http.get(floor_url)).status_code == 401  # and it checks the session

                async def graphql_rps(seconds: float) -> float:
                    if wrk:
                        return run_wrk(wrk, f"{base}/graphql", seconds, method="POST", body=document, headers=headers)

                    async def send() -> None:
                        r = await http.post(f"{base}/graphql", content=document, headers=headers)
                        assert r.status_code == 200

                    return await hammer(send, seconds)

                async def floor_rps(seconds: float) -> float:
                    if wrk:
                        return run_wrk(wrk, floor_url, seconds, headers={"Cookie": cookie})

                    async def send() -> None:
                        assert (await http.get(floor_url, headers={"Cookie": cookie})).status_code == 200

                    return await hammer(send, seconds)

                await graphql_rps(1.0)  # warm both up
                await floor_rps(1.0)
                rounds = []  # interleaved, so a change of the machine's load falls on both
                for _ in range(ROUNDS):
                    load = uptime()
                    floor_value = await floor_rps(SECONDS)
                    gql_value = await graphql_rps(SECONDS)
                    rounds.append((gql_value / floor_value, gql_value, floor_value, load))
                    print(f"  round: GraphQL {gql_value:.1f} req/s, floor {floor_value:.1f} req/s, "
                          f"{gql_value / floor_value:.3f}x (load {load})", flush=True)
        finally:
            for server in servers:
                server.terminate()
                server.wait(10)
    ratios = sorted(r[0] for r in rounds)
    ratio, gql, floor, _ = statistics.median_low(rounds)
    report(Figure("portal_query", f"customer's orders, GraphQL ({CLIENTS} clients)", gql, "req/s",
                  baseline=floor, baseline_name="hand-written Starlette+SQL, same work", target=">= 40% of the floor",
                  met=ratio >= 0.4,
                  note=f"round of the median ratio of {len(rounds)} interleaved rounds of {SECONDS:.0f} s "
                       f"(ratios {ratios[0]:.3f}-{ratios[-1]:.3f}; load {', '.join(r[3] for r in rounds)}); "
                       f"load generator: {'wrk' if wrk else 'httpx in this process (wrk could not be installed)'}; "
                       f"10 orders, 30 lines, {backordered} backorders with history and substitutes, worded in "
                       f"French; {len(json.dumps(sample)):,} B; one process each, SQLite"))


def first_difference(a: Any, b: Any, path: str = "") -> str:
    """Where two JSON values first differ (for the floor's and GraphQL's answers)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key, "<absent>") != b.get(key, "<absent>"):
                return first_difference(a.get(key, "<absent>"), b.get(key, "<absent>"), f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return first_difference(x, y, f"{path}[{n}]")
    return f"{path}: floor {json.dumps(a)[:300]} != GraphQL {json.dumps(b)[:300]}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--floor"]:
        import uvicorn

        uvicorn.run(floor_app(sys.argv[3]), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
    else:
        asyncio.run(main())
