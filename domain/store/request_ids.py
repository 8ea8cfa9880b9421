"""The id of the request being served, in a context variable: log lines carry it, and the outbox rows the
request writes (notification events, messages, webhook deliveries) keep it, so a message or a delivery can be
traced back to the request that caused it."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar, Token

current: ContextVar[str | None] = ContextVar("backorder_request_id", default=None)
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # what a proxy may hand us (no spaces, no log injection)


def request_id() -> str | None:
    return current.get()


def new_request_id(offered: str | None = None) -> str:
    """A reverse proxy's X-Request-ID when it is a sane one, else a fresh random id."""
    if offered and _ACCEPTED.fullmatch(offered):
        return offered
    return secrets.token_hex(8)


def bind(value: str | None) -> Token[str | None]:
    return current.set(value)


def unbind(token: Token[str | None]) -> None:
    current.reset(token)
