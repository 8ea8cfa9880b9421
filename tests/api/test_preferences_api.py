"""setBackorderPreferences, declineSubstitute and the account defaults in updateNotificationPreferences over real
HTTP: a customer changes only their own backorders (another's reads as not found, nothing written), agents any;
bad input is a typed userError naming its input field, and nothing changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from domain.model import Channel
from domain.services import CustomerDetails, LineRequest
from tests.api import support as s
from tests.waiting import eventually

ANN, BOB = "ann@example.com", "bob@example.com"
SET = """mutation($input: SetBackorderPreferencesInput!) { setBackorderPreferences(input: $input) {
  backorder { id status preferences { cancelIfNotBy substitutes } history { kind cause } }
  userErrors { field code message } } }"""
DECLINE = """mutation($input: DeclineSubstituteInput!) { declineSubstitute(input: $input) {
  backorder { id declinedSubstitutes substitutes { product { sku } } history { kind newValue cause } }
  userErrors { field code } } }"""
DEFAULTS = """mutation($input: UpdateNotificationPreferencesInput!) { updateNotificationPreferences(input: $input) {
  preferences { cancelIfNotBy substitutes } userErrors { field code } } }"""
LINK = """mutation($email: String!) { customerPortalLink(input: {email: $email}) { url } }"""
REDEEM = """mutation($token: String!) { redeemPortalLink(input: {token: $token}) { userErrors { code } } }"""
SEEN = """query($id: ID!) { backorder(id: $id) { status preferences { cancelIfNotBy substitutes }
  declinedSubstitutes history { kind cause } } }"""


class Customer:
    """A browser of one customer, signed in with a link: its own cookie jar."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.http = httpx.AsyncClient(base_url=api.base, timeout=10)

    async def sign_in(self, email: str) -> Customer:
        url = (await self.api.gql(LINK, {"email": email}))["data"]["customerPortalLink"]["url"]
        redeemed = await self.gql(REDEEM, {"token": url.split("token=", 1)[1]})
        assert redeemed["data"]["redeemPortalLink"]["userErrors"] == []
        return self

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}})
        body = response.json()
        assert "errors" not in body, body
        return body


@pytest.fixture
async def shop(api) -> dict[str, Any]:
    """MUG out of stock with a dearer CUP in stock instead; a PO of 4 mugs due 20 March; Ann and Bob wait."""
    desk = api.desk
    await s.product(desk, "CUP", stock=10, price="12.00")
    await s.product(desk, "MUG", price="10.00", substitutes=["CUP"])
    po = await s.purchase_order(desk, date(2026, 3, 20), ("MUG", 4))
    ann = await desk.place_order(CustomerDetails(ANN, "Ann"), Channel.ONLINE, [LineRequest("MUG", 2)])
    bob = await s.order(desk, BOB, ("MUG", 2))
    ann_customer = await Customer(api).sign_in(ANN)
    yield {"ann": s.backorder_ids(ann)[0], "bob": s.backorder_ids(bob)[0], "po": po, "customer": ann_customer}
    await ann_customer.http.aclose()


async def test_a_customer_sets_their_own_backorders_preferences_and_reads_them_back(api, shop):
    ann = shop["customer"]
    answer = (await ann.gql(SET, {"input": {"backorderId": shop["ann"], "cancelIfNotBy": "2026-03-25",
                                            "substitutes": "NEVER"}}))["data"]["setBackorderPreferences"]
    assert answer["userErrors"] == []
    assert answer["backorder"]["preferences"] == {"cancelIfNotBy": "2026-03-25", "substitutes": "NEVER"}
    assert answer["backorder"]["history"][-1] == {"kind": "PREFERENCE",
                                                  "cause": "your choices for this backorder changed"}
    seen = (await ann.gql(SEEN, {"id": shop["ann"]}))["data"]["backorder"]
    assert seen["preferences"]["substitutes"] == "NEVER"
    # only what is given changes: clearing the date keeps the consent
    cleared = (await ann.gql(SET, {"input": {"backorderId": shop["ann"], "cancelIfNotBy": None}}))
    assert cleared["data"]["setBackorderPreferences"]["backorder"]["preferences"] == {
        "cancelIfNotBy": None, "substitutes": "NEVER"}


