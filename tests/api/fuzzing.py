"""The schema fuzzers' shared parts (test_fuzz_mutations.py, test_fuzz_queries.py): hypothesis strategies for any
argument of the built schema (its input objects, enums, scalars, lists and nullability), with the values an
adversary tries (blank, NUL, lone surrogates, a megabyte, paths, emoji, 1e308, past 32 bits, IDs of the wrong
kind or too long) beside well-formed ones and IDs of real rows; and the run of one field's examples over HTTP,
which never may answer with a 500 or a masked server fault."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from typing import Any

import httpx
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    Undefined,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.schema import build_schema

SCHEMA = build_schema()._schema
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


def value(kind: Any, pool: list[str], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values for an argument or input field of type `kind`: an adversary's and well-formed ones, ids of `pool`."""
    if isinstance(kind, GraphQLNonNull):
        return _non_null(kind.of_type, pool, depth)
    return st.one_of(st.none(), _non_null(kind, pool, depth))


def type_ref(kind: Any) -> str:
    """How a variable of type `kind` is declared in a document: `[Int!]!`."""
    if isinstance(kind, GraphQLNonNull):
        return f"{type_ref(kind.of_type)}!"
    if isinstance(kind, GraphQLList):
        return f"[{type_ref(kind.of_type)}]"
    return str(kind.name)


def _non_null(kind: Any, pool: list[str], depth: int) -> st.SearchStrategy[Any]:
    if isinstance(kind, GraphQLList):
        return st.lists(value(kind.of_type, pool, depth + 1), max_size=3)
    if isinstance(kind, GraphQLEnumType):
        return st.sampled_from(sorted(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        fields = kind.fields
        required = {n: value(f.type, pool, depth + 1) for n, f in fields.items() if _required(f)}
        optional = {n: value(f.type, pool, depth + 1) for n, f in fields.items() if not _required(f)}
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(kind, GraphQLScalarType):
        return _scalar(kind, pool)
    raise AssertionError(f"no strategy for {kind}")


def _required(field: Any) -> bool:
    return isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined


def unexpected(response: httpx.Response) -> bool:
    """Whether the answer holds the masked error of a server fault (not the words echoed in a userError's
    message: hypothesis sent the SKU "Unexpected error" once)."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return False
    errors = response.json().get("errors") or []
    return any(error.get("message") == "Unexpected error." for error in errors)


def fuzz(client: httpx.Client, base: str, admin: str, name: str, document: str, args: dict[str, GraphQLArgument],
         pool: list[str], *, before: Callable[[], Any] = lambda: None,
         then: Callable[[dict[str, Any], str, Any], None] = lambda body, shown, state: None) -> None:
    """Sends `document` (the field `name` with `args` as its variables) as the admin, once for each of the
    examples hypothesis draws; every answer must be neither an HTTP 500 nor a masked server fault. `before()` is
    called before each request, and `then(body, shown, what before returned)` checks the answer further."""
    variables = st.fixed_dictionaries({arg: value(a.type, pool) for arg, a in args.items()})

    @settings(max_examples=EXAMPLES_PER_MUTATION, deadline=None, database=None, derandomize=DERANDOMIZE,
              suppress_health_check=list(HealthCheck))
    @given(variables)
    def check(values: dict[str, Any]) -> None:
        state = before()
        response = client.post(f"{base}/graphql", content=json.dumps({"query": document, "variables": values}),
                               headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"})
        shown = f"{name} {json.dumps(values)[:300]} -> {response.status_code} {response.text[:300]}"
        assert response.status_code < 500, shown
        assert not unexpected(response), shown
        then(response.json(), shown, state)

    check()
