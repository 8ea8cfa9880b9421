"""The floor of bench/portal_query.py: a hand-written Starlette endpoint doing the portal `Orders` query's
work by plain SQL and returning the same JSON as the GraphQL path (the bench checks the two byte for byte).
Run in its own uvicorn process by that bench: `python -m bench.portal_floor PORT DATABASE_URL`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, date, datetime
from datetime import time as dt_time
from decimal import Decimal
from typing import Any


# -- the floor: the same work and the same answer, by hand ---------------------------------------
# What the portal's page costs the server at least: the session check (the cookie's hash looked up, open and
# not expired), the customer's name and preferences (their language), the customer's orders with lines,
# backorders, history and substitutes read with plain SQL, every sentence worded in the customer's language
# (history causes and the queue explanation, with the count of orders placed before each backorder), the goodwill
# agents gave for the wait, and the same JSON the GraphQL path returns (the bench checks the two answers are
# equal), without a type system, permission checks, validation or DataLoaders.
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
        goodwill: dict[str, list[dict[str, Any]]] = {}  # what agents gave for the wait: the customer sees no note
        for g in await db.execute_query_dict(
                'SELECT id, backorder_id, credit_amount, credit_currency, discount_code FROM "goodwill" '
                f"WHERE backorder_id IN ({marks(bo_ids)}) ORDER BY at, id", bo_ids):
            credit = g["credit_amount"]
            goodwill.setdefault(g["backorder_id"], []).append({
                "id": encode_id("Goodwill", g["id"]),
                "credit": {"amount": str(Decimal(str(credit)).quantize(cents)), "currency": g["credit_currency"]}
                if credit is not None else None,
                "discountCode": g["discount_code"]})
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
                    position, placed_before.get(b["id"], 0) == position - 1,
                    fair_share=product["allocation_policy"] == "FAIR_SHARE", language=language)
            return {"id": encode_id("Backorder", b["id"]), "status": b["status"], "quantity": b["quantity"],
                    "backorderedQuantity": waiting, "allocatedQuantity": b["allocated_quantity"],
                    "shippedQuantity": b["shipped_quantity"], "cancelledQuantity": b["cancelled_quantity"],
                    "substitutedQuantity": b["substituted_quantity"], "queuePosition": position,
                    "queueExplanation": explanation,
                    "preferences": {"cancelIfNotBy": day(b["cancel_if_not_by"]),
                                    "substitutes": b["substitute_consent"]},
                    "eta": {"date": str(b["eta_date"]), "confidence": b["eta_confidence"], "source": b["eta_source"]}
                    if b["eta_date"] is not None and active else None,
                    "history": history.get(b["id"], []), "goodwill": goodwill.get(b["id"], []),
                    "substitutes": options}

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


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(floor_app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
