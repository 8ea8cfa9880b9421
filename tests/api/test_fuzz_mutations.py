"""Schema-driven fuzzing of every mutation: hypothesis builds variables for each mutation's arguments from the
built schema itself (its input objects, enums, scalars, lists and nullability), with the values an adversary
tries (blank, NUL, lone surrogates, a megabyte, paths, emoji, 1e308, past 32 bits, IDs of the wrong kind or
too long) beside well-formed ones and IDs of real rows. Over HTTP against the real server, as an admin, on
SQLite and on PostgreSQL, it asserts: never an HTTP 500, never "Unexpected error.", and nothing written when
an error comes back (every table compared before and after). A new mutation is fuzzed without a word here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from graphql import GraphQLNonNull, GraphQLObjectType

from api.ids import encode_id
from domain.store.portal import signing_key
from tests.api import support as s
from tests.api.fuzzing import SCHEMA, fuzz, type_ref
from tests.integration.support import snapshot

MUTATIONS = sorted(SCHEMA.mutation_type.fields)


def _document(name: str) -> str:
    field = SCHEMA.mutation_type.fields[name]
    params = ", ".join(f"${name}: {type_ref(arg.type)}" for name, arg in field.args.items())
    args = ", ".join(f"{arg}: ${arg}" for arg in field.args)
    payload = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    selection = "__typename"
    if isinstance(payload, GraphQLObjectType) and "userErrors" in payload.fields:
        selection += " userErrors { field code message }"
    head = f"mutation({params})" if params else "mutation"
    call = f"{name}({args})" if args else name
    return f"{head} {{ {call} {{ {selection} }} }}"


def _fuzz(base: str, admin: str, pool: list[str], loop: asyncio.AbstractEventLoop) -> dict[str, int]:
    """Runs in a thread: hypothesis is synchronous; the server and the database live on the test's loop."""
    outcomes = {"accepted": 0, "refused": 0}
    client = httpx.Client(timeout=30)

    def tables() -> Any:
        rows = asyncio.run_coroutine_threadsafe(snapshot(), loop).result(60)
        # a token's last use is stamped on every request it authenticates: bookkeeping, not the mutation's
        rows["api_tokens"] = [tuple(c for c in row if not c.startswith("last_used_at=")) for row in rows["api_tokens"]]
        return rows

    def before() -> Any:
        client.cookies.clear()  # a sign-in's cookie must not carry over to the next example
        return tables()

    def then(name: str) -> Callable[[dict[str, Any], str, Any], None]:
        def nothing_written_when_refused(body: dict[str, Any], shown: str, was: Any) -> None:
            result = (body.get("data") or {}).get(name) or {}
            refused = bool(body.get("errors")) or bool(result.get("userErrors"))
            if refused:
                after = tables()
                changed = sorted(t for t in after if after[t] != was.get(t))
                assert after == was, f"wrote to {changed} although it answered with an error: {shown}"
                outcomes["refused"] += 1
            else:
                outcomes["accepted"] += 1

        return nothing_written_when_refused

    for name in MUTATIONS:
        fuzz(client, base, admin, name, _document(name), SCHEMA.mutation_type.fields[name].args, pool,
             before=before, then=then(name))
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
