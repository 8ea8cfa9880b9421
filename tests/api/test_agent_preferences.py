"""An agent changes a customer's notification preferences over real HTTP (updateNotificationPreferences with
customerEmail): anything may be turned off, but email or texts are turned on only with the customer's own consent on
record (CONSENT_REQUIRED otherwise, nothing written); the customer's own save records that consent; every change is
kept with who and when, for staff only."""

from __future__ import annotations

from typing import Any

from domain.model import Channel
from domain.services import CustomerDetails, LineRequest
from tests.api import support as s
from tests.api.test_preferences_api import Customer

ANN, BOB = "ann@example.com", "bob@example.com"
UPDATE = """mutation($input: UpdateNotificationPreferencesInput!) { updateNotificationPreferences(input: $input) {
  preferences { byEmail bySms phone quietHoursStart language consent { emailAt smsAt smsPhone } }
  userErrors { field code message } } }"""
SEEN = """query($email: String!) { customerPreferences(email: $email) { byEmail bySms phone language
  consent { smsAt smsPhone } changes { at by byAgent field oldValue newValue } } }"""
MINE = "{ myAccount { preferences { bySms consent { smsPhone } } } }"
MY_CHANGES = "{ myAccount { preferences { changes { by } } } }"


async def _shop(api: Any) -> None:
    await s.product(api.desk, "MUG", stock=5)
    for email in (ANN, BOB):
        await api.desk.place_order(CustomerDetails(email, email[:3].title()), Channel.PHONE, [LineRequest("MUG", 1)])


async def _agent(api: Any, email: str, **given: Any) -> dict[str, Any]:
    answer = await api.gql(UPDATE, {"input": {"customerEmail": email, **given}})
    return answer["data"]["updateNotificationPreferences"]


async def test_an_agent_turns_texts_off_and_on_again_within_the_customers_consent_and_it_is_kept(api):
    # given Ann chose texts herself, in the portal, at her number
    await _shop(api)
    ann = await Customer(api).sign_in(ANN)
    own = await ann.gql(UPDATE, {"input": {"bySms": True, "phone": "+447700900123"}})
    assert own["data"]["updateNotificationPreferences"]["userErrors"] == []
    assert (await ann.gql(MINE))["data"]["myAccount"]["preferences"]["consent"] == {"smsPhone": "+447700900123"}
    # when an agent turns them off on her word, sets her quiet hours and language, then turns texts back on
    off = await _agent(api, ANN, bySms=False, quietHoursStart="22:00:00", language="de")
    on = await _agent(api, ANN, bySms=True)
    # then both are done, and every change is kept: whose, what from and to, the latest written first
    assert off["userErrors"] == [] and on["userErrors"] == []
    assert on["preferences"]["bySms"] is True and on["preferences"]["language"] == "de"
    seen = (await api.gql(SEEN, {"email": ANN}))["data"]["customerPreferences"]
    assert [(c["by"], c["byAgent"], c["field"], c["oldValue"], c["newValue"]) for c in seen["changes"]] == [
        ("test agent", True, "bySms", "off", "on"),
        ("test agent", True, "language", "en", "de"),
        ("test agent", True, "quietHoursStart", "21:00", "22:00"),
        ("test agent", True, "bySms", "on", "off"),
        (ANN, False, "phone", None, "+447700900123"),
        (ANN, False, "bySms", "off", "on"),
    ]
    assert seen["consent"]["smsPhone"] == "+447700900123"  # an agent's "off" is not the customer withdrawing it


async def test_an_agent_cannot_turn_on_a_channel_the_customer_never_chose_and_nothing_changes(api):
    await _shop(api)
    before = await s.state(api)
    seen_before = (await api.gql(SEEN, {"email": BOB}))["data"]["customerPreferences"]
    refused = await _agent(api, BOB, bySms=True, phone="+447700900222")
    assert refused["preferences"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [("bySms", "CONSENT_REQUIRED")]
    assert (await api.gql(SEEN, {"email": BOB}))["data"]["customerPreferences"] == seen_before
    assert await s.state(api) == before
    off = await _agent(api, BOB, byEmail=False)  # off is always allowed
    assert off["userErrors"] == []
    again = await _agent(api, BOB, byEmail=True)  # but not back on: Bob never chose email himself
    assert [(e["field"], e["code"]) for e in again["userErrors"]] == [("byEmail", "CONSENT_REQUIRED")]
    seen = (await api.gql(SEEN, {"email": BOB}))["data"]["customerPreferences"]
    assert (seen["byEmail"], seen["bySms"], seen["phone"]) == (False, seen_before["bySms"], seen_before["phone"])
    assert [c["field"] for c in seen["changes"]] == ["byEmail"]  # only the accepted change is kept


async def test_a_customer_sees_their_consent_but_not_the_agents_change_log(api):
    await _shop(api)
    await _agent(api, ANN, language="fr")
    ann = await Customer(api).sign_in(ANN)
    response = await ann.http.post("/graphql", json={"query": MY_CHANGES})
    body = response.json()
    assert body["data"] is None or body["data"]["myAccount"] is None
    assert body["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "PERMISSION_DENIED"), body
