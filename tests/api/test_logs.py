"""Operations: JSON logs with request ids and no secrets, the request id in the response and in the outbox rows
the request wrote, /healthz (liveness) and /readyz (readiness) — on a real `backorder serve` process."""

from __future__ import annotations

import json

import httpx
from hypothesis import given
from hypothesis import strategies as st

from api.logs import redact
from domain.store import notify as store
from domain.store.db import open_database
from tests.api.served import PRODUCT, agent_token, served
from tests.waiting import eventually

ORDER = ('mutation { placeOrder(input: {customer: {email: "ann@example.com", name: "Ann"}, channel: ONLINE, '
         'lines: [{sku: "MUG", quantity: 2}]}) { backorders { id } userErrors { code } } }')
LINK = 'mutation { customerPortalLink(input: {email: "ann@example.com"}) { url } }'
ASK = 'mutation { requestPortalLink(input: {email: "ann@example.com"}) { message } }'


async def test_json_logs_carry_request_ids_and_no_token(db_url, tmp_path):
    secret = agent_token(db_url)
    with served(db_url, tmp_path, env={"BACKORDER_LOG_FORMAT": "json"}) as app:
        staff = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=app.base, headers=staff, timeout=10) as http:
            made = (await http.post("/graphql", json={"query": PRODUCT})).json()
            assert made["data"]["upsertProduct"]["userErrors"] == []
            ordered = await http.post("/graphql", json={"query": ORDER}, headers={"X-Request-ID": "shop-front-42"})
            assert ordered.headers["x-request-id"] == "shop-front-42"  # a proxy's id is kept
            assert ordered.json()["data"]["placeOrder"]["backorders"]
            linked = await http.post("/graphql", json={"query": LINK})
            link_token = linked.json()["data"]["customerPortalLink"]["url"].split("token=", 1)[1]
            asked = await http.post("/graphql", json={"query": ASK}, headers={"Authorization": ""})  # the customer asks
            assert "errors" not in asked.json(), asked.text
            link_request = asked.headers["x-request-id"]
            # what a browser does with the link, and with an API token in the URL by mistake
            assert (await http.get(f"/?token={link_token}")).status_code == 200
            await http.get(f"/?token={secret}")
            for unsafe in ('bad id "quoted"', "x" * 65):  # log injection, or a flood: replaced
                answer = await http.get("/healthz", headers={"X-Request-ID": unsafe})
                assert answer.headers["x-request-id"] != unsafe
            # the in-process dispatcher "sends" the link (logged: no SMTP configured), and the digest
            await eventually(lambda: sum("NOT SENT" in line for line in app.lines()) >= 2,
                             what="the digest and the link logged as not sent")
        lines = app.lines()

    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(entries) == len([line for line in lines if line.strip()]), lines  # every line is JSON
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    assert access and all(e.get("request_id") for e in access)
    assert any(e["request_id"] == "shop-front-42" and e["method"] == "POST" for e in access)
    assert any(e["path"].startswith("/?token=***") for e in access)
    assert any("NOT SENT" in e["message"] for e in entries)
    everything = "\n".join(lines)
    for leaked in (secret, secret[3:], link_token):
        assert leaked not in everything
    assert everything.count("token=") == everything.count("token=***")  # the emailed link's and unsubscribe's

    async with open_database(db_url, apply_migrations=False):
        events = await store.NotificationEvent.all()
        assert events and {e.request_id for e in events} == {"shop-front-42"}
        [message] = await store.OutboxMessage.filter(kind="PORTAL_LINK")
        assert message.request_id == link_request
        digests = await store.OutboxMessage.filter(kind="DIGEST")
        assert digests and all(m.request_id == "shop-front-42" for m in digests)


async def test_healthz_is_liveness_and_readyz_asks_the_database(api):
    assert (await api.client.get(f"{api.base}/healthz")).json() == {"status": "ok"}
    ready = await api.client.get(f"{api.base}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok"}  # in-process bus: no Redis to check
    assert len(ready.headers["x-request-id"]) >= 8


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=43, max_size=43),
       st.sampled_from(["GET /?token={} HTTP/1.1", "Authorization: Bearer bd_{}", "link: https://x/?a=1&token={}#x",
                        "cookie bd_session={}; other=1", "token bd_{} created", "'token': 'bd_{}'",
                        "set-cookie: bd_staff={}; HttpOnly", "INSERT ... ['https://erp/hook', 'whsec_{}', True]"]))
def test_redaction_removes_any_token_wherever_it_stands(secret, shape):
    assert secret not in redact(shape.format(secret))


async def test_a_server_that_sends_nothing_itself_shuts_down_cleanly(db_url, tmp_path):
    """BACKORDER_INPROCESS_WORKER=0 (workers send): no background loop to wait for at shut-down."""
    with served(db_url, tmp_path, env={"BACKORDER_INPROCESS_WORKER": "0"}) as app:
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"{app.base}/readyz")).status_code == 200
    output = "\n".join(app.lines())
    assert "Application shutdown complete" in output and "Traceback" not in output, output
