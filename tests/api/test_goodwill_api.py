"""offerGoodwill over real HTTP: an agent gives a credit in the order's currency and/or a discount code with a
note; bad input is a typed userError at its input field and changes nothing; customers may not give it (FORBIDDEN)
and read only their own backorders' goodwill, without the agent's name or note; Backorder.goodwill is read for a
whole page in one statement."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import support as s
from tests.api.customer_sessions import ANN, BOB, customers  # noqa: F401  (the fixture)
from tests.api.statements import statements

OFFER = """mutation($input: OfferGoodwillInput!) { offerGoodwill(input: $input) {
  backorder { id goodwill { credit { amount currency } discountCode note agent } history { kind newValue cause } }
  goodwill { id credit { amount currency } discountCode note agent }
  userErrors { field message code } } }"""
SEEN = """query($id: ID!) { backorder(id: $id) { id goodwill { credit { amount currency } discountCode note agent }
  history { kind newValue cause } } }"""
PAGE = """query($first: Int!) { backorders(first: $first) { nodes { id
  goodwill { discountCode credit { amount } } } } }"""


@pytest.fixture
async def shop(api) -> dict[str, Any]:
    """MUG at 10.00 EUR is out of stock: Ann waits for 2 and Bob for 3."""
    await s.product(api.desk, "MUG", price="10.00")
    ann = await s.order(api.desk, ANN, ("MUG", 2))
    bob = await s.order(api.desk, BOB, ("MUG", 3))
    return {"ann": s.backorder_ids(ann)[0], "bob": s.backorder_ids(bob)[0]}


def _input(backorder: str, **given: Any) -> dict[str, Any]:
    return {"input": {"backorderId": backorder, "note": "sorry for the wait", **given}}


async def test_an_agent_gives_goodwill_and_it_is_on_the_backorder(api, shop):
    answer = (await api.gql(OFFER, _input(shop["ann"], credit={"amount": "7.5", "currency": "EUR"},
                                          discountCode="SORRY10")))["data"]["offerGoodwill"]
    assert answer["userErrors"] == []
    given = {"credit": {"amount": "7.50", "currency": "EUR"}, "discountCode": "SORRY10",
             "note": "sorry for the wait", "agent": "test agent"}
    assert {k: v for k, v in answer["goodwill"].items() if k != "id"} == given
    assert answer["backorder"]["goodwill"] == [given]
    assert answer["backorder"]["history"][-1] == {
        "kind": "GOODWILL", "newValue": "7.50 EUR", "cause": "goodwill from test agent: credit 7.50 EUR, "
                                                             "discount code SORRY10"}
    assert (await api.gql(SEEN, {"id": shop["bob"]}))["data"]["backorder"]["goodwill"] == []


@pytest.mark.parametrize(("given", "field", "code"), [
    ({"credit": {"amount": "5", "currency": "USD"}}, "credit.currency", "CURRENCY_MISMATCH"),
    ({"credit": {"amount": "0", "currency": "EUR"}}, "credit.amount", "INVALID_INPUT"),
    ({"credit": {"amount": "-1", "currency": "EUR"}}, "credit.amount", "INVALID_INPUT"),
    ({"credit": {"amount": "20.01", "currency": "EUR"}}, "credit.amount", "INVALID_INPUT"),  # more than 2 x 10.00
    ({"credit": {"amount": "1e40", "currency": "EUR"}}, "credit.amount", "INVALID_INPUT"),
    ({"credit": {"amount": "5", "currency": "EURO"}}, "credit.currency", "INVALID_INPUT"),
    ({}, "credit", "INVALID_INPUT"),
    ({"discountCode": "X" * 65}, "discountCode", "INVALID_INPUT"),
    ({"discountCode": "TWO WORDS"}, "discountCode", "INVALID_INPUT"),
    ({"discountCode": "OK", "note": "x" * 501}, "note", "INVALID_INPUT"),
    ({"discountCode": "OK", "note": " "}, "note", "INVALID_INPUT"),
])
async def test_bad_goodwill_is_a_typed_error_at_its_field_and_changes_nothing(api, shop, given, field, code):
    before = await s.state(api)
    answer = (await api.gql(OFFER, _input(shop["ann"], **given)))["data"]["offerGoodwill"]
    assert answer["backorder"] is None and answer["goodwill"] is None
    assert [(e["field"], e["code"]) for e in answer["userErrors"]] == [(field, code)]
    assert await s.state(api) == before


async def test_customers_may_not_give_goodwill_and_read_only_their_own(api, shop, customers):  # noqa: F811
    await api.gql(OFFER, _input(shop["ann"], discountCode="ANN-ONLY"))
    await api.gql(OFFER, _input(shop["bob"], credit={"amount": "3", "currency": "EUR"}))
    ann = customers()
    await ann.sign_in_with_link(ANN)
    before = await s.state(api)
    refused = await ann.gql(OFFER, _input(shop["ann"], discountCode="SELF-SERVICE"))
    assert refused["data"] is None and [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    assert await s.state(api) == before
    own = (await ann.gql(SEEN, {"id": shop["ann"]}))["data"]["backorder"]
    assert own["goodwill"] == [{"credit": None, "discountCode": "ANN-ONLY", "note": None, "agent": None}]
    assert own["history"][-1] == {"kind": "GOODWILL", "newValue": "ANN-ONLY",
                                  "cause": "a discount code for the wait"}
    assert "test agent" not in str(own) and "sorry for the wait" not in str(own)
    assert (await ann.gql(SEEN, {"id": shop["bob"]}))["data"]["backorder"] is None
    listed = (await ann.gql(PAGE, {"first": 50}))["data"]["backorders"]["nodes"]
    assert [b["goodwill"] for b in listed] == [[{"discountCode": "ANN-ONLY", "credit": None}]]


async def test_a_pages_goodwill_is_one_statement_whatever_its_size(api):
    # given 12 waiting backorders, each with goodwill
    await s.product(api.desk, "MUG", price="10.00")
    for i in range(12):
        backorder = s.backorder_ids(await s.order(api.desk, f"c{i}@example.com", ("MUG", 1)))[0]
        await api.gql(OFFER, _input(backorder, discountCode=f"CODE{i}"))
    await api.gql("{ viewer { name } }")
    # when a page of 3 and then of 12 is read with their goodwill
    with statements() as small:
        three = (await api.gql(PAGE, {"first": 3}))["data"]["backorders"]["nodes"]
    with statements() as large:
        twelve = (await api.gql(PAGE, {"first": 12}))["data"]["backorders"]["nodes"]
    # then every backorder has its own, and the goodwill table is read once either way
    assert len(three) == 3 and len(twelve) == 12 and all(len(b["goodwill"]) == 1 for b in twelve)
    assert sum('"goodwill"' in sql for sql in large) == 1, large
    assert len(large) == len(small), (small, large)


async def test_live_updates_carry_goodwill_worded_for_each_reader(api, shop, customers):  # noqa: F811
    query = """subscription { backorderUpdates { kind message backorderId backorder { goodwill { discountCode } } } }"""
    agent = await s.subscribe(api, query)
    ann = customers()
    await ann.sign_in_with_link(ANN)
    customer = await ann.subscribe()
    try:
        await api.gql(OFFER, _input(shop["ann"], credit={"amount": "5", "currency": "EUR"}, discountCode="SORRY5"))
        [seen] = await s.updates_until(agent, lambda u: len(u) >= 1)
        assert (seen["kind"], seen["backorderId"]) == ("GOODWILL_OFFERED", shop["ann"])
        assert seen["message"] == "goodwill from test agent: credit 5.00 EUR, discount code SORRY5"
        assert seen["backorder"]["goodwill"] == [{"discountCode": "SORRY5"}]
        [told] = await s.updates_until(customer, lambda u: len(u) >= 1)
        assert told["kind"] == "GOODWILL_OFFERED"
        assert told["message"] == "a credit of €5.00 and a discount code for the wait"
        assert "test agent" not in str(told) and "sorry for the wait" not in str(told)
    finally:
        await agent.close()
        await customer.close()
