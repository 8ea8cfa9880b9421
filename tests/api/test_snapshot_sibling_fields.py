"""A query reads in one snapshot (domain.store.current, api/schema/execution.py): on PostgreSQL one read-only
transaction for all its fields, where before each statement ran on its own. A statement that fails in the database
aborts such a transaction; the query's other fields must still get their data. Runs on SQLite and, with
BACKORDER_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.api import support as s

pytestmark = pytest.mark.db

PREVIEW_AND_SIBLINGS = """{
  before: product(sku: "LAMP") { sku onHand unitsBackordered }
  previewAllocation(sku: "LAMP", quantity: 2) { lines { allocatedQuantity status } userErrors { code } }
  after: backorders(filter: {sku: "LAMP"}) { totalCount nodes { status } }
  kpis { openBackorders } }"""


async def test_a_preview_beside_reads_in_one_query_answers_them_all(api):
    # given: three lamps backordered (a preview takes the SKU's lock and reads under it: a writer's reads)
    await s.product(api.desk, "LAMP")
    for name in ("ann", "bob", "cy"):
        await s.order(api.desk, f"{name}@example.com", ("LAMP", 1))

    # when: one query asks for a preview of a receipt between reads of the same SKU
    body = await api.gql(PREVIEW_AND_SIBLINGS)

    # then: every field has its data, the preview's and its siblings' (none failed, none aborted the others)
    assert "errors" not in body, body
    data = body["data"]
    assert [line["status"] for line in data["previewAllocation"]["lines"]] == ["ALLOCATED", "ALLOCATED", "WAITING"]
    assert data["before"]["unitsBackordered"] == 3 and data["after"]["totalCount"] == 3
    assert data["kpis"]["openBackorders"] == 3


async def test_a_field_whose_statement_fails_in_the_database_leaves_its_siblings_data(api, monkeypatch):
    # given: three lamps backordered, and the product's read made to fail in the database (a statement it refuses:
    # no read of the store is known to fail there from valid input, so the failure is put there)
    from domain.store import models as t
    from domain.store import queries

    await s.product(api.desk, "LAMP")
    for name in ("ann", "bob", "cy"):
        await s.order(api.desk, f"{name}@example.com", ("LAMP", 1))

    async def refused(skus):
        await t.Order._meta.db.execute_query('SELECT no_such_column FROM "orders"')  # (unquoted: SQLite refuses it too)

    monkeypatch.setattr(queries, "products_by_sku", refused)

    # when: one query asks for the product (nullable) first and for reads beside it
    body = await api.gql("""{ product(sku: "LAMP") { sku unitsBackordered }
      kpis { openBackorders }
      backorders(filter: {sku: "LAMP"}) { totalCount nodes { status } } }""", expect_errors=True)

    # then: the product's field errors, and its siblings have their data
    assert [error["path"] for error in body.get("errors", [])] == [["product"]], body
    assert body["data"]["product"] is None
    assert body["data"]["kpis"]["openBackorders"] == 3, body
    assert body["data"]["backorders"]["totalCount"] == 3, body
