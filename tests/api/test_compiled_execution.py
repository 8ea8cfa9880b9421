"""The compiled executor (api/schema/compiled.py) gives graphql-core's answers: the same documents run both ways
must answer alike, data, errors and partial data included.

First on a small schema built to break it (resolvers that raise, nulls in non-null fields, permissions refused,
async resolvers and lists of awaitables, an Int out of range, enums, dates and decimals, resolvers reporting
their path, selection and context through the Info the plan builds lazily), with hypothesis-built documents;
then over HTTP on the real schema with a shop's data, as staff, as a signed-in customer, as a customer signed in
with one order and as nobody: the portal's and the agent console's own documents (frontend/) and
hypothesis-built ones. An answer without errors must have come from the compiled plan, so the comparison cannot
pass by always falling back."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from hypothesis import HealthCheck, given, settings
from strawberry.extensions import ParserCache
from strawberry.permission import BasePermission

from api.schema import build_schema, compiled
from api.schema.execution import PlainFieldsExecutionContext
from tests.api import support as s
from tests.api.customer_sessions import Customer
from tests.api.documents import VARIABLES, query_document
from tests.api.fuzzing import DERANDOMIZE

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


# -- a schema built to break the executor ----------------------------------------------------
class Never(BasePermission):
    message = "not for you"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Item:
    name: str
    size: int
    colour: Colour
    price: Decimal
    made: date
    tags: list[str]
    note: str | None
    label: str  # None for some items: a null where the schema promises none

    @strawberry.field
    def double(self) -> int:
        return self.size * 2

    @strawberry.field
    async def shout(self) -> str:
        await asyncio.sleep(0)
        return self.name.upper()

    @strawberry.field
    def broken(self) -> str | None:
        if self.size % 3 == 0:
            raise ValueError(f"{self.name} is broken")
        return "fine"

    @strawberry.field
    def strict(self) -> str:
        return None if self.size % 4 == 0 else "kept"  # type: ignore[return-value]

    @strawberry.field(permission_classes=[Never])
    def secret(self) -> str:
        return "secret"

    @strawberry.field(permission_classes=[Never])
    def maybe_secret(self) -> str | None:
        return "secret"

    @strawberry.field
    def big(self) -> int:
        return 2**40 if self.size % 5 == 0 else self.size

    @strawberry.field
    def where(self, info: strawberry.Info) -> str:
        path, keys = info.path, []
        while path is not None:
            keys.append(f"{path.key}:{path.typename}")
            path = path.prev
        return "/".join(reversed(keys)) + " " + ",".join(f.name for f in info.selected_fields)

    @strawberry.field
    def reader(self, *, info: strawberry.Info) -> str:  # a keyword-only Info: the plan's other way of calling
        return f"{type(info.context).__name__} {info.field_name} {info.python_name} {info.path.key}"

    @strawberry.field
    def children(self, first: int = 2) -> list[Item]:
        return [_item(self.size * 3 + n) for n in range(min(first, 4))]

    @strawberry.field
    async def later_children(self, first: int = 2) -> list[Item | None]:
        await asyncio.sleep(0)
        return [None if n % 2 else _item(self.size + n) for n in range(min(first, 4))]

    @strawberry.field
    def awaited_children(self) -> list[Item]:
        async def one(n: int) -> Item:
            await asyncio.sleep(0)
            if n == 7:
                raise RuntimeError("seven")
            return _item(n)

        return [one(self.size + n) for n in range(2)]  # type: ignore[misc]


def _item(n: int) -> Item:
    return Item(name=f"item{n}", size=n, colour=Colour.RED if n % 2 else Colour.BLUE, price=Decimal(n) / 4,
                made=date(2026, 1, 1 + n % 28), tags=[f"t{k}" for k in range(n % 3)], note=None if n % 2 else "n",
                label=None if n % 6 == 5 else f"L{n}")  # type: ignore[arg-type]


@strawberry.type
class ToyQuery:
    @strawberry.field
    def items(self, count: int = 3) -> list[Item]:
        return [_item(n) for n in range(min(count, 8))]

    @strawberry.field
    def item(self, name: str) -> Item | None:
        found = re.fullmatch(r"item(\d+)", name)
        return _item(int(found.group(1))) if found else None

    @strawberry.field
    async def later_items(self) -> list[Item] | None:
        return [_item(n) for n in (4, 5)]

    @strawberry.field
    def colours(self) -> list[Colour]:
        return [Colour.RED, Colour.BLUE]


# parsed documents are cached as the real schema caches them, so plans are reused across executions
TOY = strawberry.Schema(query=ToyQuery, execution_context_class=PlainFieldsExecutionContext,
                        extensions=[lambda: ParserCache(maxsize=256)])
TOY_POOL: dict[str, list[Any]] = {"String": ["item1", "item4", "item9", "nothing"], "Int": [0, 1, 3, 9, -1]}


async def _both(run: Any) -> tuple[Any, Any]:
    """`run()` with graphql-core alone, then with the compiled plan."""
    compiled.ENABLED = False
    try:
        alone = await run()
    finally:
        compiled.ENABLED = True
    return alone, await run()


def _shape(result: Any) -> Any:
    return result.data, [error.formatted for error in result.errors or []]


# graphql-core itself leaves a list's coroutines unawaited when a non-null error nulls the list's parent first
@pytest.mark.filterwarnings("ignore:coroutine 'Item.awaited_children.<locals>.one' was never awaited")
@settings(max_examples=150, deadline=None, database=None, derandomize=DERANDOMIZE,
          suppress_health_check=list(HealthCheck))
@given(query_document(TOY._schema, TOY_POOL, depth=3))
def test_the_compiled_plan_answers_as_graphql_core_on_a_schema_made_to_break_it(document: str) -> None:
    # both ways under both values of the directives' variables: a plan is kept per document, so one made under
    # $yes = true must not answer for $yes = false
    for variables in (VARIABLES, {"yes": False, "no": True}, VARIABLES):
        before = dict(compiled.STATS)

        async def run(variables: dict[str, bool] = variables) -> Any:
            return _shape(await TOY.execute(document, variable_values=variables))

        alone, planned = asyncio.run(_both(run))
        assert planned == alone, (document, variables)
        if not planned[1]:  # no error: the plan answered, graphql-core did not
            assert compiled.STATS["compiled"] > before["compiled"], document


def test_the_toy_schema_has_what_the_comparison_needs() -> None:
    traps = {"label": "Cannot return null", "strict": "Cannot return null", "broken": "is broken",
             "secret": "not for you", "big": "Int cannot represent", "awaitedChildren { name }": "seven"}
    for selection, expected in traps.items():
        # when: a document meets one trap
        result = asyncio.run(TOY.execute(f"{{ items(count: 8) {{ name {selection} }} }}"))
        # then: it goes off, so the generated documents meet it too
        assert expected in " ".join(e.message for e in result.errors or []), selection


# -- the real schema over HTTP -----------------------------------------------------------------
def frontend_documents(path: Path) -> dict[str, str]:
    """The `export const NAME = \\`...\\`` documents of a frontend module, `${OTHER}` written out."""
    raw: dict[str, str] = dict(re.findall(r"export const (\w+) = `(.*?)`;", path.read_text(), re.S))

    def written_out(text: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: written_out(raw[m.group(1)]), text)

    return {name: written_out(text) for name, text in raw.items() if text.lstrip().startswith("query")}


async def _shop(api: Any) -> dict[str, Any]:
    desk = api.desk
    supplier = await desk.upsert_supplier(None, "Acme", 10)
    await s.product(desk, "CUP", stock=5, price="12.00", supplier_id=supplier.id)
    await s.product(desk, "PEN", stock=1, price="2.00")
    await s.product(desk, "MUG", stock=1, substitutes=["CUP", "PEN"], supplier_id=supplier.id)
    await s.product(desk, "TEE", substitutes=["PEN"])
    await s.purchase_order(desk, date(2026, 3, 20), ("MUG", 2))
    first = await s.order(desk, "ann@example.com", ("MUG", 3), ("PEN", 1))
    second = await s.order(desk, "ann@example.com", ("TEE", 2))
    other = await s.order(desk, "bob@example.com", ("MUG", 2), ("TEE", 1))
    await api.gql("""mutation($id: ID!) { reprioritizeBackorder(input: {id: $id, priority: 5, reason: "VIP"}) {
        userErrors { code } } }""", {"id": s.backorder_ids(other)[0]})
    return {"first": first, "second": second, "other": other}


def _pool(shop: dict[str, Any]) -> dict[str, list[Any]]:
    orders = [shop["first"], shop["second"], shop["other"]]
    ids = [s.order_id(o) for o in orders] + [b for o in orders for b in s.backorder_ids(o)] + ["nonsense"]
    return {"String": ["MUG", "TEE", "ann@example.com", "bob@example.com", orders[0].number, "nothing"],
            "ID": ids, "Int": [0, 2, 5], "Boolean": [True, False], "Date": ["2026-03-20"], "DateTime": [
                "2026-03-01T00:00:00+00:00"]}


async def _readers(api: Any, shop: dict[str, Any]) -> dict[str, Any]:
    ann, one_order = Customer(api), Customer(api)
    await ann.sign_in_with_link("ann@example.com")
    await one_order.sign_in_with_order(shop["second"].number, "ann@example.com")
    nobody = httpx.AsyncClient(base_url=api.base, timeout=10)
    staff = httpx.AsyncClient(base_url=api.base, timeout=10, headers={"Authorization": f"Bearer {api.token}"})
    return {"staff": staff, "customer": ann.http, "one order": one_order.http, "nobody": nobody}


async def _compare(client: httpx.AsyncClient, document: str, variables: dict[str, Any]) -> tuple[Any, bool]:
    """The answer both ways (equal, or the test fails) and whether it came from the compiled plan."""

    async def run() -> Any:
        response = await client.post("/graphql", json={"query": document, "variables": variables})
        return response.status_code, response.json()

    before = compiled.STATS["compiled"]
    alone, planned = await _both(run)
    assert planned == alone, f"{document}\n{json.dumps(alone)[:2000]}\n{json.dumps(planned)[:2000]}"
    return planned, compiled.STATS["compiled"] > before


async def test_the_frontends_documents_answer_alike_both_ways_for_every_reader(api) -> None:
    # given: a shop with backorders, substitutes, a purchase order and an agent's priority; four readers
    shop = await _shop(api)
    readers = await _readers(api, shop)
    documents = {**frontend_documents(FRONTEND / "portal" / "documents.js"),
                 **frontend_documents(FRONTEND / "agent" / "documents.js"), "STATE": s.STATE}
    assert {"ORDERS_QUERY", "QUEUE_QUERY", "CUSTOMER_QUERY", "MESSAGES_QUERY"} <= set(documents)
    variables = {"sku": "MUG", "email": "ann@example.com", "account": True}
    planned_without_errors = 0
    for reader, client in readers.items():
        for name, document in documents.items():
            for account in (True, False):
                # when: each runs with graphql-core alone and with the compiled plan
                (status, body), planned = await _compare(client, document, {**variables, "account": account})
                # then: the answers are equal (checked inside); without errors, the plan gave it
                if status == 200 and "errors" not in body:
                    assert planned, (reader, name)
                    planned_without_errors += 1
    assert planned_without_errors >= 8  # the portal's own document, as the customer, among them
    for client in readers.values():
        await client.aclose()


@pytest.mark.parametrize("reader", ["staff", "customer", "one order"])
async def test_hypothesis_built_documents_answer_alike_both_ways(api, reader: str) -> None:
    shop = await _shop(api)
    readers = await _readers(api, shop)
    client, loop = readers[reader], asyncio.get_running_loop()
    schema = build_schema()._schema
    drawn: list[str] = []

    @settings(max_examples=40, deadline=None, database=None, derandomize=DERANDOMIZE,
              suppress_health_check=list(HealthCheck))
    @given(query_document(schema, _pool(shop), depth=3))
    def draw(document: str) -> None:
        drawn.append(document)

    await asyncio.to_thread(draw)  # hypothesis is synchronous: documents first, then the server on this loop
    planned = 0
    for document in drawn:
        (status, body), used_plan = await _compare(client, document, VARIABLES)
        if status == 200 and "errors" not in body:
            assert used_plan, document
            planned += 1
    assert planned > 0
    for other in readers.values():
        await other.aclose()
    del loop
