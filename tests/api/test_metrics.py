"""/metrics: Prometheus's text format (read back with prometheus_client's own parser), for staff or the scrape
token only, and figures that move when the business does: a receipt, an error, a websocket."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from domain.use_cases import shared
from tests.api.served import PRODUCT, ROOT, agent_token, served
from tests.waiting import PATIENCE, eventually

ORDER = ('mutation Order($email: String!) { placeOrder(input: {customer: {email: $email}, channel: ONLINE, '
         'lines: [{sku: "MUG", quantity: 2}]}) { backorders { id } userErrors { code } } }')
RECEIVE = ('mutation Receive($sku: String!) { receiveStock(input: {sku: $sku, quantity: 3}) '
           '{ userErrors { code } } }')
RECEIVE_MANY = ('mutation ReceiveMany($sku: String!, $quantity: Int!) { receiveStock(input: {sku: $sku, '
                'quantity: $quantity}) { userErrors { code } } }')


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by name and labels, as Prometheus reads them."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(figures: dict, name: str, **labels: str) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(api, token: str | None = None) -> dict:
    response = await api.client.get(f"{api.base}/metrics",
                                    headers={"Authorization": f"Bearer {token or api.tokens['agent']}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)



async def test_a_staged_receipt_is_observed_once_whole(api, monkeypatch: pytest.MonkeyPatch):
    """A receipt for a long queue put away a chunk a transaction (issue 15): one receipt in the metrics, timed to
    its last chunk and counting every backorder its chunks served, not its first transaction's."""
    monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)  # short queues served from their heads' rows
    monkeypatch.setattr(shared, "STAGE_CHUNK", 2)  # two backorders a transaction
    monkeypatch.setattr(shared, "RECORD_STAGED", False)  # staged, not recorded, with the ledger forced on too
    monkeypatch.setattr(shared, "STAGE_ON_EVERY_STORE", True)  # on PostgreSQL too (the service stages on SQLite)
    chunks: list[float] = []
    chunk = shared._put_away_chunk

    async def slow_chunk(deps: Any, sku: str) -> bool:  # each chunk takes 50 ms more, for the duration to show
        chunks.append(time.perf_counter())
        await asyncio.sleep(0.05)  # sleep-ok: a slower chunk, not a wait
        return await chunk(deps, sku)

    monkeypatch.setattr(shared, "_put_away_chunk", slow_chunk)
    # given 7 backorders of 2 units each
    assert (await api.gql(PRODUCT))["data"]["upsertProduct"]["userErrors"] == []
    for n in range(7):
        assert (await api.gql(ORDER, {"email": f"c{n}@example.com"}))["data"]["placeOrder"]["backorders"]
    before = await scrape(api)
    # when 13 units come: 6 served whole and the 7th in part, two a transaction
    received = await api.gql(RECEIVE_MANY, {"sku": "MUG", "quantity": 13})
    assert received["data"]["receiveStock"]["userErrors"] == []
    after = await scrape(api)
    # then the receipt was put away in 4 transactions (3 chunks after its own; the last finds none staged)
    assert len(chunks) == 4
    # and it is one receipt that served 7 backorders and lasted at least its chunks' 150 ms
    assert value(after, "backorder_receipt_duration_seconds_count") == value(
        before, "backorder_receipt_duration_seconds_count") + 1
    assert value(after, "backorder_receipt_backorders_served_sum") == value(
        before, "backorder_receipt_backorders_served_sum") + 7
    assert value(after, "backorder_receipt_duration_seconds_sum") - value(
        before, "backorder_receipt_duration_seconds_sum") >= 0.15
    assert value(after, "backorder_waiting_backorders") == 1 and value(after, "backorder_waiting_units") == 1


@pytest.mark.api_settings(metrics_token="scrape-secret-123")
async def test_metrics_are_for_staff_and_the_scraper_only(api):
    assert (await api.client.get(f"{api.base}/metrics")).status_code == 401
    for wrong in ("scrape-secret-12", "bd_not-a-token"):
        answer = await api.client.get(f"{api.base}/metrics", headers={"Authorization": f"Bearer {wrong}"})
        assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
    assert await scrape(api, "scrape-secret-123")
    assert await scrape(api, api.tokens["admin"])


