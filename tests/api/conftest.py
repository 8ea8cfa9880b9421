"""A real server per test: uvicorn serving the app on a free loopback port, on a fresh database."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
import websockets

from api.app import create_app
from api.http_limits import server_config
from api.live import LiveUpdates
from api.settings import Settings
from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.services import BackorderDesk
from domain.store.tokens import create_token
from tests.waiting import PATIENCE, eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Api:
    base: str
    client: httpx.AsyncClient
    token: str
    desk: BackorderDesk
    bus: InProcessBus
    clock: FixedClock
    tokens: dict[str, str] = field(default_factory=dict)
    hub: LiveUpdates | None = None  # the live updates' hub: `idle` once it has sent what it was offered

    async def gql(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = "agent",
                  expect_errors: bool = False) -> dict[str, Any]:
        headers = {}
        secret = self.tokens.get(token or "", token) if token else None
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        response = await self.client.post(f"{self.base}/graphql", json={"query": query, "variables": variables or {}},
                                          headers=headers)
        body = response.json()
        if not expect_errors:
            assert "errors" not in body, body
        return body

    def ws(self, token: str | None = "agent", origin: str | None = None) -> Any:
        headers = {}
        if origin:
            headers["Origin"] = origin
        return websockets.connect(f"{self.base.replace('http', 'ws')}/graphql",
                                  subprotocols=["graphql-transport-ws"], additional_headers=headers)

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None,
                        token: str = "agent") -> Any:
        ws = await self.ws().__aenter__()
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"authorization": f"Bearer {self.tokens[token]}"}}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), PATIENCE))
        assert ack["type"] == "connection_ack", ack
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": query, "variables": variables or {}}}))
        return ws


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "api_settings(**fields): Settings fields for the `api` fixture's app")


class BrokenContract(logging.Handler):
    """Records what `api.schema.common` logs when a userError names no field of its mutation's input."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
async def api(db_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    broken = BrokenContract()
    logging.getLogger("backorder.api.contract").addHandler(broken)
    try:
        async for served in _api(db_url, request):
            yield served
    finally:
        logging.getLogger("backorder.api.contract").removeHandler(broken)
    assert broken.messages == [], "every userError's field must name a path of its mutation's input"


async def _api(db_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    port = free_port()
    bus = InProcessBus()
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    marker = request.node.get_closest_marker("api_settings")
    settings = Settings(**{"database_url": db_url, "development": False, "public_url": f"http://127.0.0.1:{port}",
                           **(marker.kwargs if marker else {})})
    app = create_app(settings, clock=clock, bus=bus)
    desk = app.state.desk
    server = uvicorn.Server(server_config(app, settings, host="127.0.0.1", port=port, log_level="warning",
                                          lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, what="the test's server starts")
    _, agent = await create_token("test agent", "agent")
    _, admin = await create_token("test admin", "admin")
    # a request's time under CI's load (2 busy cores) says nothing of the code: the first request of a test timed out
    # at 10 s there; a hung server still fails the test, a minute later
    async with httpx.AsyncClient(timeout=60) as client:
        yield Api(base=f"http://127.0.0.1:{port}", client=client, token=agent, desk=desk, bus=bus, clock=clock,
                  tokens={"agent": agent, "admin": admin}, hub=app.state.live)
    server.should_exit = True
    await asyncio.wait_for(task, 10)
