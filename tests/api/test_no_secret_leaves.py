"""No secret leaves the service to someone who is not its owner. Every kind of secret is made through the real flows
(a customer's sign-in links, asked for and sent by an agent; the session a link opens; unsubscribe links in a digest
and a back-in-stock email; a webhook endpoint's signing secret; API tokens and a console session; the Twilio
credentials and the metrics token of the configuration), the messages go out through a real SMTP server and a
Twilio stand-in, and then everything staff can read is walked: every query field of the schema (found by
introspection, as an agent and as an admin, with the IDs and emails the answers name), the live updates, the webhook
deliveries a real receiver got, the CSV download and the command-line export, `/metrics`, and the log lines as the
service's handler writes them. No secret's text may appear in any of it; the customer's own email still carries the
working links."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
    build_client_schema,
    get_introspection_query,
)

from api.logs import logging_config
from api.portal import links_sent, make_token
from domain.store import notify
from domain.store import portal as portal_store
from notifications.outbox import unsubscribe_token
from notifications.settings import NotificationSettings, SmtpSettings, TwilioSettings
from notifications.webhook_settings import WebhookSettings
from tests.api.conftest import Api, _api
from tests.api.customer_sessions import Customer
from tests.api.served import cli
from tests.api.support import received
from tests.api.test_agent_api import SIGN_IN
from tests.api.test_webhooks_outbound import Receiver, endpoint, receiver  # noqa: F401 - the receiver fixture
from tests.notifications.conftest import AUTH_TOKEN, SmtpServer, TwilioStandIn, smtp, twilio  # noqa: F401
from tests.waiting import eventually

METRICS_TOKEN = "metrics-scrape-secret-5f1d2c"
ANN, WATCHER, PHONE = "ann@example.com", "watcher@example.com", "+447700900123"
ALL_EVENTS = ["BACKORDER_CREATED", "BACKORDER_ALLOCATED", "BACKORDER_ETA_CHANGED", "BACKORDER_CANCELLED",
              "BACKORDER_SUBSTITUTED", "BACKORDER_SHIPPED", "BACKORDER_GOODWILL_OFFERED", "ORDER_PLACED",
              "PURCHASE_ORDER_RECEIVED", "STOCK_CHANGED"]
UPDATES = "subscription { backorderUpdates { kind message backorderId backorder { id customerEmail } } }"


@pytest.fixture
async def shop(db_url: str, request: pytest.FixtureRequest, smtp: SmtpServer,  # noqa: F811
               twilio: TwilioStandIn) -> AsyncIterator[Api]:  # noqa: F811
    """The `api` server, sending through a real SMTP server and the Twilio stand-in, webhooks allowed to loopback."""
    request.node.add_marker(pytest.mark.api_settings(
        metrics_token=METRICS_TOKEN,
        webhooks=WebhookSettings(allow_private=True, retry_base_seconds=60, poll_seconds=0.05),
        notifications=NotificationSettings(
            shop_name="Lamp & Co", email_from="Lamp & Co <orders@shop.test>", poll_seconds=0.05,
            smtp=SmtpSettings(host="127.0.0.1", port=smtp.port, starttls=False),
            twilio=TwilioSettings(account_sid="AC" + "1" * 32, auth_token=AUTH_TOKEN, from_number="+15005550006",
                                  api_url=twilio.base))))
    async for served in _api(db_url, request):
        yield served


class TheService(logging.Filter):
    """The service's lines only: not the test's own SMTP server's, HTTP client's or websocket client's."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(("mail.log", "httpx", "httpcore", "websockets.client", "asyncio"))


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """Every log line as the service's own handler writes it (its filters: request ids, redaction), at DEBUG: the
    SQL statements with their parameters too."""
    config = logging_config("json", "DEBUG")
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    handler.addFilter(TheService())
    for name in config["handlers"]["default"]["filters"]:
        factory = config["filters"][name]["()"]
        handler.addFilter(factory())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield written
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


