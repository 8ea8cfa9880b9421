"""The shape every channel has, how its failures are classified, and the log channel used when no
provider is configured (the message is written to the outbox and the log, clearly marked not sent)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("backorder.notifications")


class TransientError(Exception):
    """Try again later (server down, timeout, 4xx from SMTP, HTTP 429/5xx)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """Retrying cannot help (mailbox does not exist, invalid number, recipient opted out)."""


@dataclass(frozen=True)
class Outgoing:
    id: str
    idempotency_key: str
    channel: str  # EMAIL | SMS
    recipient: str
    body_text: str
    subject: str | None = None
    body_html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Channel(Protocol):
    name: str
    sends: bool  # False: the log channel (nothing leaves the machine)

    async def open(self) -> None: ...

    async def send(self, message: Outgoing) -> str:
        """Send; return the provider's id for the message. Raises TransientError or PermanentError."""

    async def close(self) -> None: ...


class LogChannel:
    sends = False

    def __init__(self, name: str) -> None:
        self.name = name

    async def open(self) -> None:
        return None

    async def send(self, message: Outgoing) -> str:
        log.warning("NOT SENT (no %s provider configured) to %s: %s | %s", self.name, message.recipient,
                    message.subject or "", message.body_text.replace("\n", " ")[:500])
        return f"log:{message.id}"

    async def close(self) -> None:
        return None