async def test_a_receipt_moves_the_metrics(api):
    assert (await api.gql(PRODUCT))["data"]["upsertProduct"]["userErrors"] == []
    for email in ("a@example.com", "b@example.com"):
        assert (await api.gql(ORDER, {"email": email}))["data"]["placeOrder"]["backorders"]
    before = await scrape(api)
    assert value(before, "backorder_waiting_backorders") == 2
    assert value(before, "backorder_waiting_units") == 4
    assert value(before, "backorder_sku_waiting_units", sku="MUG") == 4

    assert (await api.gql(RECEIVE, {"sku": "MUG"}))["data"]["receiveStock"]["userErrors"] == []
    refused = await api.gql(RECEIVE, {"sku": "NO-SUCH-SKU"})
    [code] = [e["code"] for e in refused["data"]["receiveStock"]["userErrors"]]
    await api.gql("{ nosuchfield }", expect_errors=True)
    after = await scrape(api)

    # one receipt, timed, which served both backorders (2 units to the first, 1 to the second)
    assert value(after, "backorder_receipt_duration_seconds_count") == value(
        before, "backorder_receipt_duration_seconds_count") + 1
    assert value(after, "backorder_receipt_backorders_served_sum") == value(
        before, "backorder_receipt_backorders_served_sum") + 2
    assert value(after, "backorder_waiting_backorders") == 1 and value(after, "backorder_waiting_units") == 1
    assert value(after, "backorder_graphql_request_duration_seconds_count", operation="Receive", type="mutation") \
        == value(before, "backorder_graphql_request_duration_seconds_count", operation="Receive", type="mutation") + 2
    # counters live as long as the process (other tests in it count too): what moved is what counts
    assert value(after, "backorder_graphql_errors_total", code=code, kind="user") == value(
        before, "backorder_graphql_errors_total", code=code, kind="user") + 1
    assert value(after, "backorder_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED", kind="graphql") == value(
        before, "backorder_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED", kind="graphql") + 1
    # a digest waits in its coalescing window, not yet a message; the outbox is empty and said to be
    assert value(after, "backorder_outbox_oldest_unsent_age_seconds", outbox="notifications") == 0


async def test_open_websockets_are_counted(api):
    open_before = value(await scrape(api), "backorder_open_websockets")  # this process's other tests' sockets
    async with api.ws() as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {api.token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))["type"] == "connection_ack"
        assert value(await scrape(api), "backorder_open_websockets") == open_before + 1
    async def open_now() -> float:
        return value(await scrape(api), "backorder_open_websockets")

    await eventually(open_now, lambda count: count == open_before, what="the closed websocket is no longer counted")


async def test_several_processes_are_added_up(db_url, tmp_path):
    """Two `serve` processes and a `worker` sharing PROMETHEUS_MULTIPROC_DIR: either server's /metrics counts
    what the other served and what the worker sent (prometheus_client's multiprocess mode)."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite is enough to share a database between these processes; PostgreSQL adds nothing here")
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared), "BACKORDER_INPROCESS_WORKER": "0"}
    token = agent_token(db_url)
    auth = {"Authorization": f"Bearer {token}"}
    with served(db_url, tmp_path, env=env) as one, served(db_url, tmp_path, env=env) as two:
        worker = subprocess.Popen(  # noqa: ASYNC220 (started once, not awaited)
            [sys.executable, "-m", "api.cli", "worker"], cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **env, "BACKORDER_DATABASE_URL": db_url, "BACKORDER_COALESCE_SECONDS": "0"})
        try:
            async with httpx.AsyncClient(headers=auth, timeout=10) as http:
                await http.post(f"{one.base}/graphql", json={"query": PRODUCT})
                await http.post(f"{one.base}/graphql", json={"query": ORDER, "variables": {"email": "a@example.com"}})
                await http.post(f"{one.base}/graphql", json={"query": RECEIVE, "variables": {"sku": "MUG"}})
                async def scraped() -> dict:
                    return samples((await http.get(f"{two.base}/metrics")).text)

                # the worker sends the customer's digest (logged: no SMTP configured)
                figures = await eventually(scraped, lambda f: value(
                    f, "backorder_sends_total", channel="email", outcome="logged") >= 1,
                    what="the worker's send counted by the other server")
        finally:
            worker.terminate()
            worker.wait(10)
    assert value(figures, "backorder_receipt_duration_seconds_count") == 1  # served by the other process
    assert value(figures, "backorder_graphql_request_duration_seconds_count", operation="Order",
                 type="mutation") == 1
    assert value(figures, "backorder_sends_total", channel="email", outcome="logged") >= 1  # by the worker