# -- the flows that make secrets ----------------------------------------------------------------------------------
async def ok(api: Api, document: str, variables: dict[str, Any] | None = None, token: str | None = "agent") -> Any:
    data = (await api.gql(document, variables, token=token))["data"]
    [payload] = data.values()
    assert not payload.get("userErrors"), payload
    return payload


async def make_every_kind_of_secret(api: Api, smtp: SmtpServer, receiver: Receiver) -> dict[str, str]:  # noqa: F811
    """Runs the flows; returns each secret made, by what it is."""
    made: dict[str, str] = {"agent API token": api.tokens["agent"], "admin API token": api.tokens["admin"],
                            "Twilio auth token": AUTH_TOKEN, "metrics token": METRICS_TOKEN}
    _, made["webhook signing secret"] = await endpoint(api, receiver.url, ALL_EVENTS)
    made["new API token"] = (await ok(api, 'mutation { createApiToken(input: {name: "erp", role: AGENT}) '
                                           "{ secret userErrors { code } } }", token="admin"))["secret"]
    console = Customer(api)  # an agent's console: the token exchanged for a session cookie
    await console.gql(SIGN_IN, {"token": made["new API token"]})
    made["console session cookie"] = console.http.cookies["bd_staff"]

    await ok(api, 'mutation { upsertProduct(input: {sku: "MUG", name: "Mug", price: {amount: "9.50"}}) '
                  "{ userErrors { code } } }")
    await ok(api, 'mutation { placeOrder(input: {customer: {email: "ann@example.com", name: "Ann Baker"}, '
                  'channel: ONLINE, lines: [{sku: "MUG", quantity: 3}]}) { order { id } userErrors { code } } }')
    await ok(api, 'mutation { subscribeToProduct(input: {sku: "MUG", email: "watcher@example.com"}) '
                  "{ status userErrors { code } } }", token=None)
    await ok(api, 'mutation { subscribeToProduct(input: {sku: "MUG", phone: "+447700900123"}) '
                  "{ status userErrors { code } } }", token=None)
    # a sign-in link asked for by the customer, and one an agent sends her
    await ok(api, 'mutation { requestPortalLink(input: {email: "ann@example.com"}) { message userErrors { code } } }',
             token=None)
    await links_sent()
    await ok(api, 'mutation { customerPortalLink(input: {email: "ann@example.com", send: true}) '
                  "{ url userErrors { code } } }")
    await ok(api, 'mutation { receiveStock(input: {sku: "MUG", quantity: 10}) { userErrors { code } } }')
    api.clock.advance(timedelta(minutes=11))  # the digest's window closes
    await all_sent(api)

    key = await portal_store.signing_key()
    links = await portal_store.PortalLink.all().order_by("created_at")
    assert len(links) == 2
    for n, link in enumerate(links):
        made[f"sign-in link token {n + 1}"] = make_token(key, link.id, link.expires_at)
    for address, channel in ((ANN, "EMAIL"), (WATCHER, "EMAIL"), (PHONE, "SMS")):
        token = unsubscribe_token(key, address, channel)
        made[f"unsubscribe token of {address}"] = token
        made[f"unsubscribe signature of {address}"] = token.rsplit(":", 1)[1]
        made[f"unsubscribe token of {address} in a link"] = quote(token)
    # the customer's own mail has the working links: she signs in with the one she asked for
    sign_in = next(m for m in smtp.messages if m["To"] == ANN and "#token=" in plain(m))
    asked_for = made["sign-in link token 1"]
    assert f"#token={asked_for}" in plain(sign_in)
    browser = Customer(api)
    redeemed = await browser.gql('mutation($t: String!) { redeemPortalLink(input: {token: $t}) { viewer { role } '
                                 "userErrors { code } } }", {"t": asked_for})
    assert redeemed["data"]["redeemPortalLink"]["userErrors"] == [], redeemed
    made["customer session cookie"] = browser.http.cookies["bd_session"]
    digest = next(m for m in smtp.messages if m["To"] == ANN and m["List-Unsubscribe"])
    assert quote(made[f"unsubscribe token of {ANN}"]) in digest["List-Unsubscribe"] + plain(digest)
    back = next(m for m in smtp.messages if m["To"] == WATCHER)
    assert quote(made[f"unsubscribe token of {WATCHER}"]) in back["List-Unsubscribe"] + plain(back)
    return made