async def test_another_customers_backorder_is_not_found_and_nothing_changes(api, shop):
    before = await s.state(api)
    ann = shop["customer"]
    for query, extra in ((SET, {"substitutes": "ANY_LISTED"}), (DECLINE, {"substituteSku": "CUP"})):
        answer = await ann.gql(query, {"input": {"backorderId": shop["bob"], **extra}})
        payload = next(iter(answer["data"].values()))
        assert payload["backorder"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("backorderId", "BACKORDER_NOT_FOUND")]
    assert await s.state(api) == before
    bob = (await api.gql(SEEN, {"id": shop["bob"]}))["data"]["backorder"]
    assert bob["preferences"] == {"cancelIfNotBy": None, "substitutes": "ASK"} and bob["declinedSubstitutes"] == []


@pytest.mark.parametrize(("given", "field", "code"), [
    ({"cancelIfNotBy": "2026-03-01"}, "cancelIfNotBy", "INVALID_INPUT"),  # passed
    ({"cancelIfNotBy": "2026-03-19"}, "cancelIfNotBy", "INVALID_INPUT"),  # before the ETA (20 March)
    ({"substitutes": None}, "substitutes", "INVALID_INPUT"),
    ({}, "input", "INVALID_INPUT"),  # nothing to change
])
async def test_bad_preferences_are_typed_errors_and_change_nothing(api, shop, given, field, code):
    before = await s.state(api)
    answer = (await api.gql(SET, {"input": {"backorderId": shop["ann"], **given}}))["data"]["setBackorderPreferences"]
    assert answer["backorder"] is None
    assert [(e["field"], e["code"]) for e in answer["userErrors"]] == [(field, code)]
    assert await s.state(api) == before


async def test_an_agent_sets_any_customers_preferences(api, shop):
    answer = (await api.gql(SET, {"input": {"backorderId": shop["bob"], "cancelIfNotBy": "2026-04-01"}}))
    payload = answer["data"]["setBackorderPreferences"]
    assert payload["userErrors"] == [] and payload["backorder"]["preferences"]["cancelIfNotBy"] == "2026-04-01"
    assert "preferences set by test agent" in payload["backorder"]["history"][-1]["cause"]


async def test_a_declined_substitute_leaves_the_offers_and_is_in_the_history(api, shop):
    ann = shop["customer"]
    before = (await ann.gql("""query($id: ID!) { backorder(id: $id) { substitutes { product { sku } } } }""",
                            {"id": shop["ann"]}))["data"]["backorder"]
    assert before["substitutes"] == [{"product": {"sku": "CUP"}}]
    answer = (await ann.gql(DECLINE, {"input": {"backorderId": shop["ann"], "substituteSku": "CUP"}}))
    payload = answer["data"]["declineSubstitute"]
    assert payload["userErrors"] == []
    assert payload["backorder"]["declinedSubstitutes"] == ["CUP"] and payload["backorder"]["substitutes"] == []
    assert payload["backorder"]["history"][-1] == {"kind": "SUBSTITUTE", "newValue": "CUP",
                                                   "cause": "you declined an alternative"}
    again = (await ann.gql(DECLINE, {"input": {"backorderId": shop["ann"], "substituteSku": "CUP"}}))
    assert [(e["field"], e["code"]) for e in again["data"]["declineSubstitute"]["userErrors"]] == [
        ("substituteSku", "SUBSTITUTE_DECLINED")]
    unlisted = (await ann.gql(DECLINE, {"input": {"backorderId": shop["ann"], "substituteSku": "MUG"}}))
    assert [(e["field"], e["code"]) for e in unlisted["data"]["declineSubstitute"]["userErrors"]] == [
        ("substituteSku", "NOT_A_SUBSTITUTE")]


