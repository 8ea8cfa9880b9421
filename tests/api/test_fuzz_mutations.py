"""Schema-driven fuzzing of every mutation: hypothesis builds variables for each mutation's arguments from the
built schema itself (its input objects, enums, scalars, lists and nullability), with the values an adversary
tries (blank, NUL, lone surrogates, a megabyte, paths, emoji, 1e308, past 32 bits, IDs of the wrong kind or
too long) beside well-formed ones and IDs of real rows. Over HTTP against the real server, as an admin, on
SQLite and on PostgreSQL, it asserts: never an HTTP 500, never "Unexpected error.", and nothing written when
an error comes back (every table compared before and after). A new mutation is fuzzed without a word here."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.ids import encode_id
from api.schema import build_schema
from domain.store.portal import signing_key
from tests.api import support as s
from tests.integration.support import snapshot

SCHEMA = build_schema()._schema
MUTATIONS = sorted(SCHEMA.mutation_type.fields)
# CI runs the same examples every time (a red main must mean a change broke something); BACKORDER_FUZZ=random
# explores anew, BACKORDER_FUZZ_EXAMPLES=N runs more of them
EXAMPLES_PER_MUTATION = int(os.environ.get("BACKORDER_FUZZ_EXAMPLES", "12"))
DERANDOMIZE = os.environ.get("BACKORDER_FUZZ", "") != "random"

NASTY_TEXT = ["", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "x" * 5000, "../../etc/passwd", "\U0001f4e6",
              "\u202eNIAM", "MUG", "ann@example.com", "+447700900123", "Europe/London", "en", "MAIN", "PO-1",
              "'; DROP TABLE orders; --", "%s%s%s", "\n", "1e308"]
NASTY_NUMBERS = ["0", "-1", "0.001", "1e30", "1e308", "1e15", "1234567890123.45", "NaN", "Infinity", "-0",
                 "9999999999.99", "10000000000", "12.345", "abc", ""]


def _text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NASTY_TEXT),
                     st.text(st.characters(exclude_categories=()), max_size=40),  # surrogates and controls too
                     st.from_regex(r"[A-Z0-9][A-Z0-9._-]{0,10}", fullmatch=True))


def _forge(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode("utf-8", "surrogatepass")).decode().rstrip("=")


def _id(pool: list[str]) -> st.SearchStrategy[str]:
    kinds = ["Product", "Order", "Backorder", "PurchaseOrder", "Supplier", "Notification", "ApiToken", "x"]
    forged = st.builds(_forge, st.sampled_from(kinds), st.one_of(st.sampled_from(["", "b" * 40, "\x00", "1"]), _text()))
    return st.one_of(st.sampled_from(pool), forged, _text())


def _scalar(scalar: GraphQLScalarType, pool: list[str]) -> st.SearchStrategy[Any]:
    name = scalar.name
    if name == "Int":
        return st.one_of(st.integers(-5, 5), st.integers(-(2**31), 2**31 - 1),
                         st.sampled_from([1_000_000, 1_000_001, 2**31 - 1, -(2**31)]))
    if name == "Float":
        return st.floats(allow_nan=False, allow_infinity=False)
    if name == "Boolean":
        return st.booleans()
    if name == "ID":
        return _id(pool)
    if name == "Decimal":
        return st.one_of(st.sampled_from(NASTY_NUMBERS), st.decimals(places=2, allow_nan=False,
                                                                     allow_infinity=False).map(str))
    if name == "Date":
        return st.one_of(st.dates().map(str), st.sampled_from(["2026-03-20", "2026-02-30", "", "yesterday",
                                                               "9999-12-31", "0001-01-01"]))  # the calendar's ends
    if name == "DateTime":
        return st.one_of(st.datetimes().map(lambda d: d.isoformat() + "Z"), st.sampled_from(["", "now"]))
    if name == "Time":
        return st.one_of(st.times().map(lambda t: t.isoformat()), st.sampled_from(["25:00", "", "08:00"]))
    return _text()  # String and anything new


def _value(kind: Any, pool: list[str], depth: int = 0) -> st.SearchStrategy[Any]:
    if isinstance(kind, GraphQLNonNull):
        return _non_null(kind.of_type, pool, depth)
    return st.one_of(st.none(), _non_null(kind, pool, depth))


def _type_ref(kind: Any) -> str:
    if isinstance(kind, GraphQLNonNull):
        return f"{_type_ref(kind.of_type)}!"
    if isinstance(kind, GraphQLList):
        return f"[{_type_ref(kind.of_type)}]"
    return str(kind.name)


def _non_null(kind: Any, pool: list[str], depth: int) -> st.SearchStrategy[Any]:
    if isinstance(kind, GraphQLList):
        return st.lists(_value(kind.of_type, pool, depth + 1), max_size=3)
    if isinstance(kind, GraphQLEnumType):
        return st.sampled_from(sorted(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        fields = kind.fields
        required = {n: _value(f.type, pool, depth + 1) for n, f in fields.items() if _required(f)}
        optional = {n: _value(f.type, pool, depth + 1) for n, f in fields.items() if not _required(f)}
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(kind, GraphQLScalarType):
        return _scalar(kind, pool)
    raise AssertionError(f"no strategy for {kind}")


def _required(field: Any) -> bool:
    return isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined


def _document(name: str) -> str:
    field = SCHEMA.mutation_type.fields[name]
    params = ", ".join(f"${name}: {_type_ref(arg.type)}" for name, arg in field.args.items())
    args = ", ".join(f"{arg}: ${arg}" for arg in field.args)
    payload = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    selection = "__typename"
    if isinstance(payload, GraphQLObjectType) and "userErrors" in payload.fields:
        selection += " userErrors { field code message }"
    head = f"mutation({params})" if params else "mutation"
    call = f"{name}({args})" if args else name
    return f"{head} {{ {call} {{ {selection} }} }}"


def unexpected(response: httpx.Response) -> bool:
    """Whether the answer holds the masked error of a server fault (not the words echoed in a userError's
    message: hypothesis sent the SKU "Unexpected error" once)."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return False
    errors = response.json().get("errors") or []
    return any(error.get("message") == "Unexpected error." for error in errors)


