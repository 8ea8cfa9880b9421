"""Schema-driven fuzzing of every query that takes arguments, with the mutation fuzzer's strategies (the same
adversary's values, the calendar's ends among the dates): over HTTP against the real server, as an admin, it
asserts never an HTTP 500 and never "Unexpected error." (a bad argument is a userError or a GraphQL validation
error). kpiSeries(from: 9999-12-31) answered "Unexpected error." before its range check knew the calendar's end.
A new query is fuzzed without a word here."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from graphql import GraphQLInputObjectType, GraphQLList, GraphQLNonNull, GraphQLObjectType

from api.ids import encode_id
from tests.api import support as s
from tests.api.fuzzing import SCHEMA, fuzz, type_ref, unexpected

QUERIES = sorted(name for name, field in SCHEMA.query_type.fields.items() if field.args)


def _named(kind: Any) -> Any:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def _document(name: str, only: set[str] | None = None) -> str:
    """The query with every argument as a variable (`only`: just those; the others keep their defaults)."""
    field = SCHEMA.query_type.fields[name]
    given_args = {arg: a for arg, a in field.args.items() if only is None or arg in only}
    params = ", ".join(f"${arg}: {type_ref(a.type)}" for arg, a in given_args.items())
    args = ", ".join(f"{arg}: ${arg}" for arg in given_args)
    result = _named(field.type)
    selection = ""
    if isinstance(result, GraphQLObjectType):
        selection = "{ __typename" + (" userErrors { field code message }" if "userErrors" in result.fields else "")
        selection += " }"
    return f"query({params}) {{ {name}({args}) {selection} }}"


def _fuzz(base: str, admin: str, pool: list[str]) -> int:
    """Runs in a thread: hypothesis is synchronous; the server lives on the test's loop."""
    asked = 0
    client = httpx.Client(timeout=30)

    def then(body: dict[str, Any], shown: str, state: Any) -> None:
        nonlocal asked
        asked += 1

    for name in QUERIES:
        fuzz(client, base, admin, name, _document(name), SCHEMA.query_type.fields[name].args, pool, then=then)
        # and the calendar's ends in every date argument at once, whatever the examples drew
        ends = {arg: "9999-12-31" for arg, a in SCHEMA.query_type.fields[name].args.items()
                if _named(a.type).name == "Date"}
        if ends:
            response = client.post(f"{base}/graphql", json={"query": _document(name, set(ends)), "variables": ends},
                                   headers={"Authorization": f"Bearer {admin}"})
            assert response.status_code < 500 and not unexpected(response), (name, response.text)
        for variables in _too_long(name):
            response = client.post(f"{base}/graphql", json={"query": _document(name, set(variables)),
                                                            "variables": variables},
                                   headers={"Authorization": f"Bearer {admin}"})
            assert response.status_code < 500 and not unexpected(response), (
                name, json.dumps(variables)[:80], response.text)
    client.close()
    return asked


def _too_long(name: str) -> list[dict[str, Any]]:
    """Every text argument, and every text field of an input argument, longer than any column (one at a time):
    orderByNumber, customerPreferences and the lists' filters by email, number or SKU answered "Unexpected
    error." when the store's filter refused a value longer than its column."""
    long = "x" * 300
    found: list[dict[str, Any]] = []
    for arg, a in SCHEMA.query_type.fields[name].args.items():
        kind = _named(a.type)
        if kind.name in ("String", "ID"):
            found.append({arg: [long] if _is_list(a.type) else long})
        elif isinstance(kind, GraphQLInputObjectType):
            for field, f in kind.fields.items():
                if _named(f.type).name in ("String", "ID"):
                    found.append({arg: {field: [long] if _is_list(f.type) else long}})
    return found


def _is_list(kind: Any) -> bool:
    return isinstance(kind.of_type if isinstance(kind, GraphQLNonNull) else kind, GraphQLList)


async def test_every_query_with_arguments_fuzzed_from_the_schema_never_fails(api):
    supplier = await api.desk.upsert_supplier(None, "Acme", 10)
    await s.product(api.desk, "MUG", stock=2, supplier_id=supplier.id)
    placed = await s.order(api.desk, "ann@example.com", ("MUG", 3))
    po = await s.purchase_order(api.desk, api.clock.now().date().replace(day=20), ("MUG", 4))
    pool = [s.order_id(placed), *s.backorder_ids(placed), encode_id("PurchaseOrder", po.id),
            encode_id("Supplier", supplier.id), encode_id("Product", "MUG")]
    assert await asyncio.to_thread(_fuzz, api.base, api.tokens["admin"], pool) > 0