def plain(mail: Any) -> str:
    return str(mail.get_body(("plain",)).get_content())


async def all_sent(api: Api) -> None:
    """Until every kind of message has been made and none waits to go."""

    async def rows() -> list[Any]:
        return list(await notify.OutboxMessage.all())

    await eventually(rows, lambda found: {r.kind for r in found} >= {"DIGEST", "PORTAL_LINK", "BACK_IN_STOCK",
                                                                      "SMS_OPT_IN"}
                     and all(r.status not in (notify.QUEUED, notify.SENDING) for r in found),
                     what="every message sent")


# -- what staff can read ------------------------------------------------------------------------------------------
def _named(kind: Any) -> Any:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def _required(arg: Any) -> bool:
    return isinstance(arg.type, GraphQLNonNull) and arg.default_value in (None, Undefined)


def selection(kind: Any, depth: int) -> str:
    """Every field of `kind` that needs no argument, to `depth` levels of objects."""
    kind = _named(kind)
    if isinstance(kind, GraphQLScalarType | GraphQLEnumType):
        return ""
    if isinstance(kind, GraphQLUnionType | GraphQLInterfaceType):
        if depth <= 0:
            return "{ __typename }"
        members = kind.types if isinstance(kind, GraphQLUnionType) else []
        inner = " ".join(f"... on {m.name} {selection(m, depth - 1)}" for m in members)
        return "{ __typename " + inner + " }"
    assert isinstance(kind, GraphQLObjectType)
    parts = []
    for name, field in sorted(kind.fields.items()):
        if any(_required(a) for a in field.args.values()):
            continue
        inner = _named(field.type)
        if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            parts.append(name)
        elif depth > 0:
            parts.append(f"{name} {selection(inner, depth - 1)}")
    return "{ " + (" ".join(parts) or "__typename") + " }"


def ids_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and (k == "id" or k.endswith("Id")):
                yield v
            yield from ids_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from ids_in(v)


def kind_of(global_id: str) -> str:
    try:
        return base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().partition(":")[0]
    except ValueError:
        return ""


def literal(arg_name: str, kind: Any, ids: list[str], returns: str) -> list[str]:
    """Values to try for a required argument: the IDs the answers named (of the kind the field returns, when any),
    the customer's email, the product, or any value of its type."""
    inner = _named(kind)
    if isinstance(inner, GraphQLEnumType):
        return [sorted(inner.values)[0]]
    if isinstance(inner, GraphQLInputObjectType):
        fields = [f"{n}: {literal(n, f.type, ids, returns)[0]}" for n, f in inner.fields.items()
                  if isinstance(f.type, GraphQLNonNull) and f.default_value in (None, Undefined)]
        return ["{" + ", ".join(fields) + "}"]
    if inner.name == "ID":
        stem = arg_name.lower().removesuffix("id")  # endpointId: a WebhookEndpoint's
        fitting = [i for i in ids if kind_of(i) and (returns.startswith(kind_of(i))
                                                      or (stem and stem in kind_of(i).lower()))]
        return [json.dumps(i) for i in (fitting or ids[:5])] or ['"x"']
    if inner.name == "Int":
        return ["1"]
    if inner.name == "Boolean":
        return ["true"]
    if inner.name == "Date":
        return ['"2026-03-02"']
    lowered = arg_name.lower()
    if "email" in lowered:
        return [json.dumps(ANN)]
    if "sku" in lowered:
        return ['"MUG"']
    return ['"MUG"']


