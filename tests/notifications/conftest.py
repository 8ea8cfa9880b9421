"""Real peers for the notification tests: an SMTP server (aiosmtpd on loopback) and a local HTTP
stand-in for Twilio's REST API that the real twilio client talks to."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain.bus import InProcessBus
from domain.clock import FixedClock
from domain.services import BackorderDesk
from domain.store.uow import TortoiseUnitOfWork
from notifications.service import Notifications
from notifications.settings import NotificationSettings, SmtpSettings, TwilioSettings
from tests.api.conftest import free_port
from tests.waiting import eventually


class MailHandler:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []  # as received: what a mail client parses
        self.refuse: set[str] = set()  # recipients answered with 550
        self.defer: set[str] = set()  # recipients answered with 451
        self.rcpt_replies: dict[str, str] = {}  # recipient -> the reply to its RCPT TO
        self.mail_reply: str | None = None  # the reply to every MAIL FROM, instead of 250
        self.data_reply: str | None = None  # the reply to every DATA, instead of 250

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        if address in self.defer:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        self.raw.append(envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 Message accepted"


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.handler = MailHandler()
        self.controller: Controller | None = None
        self.connections = 0

    def start(self) -> None:
        server = self

        class Counting(Controller):
            def factory(self) -> Any:
                server.connections += 1
                return super().factory()

        self.controller = Counting(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        return self.handler.messages


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@dataclass
class TwilioStandIn:
    """Records every messages.create; answers 201 unless told to answer an error next."""

    base: str = ""
    requests: list[dict[str, str]] = field(default_factory=list)
    script: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)  # answers to give first
    lock: threading.Lock = field(default_factory=threading.Lock)
    refused: int = 0  # requests answered from the script

    def fail_next(self, status: int, code: int, message: str, times: int = 1,
                  headers: dict[str, str] | None = None) -> None:
        for _ in range(times):
            self.script.append((status, {"code": code, "message": message, "more_info": "", "status": status},
                                headers or {}))

    @property
    def bodies(self) -> list[str]:
        return [r["Body"] for r in self.requests]


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioStandIn]:
    stand_in = TwilioStandIn()

    async def create(request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        sid = request.path_params["sid"]
        with stand_in.lock:
            if stand_in.script:
                status, body, headers = stand_in.script.pop(0)
                stand_in.refused += 1
                return JSONResponse(body, status_code=status, headers=headers)
            stand_in.requests.append({**form, "_auth": request.headers.get("authorization", "")})
            n = len(stand_in.requests)
        return JSONResponse({"sid": f"SM{n:032d}", "account_sid": sid, "to": form.get("To"), "from": form.get("From"),
                             "body": form.get("Body"), "status": "queued", "num_segments": "1",
                             "date_created": "Mon, 02 Mar 2026 09:00:00 +0000"}, status_code=201)

    app = Starlette(routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", create, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, what="the SMS provider's stand-in starts")
    stand_in.base = f"http://127.0.0.1:{port}"
    yield stand_in
    server.should_exit = True
    await task


@dataclass
class Shop:
    desk: BackorderDesk
    clock: FixedClock
    notifications: Notifications
    bus: InProcessBus

    @property
    def dispatcher(self) -> Any:
        return self.notifications.dispatcher

    async def deliver(self, rounds: int = 3) -> None:
        # a receipt recorded as a range is told to the outbox after its commit, by the desk in the background (with
        # its fold): told before the dispatcher looks, as the service's next round would find it
        await self.desk.folded()
        for _ in range(rounds):
            await self.dispatcher.run_once()


AUTH_TOKEN = "stand-in-auth-token"


def make_settings(smtp: SmtpServer | None, twilio: TwilioStandIn | None, **overrides: Any) -> NotificationSettings:
    values: dict[str, Any] = {
        "shop_name": "Lamp & Co", "public_url": "http://shop.test", "email_from": "Lamp & Co <orders@shop.test>",
        "smtp": SmtpSettings(host="127.0.0.1", port=smtp.port, starttls=False) if smtp else None,
        "twilio": TwilioSettings(account_sid="AC" + "1" * 32, auth_token=AUTH_TOKEN, from_number="+15005550006",
                                 api_url=twilio.base) if twilio else None,
        "coalesce_seconds": 600, "retry_base_seconds": 30.0,
    }
    values.update(overrides)
    return NotificationSettings(**values)


def make_shop(settings: NotificationSettings) -> Shop:
    clock = FixedClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    bus = InProcessBus()
    notifications = Notifications(settings, clock)
    desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus, before_commit=[notifications.recorder]), clock)
    return Shop(desk=desk, clock=clock, notifications=notifications, bus=bus)
