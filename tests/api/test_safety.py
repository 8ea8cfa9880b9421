"""Abusive documents are refused before anything runs; in production an unexpected error says only
"Unexpected error." while user errors, permission errors and argument errors keep their messages."""

import pytest

from domain.store import kpis
from tests.api import support as s

PLACE = """a{i}: placeOrder(input: {{customer: {{email: "ann@example.com"}}, channel: ONLINE,
  lines: [{{sku: "MUG", quantity: 1}}]}}) {{ order {{ id }} }}"""


def _chain(names, leaf="id"):
    for name in reversed(names):
        leaf = f"{name} {{ {leaf} }}"
    return leaf


def _alternating(count):
    return ["order" if i % 2 == 0 else "backorders" for i in range(count)]


def _nested(depth):
    """backorders > nodes > order > backorders > ... > id, with `id` `depth` levels below the root field."""
    return "{ " + _chain(["backorders", "nodes", *_alternating(depth - 2)]) + " }"


async def _orders(api):
    return (await s.state(api))["orders"]["totalCount"]


async def test_query_depth_is_limited(api):
    assert "errors" not in await api.gql(_nested(12))
    body = await api.gql(_nested(13), expect_errors=True)
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == ["'anonymous' exceeds maximum operation depth of 12"]
    # too deep under a mutation: refused before the order is placed
    place = ('placeOrder(input: {customer: {email: "ann@example.com"}, channel: ONLINE, '
             'lines: [{sku: "MUG", quantity: 1}]})')
    deep_mutation = "mutation { " + _chain([place, "order", "backorders", *_alternating(10)]) + " }"
    await s.product(api.desk, "MUG")
    refused = await api.gql(deep_mutation, expect_errors=True)
    assert "exceeds maximum operation depth" in refused["errors"][0]["message"]
    assert await _orders(api) == 0  # refused before it ran


async def test_aliases_are_limited(api):
    await s.product(api.desk, "MUG")
    viewers = " ".join(f"v{i}: viewer {{ name }}" for i in range(30))
    assert "errors" not in await api.gql(f"{{ {viewers} }}")
    body = await api.gql("mutation { " + " ".join(PLACE.format(i=i) for i in range(31)) + " }", expect_errors=True)
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == ["31 aliases found. Allowed: 30"]
    assert await _orders(api) == 0


async def test_tokens_are_limited(api):
    def listing(statuses):  # each enum value in the list is one token
        return "{ backorders(filter: {status: [" + " ".join(["WAITING"] * statuses) + "]}) { totalCount } }"

    assert "errors" not in await api.gql(listing(3900))
    body = await api.gql(listing(4000), expect_errors=True)
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == [
        "Syntax Error: Document contains more than 4000 tokens. Parsing aborted."]


async def test_an_unexpected_error_is_masked_in_production(api, monkeypatch):
    await s.product(api.desk, "MUG")

    async def broken_kpis(today):
        raise RuntimeError("could not connect to postgres://backorder:hunter2@db.internal")

    async def broken_place_order(*args, **kwargs):
        raise RuntimeError("disk full on /var/lib/backorder")

    monkeypatch.setattr(kpis, "kpis", broken_kpis)
    monkeypatch.setattr(api.desk, "place_order", broken_place_order)
    for document in ["{ kpis { orders } }", "mutation { " + PLACE.format(i=0) + " }"]:
        response = await api.client.post(f"{api.base}/graphql", json={"query": document},
                                          headers={"Authorization": f"Bearer {api.token}"})
        body = response.json()
        assert body["data"] is None, body
        assert [e["message"] for e in body["errors"]] == ["Unexpected error."]
        assert "hunter2" not in response.text and "disk full" not in response.text
        assert all("extensions" not in e for e in body["errors"])  # no code, no traceback


@pytest.mark.api_settings(development=True)
async def test_development_mode_shows_the_real_error(api, monkeypatch):
    async def broken_kpis(today):
        raise RuntimeError("the real reason")

    monkeypatch.setattr(kpis, "kpis", broken_kpis)
    body = await api.gql("{ kpis { orders } }", expect_errors=True)
    assert [e["message"] for e in body["errors"]] == ["the real reason"]


async def test_expected_errors_keep_their_messages_in_production(api):
    await s.product(api.desk, "MUG")
    user_error = await api.gql("""mutation { placeOrder(input: {customer: {email: "nobody"}, channel: ONLINE,
        lines: [{sku: "MUG", quantity: 1}]}) { userErrors { field message code } } }""")
    assert user_error["data"]["placeOrder"]["userErrors"] == [
        {"field": "customer.email", "message": "'nobody' is not a valid email address", "code": "INVALID_INPUT"}]

    denied = await api.gql("{ kpis { orders } }", token=None, expect_errors=True)
    assert [(e["message"], e["extensions"]["code"]) for e in denied["errors"]] == [
        ("This needs an agent or admin token.", "FORBIDDEN")]
    unauthenticated = await api.gql("{ viewer { name } }", token=None, expect_errors=True)
    assert [e["message"] for e in unauthenticated["errors"]] == [
        "Sign in: send an API token as 'Authorization: Bearer ...'."]

    too_many = await api.gql("{ backorders(first: 201) { totalCount } }", expect_errors=True)
    assert [(e["message"], e["extensions"]["code"]) for e in too_many["errors"]] == [
        ("first must be between 0 and 200", "INVALID_INPUT")]
    bad_id = await api.gql('{ backorders(filter: {orderId: "nope"}) { totalCount } }', expect_errors=True)
    assert [e["message"] for e in bad_id["errors"]] == ["'nope' is not a valid Order ID"]
    not_graphql = await api.gql("{ viewer { nosuchfield } }", expect_errors=True)
    assert "Cannot query field 'nosuchfield'" in not_graphql["errors"][0]["message"]


async def test_a_subscription_sent_over_http_is_told_to_use_the_websocket(api):
    # GraphiQL falls back to POST while an edit is unregistered; the subscription then ran as a query and the
    # caller got a masked "Unexpected error." for a non-null field left null
    body = await api.gql('subscription { backorderUpdates(filter: {sku: "MUG"}) { kind } }', expect_errors=True)
    assert body["data"] is None
    [error] = body["errors"]
    assert "websocket" in error["message"] and error["extensions"]["code"] == "INVALID_INPUT", error