async def read_everything(api: Api, token: str) -> list[str]:
    """Every root query field's answer to `token`, as text."""
    introspected = (await api.gql(get_introspection_query(), token=token))["data"]
    schema = build_client_schema(introspected)
    query = schema.query_type
    assert query is not None
    answers: list[str] = []
    ids: list[str] = []
    fields = sorted(query.fields.items(), key=lambda item: any(_required(a) for a in item[1].args.values()))
    for name, field in fields:  # those without required arguments first: their answers give the IDs
        required = {n: a for n, a in field.args.items() if _required(a)}
        returns = _named(field.type).name
        choices = [[(n, v) for v in literal(n, a.type, sorted(set(ids)), returns)] for n, a in required.items()]
        combos: list[list[tuple[str, str]]] = [[]]
        for options in choices:
            combos = [c + [o] for c in combos for o in options[:12]]
        for combo in combos:
            arguments = "(" + ", ".join(f"{n}: {v}" for n, v in combo) + ")" if combo else ""
            for depth in (5, 4, 3, 2, 1, 0):
                document = "{ " + name + arguments + " " + selection(field.type, depth) + " }"
                body = await api.gql(document, token=token, expect_errors=True)
                if body.get("data") is not None or depth == 0 or not _too_big(body):
                    break
            answers.append(f"{name}{arguments}: {json.dumps(body)}")
            ids.extend(ids_in(body.get("data")))
    return answers


def _too_big(body: dict[str, Any]) -> bool:
    return any(e.get("extensions", {}).get("code") in ("QUERY_TOO_COMPLEX", "BAD_REQUEST", "GRAPHQL_VALIDATION_FAILED")
               or "too" in e.get("message", "").lower() for e in body.get("errors", []))


async def test_no_secret_reaches_anyone_but_its_owner(shop, smtp, receiver, service_log, db_url):  # noqa: F811
    live = await shop.subscribe(UPDATES)  # an agent's live updates
    try:
        secrets = await make_every_kind_of_secret(shop, smtp, receiver)
        updates = await received(shop, live, idle=1.0)
    finally:
        await live.close()
    assert updates, "the agent's live updates were read"
    await receiver.wait_for(3)

    readable: dict[str, list[str]] = {"live updates (agent)": [json.dumps(u) for u in updates]}
    for token in ("agent", "admin"):
        readable[f"queries ({token})"] = await read_everything(shop, token)
    readable["webhook deliveries"] = [json.dumps({"headers": r.headers, "body": r.body.decode()})
                                      for r in receiver.requests]
    downloads = []
    for kind in ("backorders", "orders", "kpis"):
        response = await shop.client.get(f"{shop.base}/export/{kind}.csv",
                                          headers={"Authorization": f"Bearer {shop.tokens['agent']}"})
        assert response.status_code == 200, response.text
        downloads.append(response.text)
    readable["CSV downloads"] = downloads
    exported = [cli(db_url, "export", kind, "--format", "jsonl") for kind in ("backorders", "orders")]
    assert all(e.returncode == 0 for e in exported), exported
    readable["command-line export"] = [e.stdout + e.stderr for e in exported]
    metrics = await shop.client.get(f"{shop.base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    readable["metrics"] = [metrics.text]
    readable["log"] = [service_log.getvalue()]
    assert "NOT SENT" not in readable["log"][0]  # the messages went through the real SMTP server and Twilio

    leaks = [(what, where, text[max(0, text.find(secret) - 80):text.find(secret) + 80])
             for where, texts in readable.items() for text in texts
             for what, secret in secrets.items() if secret in text]
    assert leaks == [], "\n".join(f"{what} in {where}: ...{context}..." for what, where, context in leaks)
    # agents can still tell that the sign-in emails went out, and when
    outbox = (await shop.gql("{ notifications(first: 100) { nodes { kind status sentAt recipient body } } }"))
    links = [n for n in outbox["data"]["notifications"]["nodes"] if n["kind"] == "PORTAL_LINK"]
    assert len(links) == 2 and all(n["status"] == "SENT" and n["sentAt"] and n["recipient"] == ANN for n in links)
    assert all("#token=[withheld]" in n["body"] for n in links), links