async def test_the_account_defaults_are_in_the_existing_preferences(api, shop):
    ann = shop["customer"]
    answer = (await ann.gql(DEFAULTS, {"input": {"cancelIfNotBy": "2026-05-01", "substitutes": "SAME_PRICE_OR_LOWER"}}))
    assert answer["data"]["updateNotificationPreferences"] == {
        "preferences": {"cancelIfNotBy": "2026-05-01", "substitutes": "SAME_PRICE_OR_LOWER"}, "userErrors": []}
    passed = (await ann.gql(DEFAULTS, {"input": {"cancelIfNotBy": "2026-01-01"}}))
    assert passed["data"]["updateNotificationPreferences"]["userErrors"] == [
        {"field": "cancelIfNotBy", "code": "INVALID_INPUT"}]
    placed = await s.order(api.desk, ANN, ("MUG", 1))
    seen = (await ann.gql(SEEN, {"id": s.backorder_ids(placed)[0]}))["data"]["backorder"]
    assert seen["preferences"] == {"cancelIfNotBy": "2026-05-01", "substitutes": "SAME_PRICE_OR_LOWER"}


async def test_a_default_date_is_passed_once_it_has_passed_where_the_customer_is(api, shop):
    # given 16:00 UTC on 2 March: already 3 March (01:00) in Tokyo
    ann = shop["customer"]
    api.clock.set(datetime(2026, 3, 2, 16, 0, tzinfo=UTC))
    # then a customer on UTC may still choose 2 March, and one in Tokyo may not: it has passed there
    here = await ann.gql(DEFAULTS, {"input": {"timezone": "UTC", "cancelIfNotBy": "2026-03-02"}})
    assert here["data"]["updateNotificationPreferences"]["userErrors"] == []
    there = await ann.gql(DEFAULTS, {"input": {"timezone": "Asia/Tokyo", "cancelIfNotBy": "2026-03-02"}})
    assert there["data"]["updateNotificationPreferences"]["userErrors"] == [
        {"field": "cancelIfNotBy", "code": "INVALID_INPUT"}]


async def test_a_po_moved_past_the_date_cancels_and_the_customer_reads_why(api, shop):
    ann = shop["customer"]
    await ann.gql(SET, {"input": {"backorderId": shop["ann"], "cancelIfNotBy": "2026-03-22"}})
    moved = await api.gql("""mutation($id: ID!) { updatePurchaseOrder(input: {id: $id, expectedDate: "2026-03-30"})
        { userErrors { code } } }""", {"id": s.encode_id("PurchaseOrder", shop["po"].id)})
    assert moved["data"]["updatePurchaseOrder"]["userErrors"] == []
    seen = (await ann.gql(SEEN, {"id": shop["ann"]}))["data"]["backorder"]
    assert seen["status"] == "CANCELLED"
    assert "2 cancelled: not expected by 22 March 2026, the latest date you chose" in [
        h["cause"] for h in seen["history"]]


async def test_a_consented_substitute_is_taken_as_soon_as_its_stock_arrives(api):
    # given Ann waits for 2 mugs, agreed to any listed alternative, and no cup is in stock
    desk = api.desk
    await s.product(desk, "CUP", price="12.00")
    await s.product(desk, "MUG", price="10.00", substitutes=["CUP"])
    placed = await s.order(desk, ANN, ("MUG", 2))
    [backorder] = s.backorder_ids(placed)
    answer = await api.gql(SET, {"input": {"backorderId": backorder, "substitutes": "ANY_LISTED"}})
    assert answer["data"]["setBackorderPreferences"]["backorder"]["status"] == "WAITING"
    # when cups arrive, the serving process's worker takes them for her, without the hourly pass
    received = await api.gql("""mutation { receiveStock(input: {sku: "CUP", quantity: 5}) { userErrors { code } } }""")
    assert received["data"]["receiveStock"]["userErrors"] == []
    async def seen() -> dict[str, Any]:
        return (await api.gql(SEEN, {"id": backorder}))["data"]["backorder"]

    await eventually(seen, lambda b: b["status"] == "SUBSTITUTED", what="the worker takes the arrived substitute")
