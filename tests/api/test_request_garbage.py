"""A request's objects are freed when it ends, by reference counting: none of the server's objects waits for the
cyclic garbage collector. graphql-core's executor keeps its own bound methods (its async helpers), a cycle through
the request's whole answer (the context, its loaders, every row they hold): each request's objects waited for a
collection, and under load (32 connections) the collections took a seventh of the portal query's CPU
(bench/portal_query.py). Each document runs with the collector off and keeping what it finds; the server's
objects among that garbage must be none, whoever reads and whichever way the document is executed. An answer with
errors is left out: an error keeps its traceback (the log of a server fault prints it), and a traceback's frames
hold the executor that holds the error, as any Python exception caught and kept does.

On PostgreSQL the pool's idle connections keep no timer here (`max_inactive_connection_lifetime=0`): asyncpg's timer
keeps the context it was set in, where the request's transaction wrapper is, for minutes; a cycle through the
wrapper (a closure set on it, 52e97cd..c0081f2) then showed up only when the loop happened to drop the timer during
the request: 1 run in 6, and CI's.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.store.db import is_postgres
from tests.api import support as s
from tests.api.customer_sessions import Customer

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
# where the server's objects come from (the test's own client, httpx, leaves cycles of its own: not counted)
SERVER_PACKAGES = {"api", "domain", "notifications", "graphql", "strawberry", "starlette", "uvicorn", "tortoise"}
PLACE = """mutation($email: String!) { placeOrder(input: {customer: {email: $email}, channel: ONLINE,
  lines: [{sku: "MUG", quantity: 1}]}) { order { id lines { backorder { id queuePosition } } }
  userErrors { code } } }"""


@pytest.fixture
def db_url(db_url: str) -> str:
    return db_url + ("?max_inactive_connection_lifetime=0" if is_postgres(db_url) else "")


def _documents(path: Path) -> dict[str, str]:
    """The `export const NAME = \\`...\\`` queries of a frontend module, `${OTHER}` written out."""
    raw: dict[str, str] = dict(re.findall(r"export const (\w+) = `(.*?)`;", path.read_text(), re.S))

    def written_out(text: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: written_out(raw[m.group(1)]), text)

    return {name: written_out(text) for name, text in raw.items() if text.lstrip().startswith("query")}


@contextmanager
def server_garbage() -> Iterator[list[str]]:
    """The kinds of the server's objects that, of what ran in the block, only the cyclic collector could free."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    found: list[str] = []
    try:
        yield found
        gc.collect()
        found.extend(sorted({f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage
                             if type(o).__module__.split(".")[0] in SERVER_PACKAGES}))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()


async def _shop(api: Any) -> None:
    desk = api.desk
    supplier = await desk.upsert_supplier(None, "Acme", 10)
    await s.product(desk, "CUP", stock=5, price="12.00", supplier_id=supplier.id)
    await s.product(desk, "PEN", stock=1, price="2.00")
    await s.product(desk, "MUG", stock=1, substitutes=["CUP", "PEN"], supplier_id=supplier.id)
    await s.purchase_order(desk, date(2026, 3, 20), ("MUG", 2))
    await s.order(desk, "ann@example.com", ("MUG", 3), ("PEN", 1))
    await s.order(desk, "bob@example.com", ("MUG", 2))


async def test_the_frontends_documents_leave_no_garbage_for_the_cyclic_collector(api) -> None:
    # given: a shop with backorders, substitutes and a purchase order; the portal's customer and an agent
    await _shop(api)
    ann = Customer(api)
    await ann.sign_in_with_link("ann@example.com")
    staff = httpx.AsyncClient(base_url=api.base, timeout=60, headers={"Authorization": f"Bearer {api.token}"})
    documents = {**_documents(FRONTEND / "portal" / "documents.js"), **_documents(FRONTEND / "agent" / "documents.js")}
    assert {"ORDERS_QUERY", "QUEUE_QUERY", "CUSTOMER_QUERY", "MESSAGES_QUERY"} <= set(documents)
    variables = {"sku": "MUG", "email": "ann@example.com", "account": True}
    answered = []
    try:
        for reader, client in {"customer": ann.http, "staff": staff}.items():
            for name, document in documents.items():
                await client.post("/graphql", json={"query": document, "variables": variables})  # plans made
                # when: the document is read again
                with server_garbage() as garbage:
                    response = await client.post("/graphql", json={"query": document, "variables": variables})
                    body = response.json()
                if "errors" in body:  # refused for this reader: see the module's note
                    continue
                # then: every object the server made for its answer was freed when it ended
                assert garbage == [], (reader, name, garbage)
                answered.append((reader, name))
        assert ("customer", "ORDERS_QUERY") in answered and len(answered) >= 5, answered
    finally:
        await staff.aclose()
        await ann.close()


async def test_a_mutation_and_graphql_cores_own_execution_leave_no_garbage_either(api) -> None:
    # given: a shop, and documents graphql-core executes itself (a mutation; a query its plan does not cover),
    # each sent once before (a new document's validation is graphql-core's, once per document)
    await _shop(api)
    for document, variables in ((PLACE, {"email": "carol@example.com"}),
                                ("{ __schema { queryType { name } } orders(first: 1) { nodes { number } } }", {})):
        await api.gql(document, variables)
        # when: it runs again
        with server_garbage() as garbage:
            body = await api.gql(document, variables)
        # then: answered, and nothing of it left for the collector
        assert body["data"], body
        assert garbage == [], (document, garbage)
