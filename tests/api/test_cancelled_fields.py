"""A root field that fails beside one still reading must not stop the shop: graphql-core answers with `data: null`
as soon as a non-null root field fails and cancels its siblings, and a sibling cancelled inside its unit of work
once left the SQLite connection's lock held, so every later request waited for ever (domain.store.transactions;
every await of a unit of work cancelled in tests/integration/test_cancellation.py)."""

from __future__ import annotations

import asyncio

import pytest

from tests.api import support as s

pytestmark = pytest.mark.db

FAILING_BESIDE_READING = '{ customerPreferences(email: "BAD") { byEmail } supplierPerformance { __typename } }'
READING_BESIDE_FAILING = '{ supplierPerformance { __typename } customerPreferences(email: "BAD") { byEmail } }'
NEXT = '{ supplierPerformance { __typename } }'
PLACE = """mutation { placeOrder(input: {customer: {email: "ann@example.com"}, channel: ONLINE,
  lines: [{sku: "MUG", quantity: 1}]}) { order { number } } }"""
NEXT_SECONDS = 30  # a held lock makes the next request wait for ever; generous for CI's load


@pytest.mark.parametrize("document", [FAILING_BESIDE_READING, READING_BESIDE_FAILING])
async def test_a_failing_root_field_beside_a_reading_one_leaves_the_server_answering(api, document: str) -> None:
    # given: a shop with a product
    await s.product(api.desk, "MUG", stock=1)

    # when: a staff reader sends a document whose one root field fails while the other reads the database
    body = await api.gql(document, expect_errors=True)

    # then: the failure is reported as such, and the next requests are answered
    assert body["data"] is None
    assert [e["path"] for e in body["errors"]] == [["customerPreferences"]]
    async with asyncio.timeout(NEXT_SECONDS):
        assert (await api.gql(NEXT))["data"] == {"supplierPerformance": {"__typename": "SupplierPerformanceReport"}}
        assert (await api.gql(PLACE))["data"]["placeOrder"]["order"]["number"]

