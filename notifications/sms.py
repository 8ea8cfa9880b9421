"""SMS through the official twilio client (its sync client, run in a worker thread; one client, so
its HTTP connection is reused). Twilio's answers are classified: invalid or opted-out numbers are
permanent, rate limits and server errors are retried."""

from __future__ import annotations

import asyncio
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from notifications.channels import Outgoing, PermanentError, TransientError
from notifications.settings import TwilioSettings

# https://www.twilio.com/docs/api/errors: numbers that will never take a message from us
PERMANENT_CODES = frozenset({21211, 21214, 21217, 21219, 21401, 21407, 21408, 21421, 21601, 21602, 21604,
                             21606, 21610, 21612, 21614, 21617, 21635})


class SmsChannel:
    name = "sms"
    sends = True

    def __init__(self, settings: TwilioSettings, status_callback: str | None = None) -> None:
        self.settings = settings
        self.status_callback = status_callback
        self.client = Client(settings.account_sid, settings.auth_token)
        if settings.api_url:
            self.client.api.base_url = settings.api_url.rstrip("/")

    async def open(self) -> None:
        return None

    def _create(self, message: Outgoing) -> Any:
        kwargs: dict[str, Any] = {"to": message.recipient, "body": message.body_text}
        if self.settings.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.settings.messaging_service_sid
        else:
            kwargs["from_"] = self.settings.from_number
        if self.status_callback:
            kwargs["status_callback"] = self.status_callback
        return self.client.messages.create(**kwargs)

    async def send(self, message: Outgoing) -> str:
        try:
            sent = await asyncio.to_thread(self._create, message)
        except TwilioRestException as error:
            if error.status == 429:
                raise TransientError(f"rate limited by Twilio ({error.code})", retry_after=30.0) from error
            if error.status >= 500:
                raise TransientError(f"Twilio {error.status}: {error.msg}") from error
            if error.code in PERMANENT_CODES or error.status in (400, 404):
                raise PermanentError(f"Twilio {error.code}: {error.msg}") from error
            raise TransientError(f"Twilio {error.status} {error.code}: {error.msg}") from error
        except (TwilioException, OSError) as error:
            raise TransientError(f"Twilio unreachable: {error}") from error
        return str(sent.sid)

    async def close(self) -> None:
        return None