def _fuzz(base: str, admin: str, pool: list[str], loop: asyncio.AbstractEventLoop) -> dict[str, int]:
    """Runs in a thread: hypothesis is synchronous; the server and the database live on the test's loop."""
    outcomes = {"accepted": 0, "refused": 0}
    client = httpx.Client(timeout=30)

    def tables() -> Any:
        rows = asyncio.run_coroutine_threadsafe(snapshot(), loop).result(60)
        # a token's last use is stamped on every request it authenticates: bookkeeping, not the mutation's
        rows["api_tokens"] = [tuple(c for c in row if not c.startswith("last_used_at=")) for row in rows["api_tokens"]]
        return rows

    def fuzzer(name: str) -> Any:
        field = SCHEMA.mutation_type.fields[name]
        document = _document(name)
        variables = st.fixed_dictionaries({arg: _value(a.type, pool) for arg, a in field.args.items()})

        @settings(max_examples=EXAMPLES_PER_MUTATION, deadline=None, database=None, derandomize=DERANDOMIZE,
                  suppress_health_check=list(HealthCheck))
        @given(variables)
        def check(values: dict[str, Any]) -> None:
            client.cookies.clear()  # a sign-in's cookie must not carry over to the next example
            before = tables()
            response = client.post(f"{base}/graphql", content=json.dumps({"query": document, "variables": values}),
                                   headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"})
            shown = f"{name} {json.dumps(values)[:300]} -> {response.status_code} {response.text[:300]}"
            assert response.status_code < 500, shown
            assert not unexpected(response), shown
            body = response.json()
            result = (body.get("data") or {}).get(name) or {}
            refused = bool(body.get("errors")) or bool(result.get("userErrors"))
            if refused:
                after = tables()
                changed = sorted(t for t in after if after[t] != before.get(t))
                assert after == before, f"wrote to {changed} although it answered with an error: {shown}"
                outcomes["refused"] += 1
            else:
                outcomes["accepted"] += 1

        return check

    for name in MUTATIONS:
        fuzzer(name)()
    client.close()
    return outcomes


@pytest.mark.api_settings(inprocess_worker=False)  # no dispatcher writing to the outbox meanwhile
async def test_every_mutation_fuzzed_from_the_schema_never_fails_and_writes_nothing_when_it_refuses(api):
    # a shop with a row of every kind, so that many generated IDs name something real; the signing key
    # exists (it is made on first use, by whichever request comes first: not that request's write)
    await signing_key()
    supplier = await api.desk.upsert_supplier(None, "Acme", 10)
    await s.product(api.desk, "MUG", stock=2, supplier_id=supplier.id)
    await s.product(api.desk, "ALT", stock=5)
    placed = await s.order(api.desk, "ann@example.com", ("MUG", 3))
    po = await s.purchase_order(api.desk, api.clock.now().date().replace(day=20), ("MUG", 4))
    pool = [s.order_id(placed), *s.backorder_ids(placed), encode_id("PurchaseOrder", po.id),
            encode_id("Supplier", supplier.id), encode_id("Product", "MUG"),
            encode_id("OrderLine", placed.lines[0].id)]
    outcomes = await asyncio.to_thread(_fuzz, api.base, api.tokens["admin"], pool, asyncio.get_running_loop())
    assert outcomes["refused"] > 0 and outcomes["accepted"] > 0, outcomes
