"""SMS through the official twilio client (its sync client, run in a worker thread; one client, so
its HTTP connection is reused, with a timeout so a send cannot hang past its lease). Twilio's answers
are classified: only a fault of the number itself (invalid, landline, the recipient opted out) gives up
on the number; account and configuration faults (credentials, From, region, trial) fail the message and
are retried, since fixing the settings fixes them; 429 is retried after Twilio's Retry-After."""

from __future__ import annotations

import asyncio
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from notifications.channels import Outgoing, PermanentError, TransientError
from notifications.settings import TwilioSettings

# https://www.twilio.com/docs/api/errors, answers to Messages.create about the 'To' number itself
RECIPIENT_CODES = frozenset({
    21211,  # invalid 'To' number
    21214,  # 'To' number cannot be reached
    21265,  # 'To' is a short code
    21610,  # the recipient replied STOP (Twilio will not send to them)
    21612,  # 'To' not reachable via SMS
    21614,  # 'To' is not a mobile number
    21635,  # 'To' is a landline
})
# delivery reports (status callbacks) that say the number cannot take texts. Not 30003 (handset off or out
# of coverage: temporary), not 30007 (carrier filtering: our content), not 30008 (unknown).
RECIPIENT_DELIVERY_CODES = frozenset({
    30004,  # blocked: the recipient blocked us or their plan refuses
    30005,  # unknown destination handset (the number does not exist)
    30006,  # landline or unreachable carrier
}) | RECIPIENT_CODES
# this message can never go as it is (retrying cannot help; the number is not at fault)
MESSAGE_CODES = frozenset({21602, 21604, 21617, 21619})
# every message would fail alike: credentials, the account, the From number or messaging service
ACCOUNT_CODES = frozenset({20003, 20404, 21212, 21401, 21601, 21606, 21659})

DEFAULT_RETRY_AFTER = 30.0
MAX_RETRY_AFTER = 3600.0


class NumberRefused(PermanentError):
    """The number cannot take texts: the customer is recorded as not reachable by SMS."""

    recipient_at_fault = True


class AccountRefused(TransientError):
    """Our credentials, account or sender were refused: every message would be, so the batch stops."""


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds (RFC 9110: a number of seconds or an HTTP date), within [0, an hour]."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


class _HttpClient(TwilioHttpClient):
    """Twilio's HTTP client, keeping the headers of the last response in each thread (for Retry-After)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._local = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Response:
        self._local.headers = None
        response = super().request(*args, **kwargs)
        self._local.headers = response.headers
        return response

    def header(self, name: str) -> str | None:
        headers = getattr(self._local, "headers", None)
        return headers.get(name) if headers is not None else None


def classify(error: TwilioRestException, retry_after: str | None = None) -> Exception:
    """What a refusal of Messages.create means for this message and for the number."""
    status, code = error.status, error.code
    detail = f"Twilio {status} {code}: {error.msg}"
    if status == 429:
        wait = retry_after_seconds(retry_after)
        return TransientError(f"rate limited by Twilio ({code})",
                              retry_after=DEFAULT_RETRY_AFTER if wait is None else wait)
    if status >= 500:
        return TransientError(detail)
    if status in (401, 403, 404) or code in ACCOUNT_CODES:
        return AccountRefused(f"{detail} (check the Twilio settings)")
    if code in RECIPIENT_CODES:
        return NumberRefused(detail)
    if code in MESSAGE_CODES:
        return PermanentError(detail)
    return TransientError(detail)  # other account or regional limits: retried, then dead-lettered


class SmsChannel:
    name = "sms"
    sends = True

    def __init__(self, settings: TwilioSettings, status_callback: str | None = None, timeout: float = 10.0) -> None:
        self.settings = settings
        self.status_callback = status_callback
        self.http = _HttpClient(timeout=timeout)  # connect and read, each; no retries of its own
        self.client = Client(settings.account_sid, settings.auth_token, http_client=self.http)
        if settings.api_url:
            self.client.api.base_url = settings.api_url.rstrip("/")
        self._down: TransientError | None = None

    async def open(self) -> None:
        self._down = None

    def _create(self, message: Outgoing) -> str:
        kwargs: dict[str, Any] = {"to": message.recipient, "body": message.body_text}
        if self.settings.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.settings.messaging_service_sid
        else:
            kwargs["from_"] = self.settings.from_number
        if self.status_callback:
            # the outbox id rides along, so a report is matched even if it beats our own record of the send
            kwargs["status_callback"] = f"{self.status_callback}?message={quote(message.id)}"
        try:
            return str(self.client.messages.create(**kwargs).sid)
        except TwilioRestException as error:
            raise classify(error, self.http.header("Retry-After")) from error

    async def send(self, message: Outgoing) -> str:
        if self._down is not None:  # Twilio unreachable or our account refused a moment ago
            raise TransientError(f"not tried: {self._down}")
        try:
            return await asyncio.to_thread(self._create, message)
        except AccountRefused as error:
            self._down = error
            raise
        except (TwilioException, OSError) as error:  # requests' errors (timeouts, refused) are OSErrors
            self._down = TransientError(f"Twilio unreachable: {error}")
            raise self._down from error

    async def close(self) -> None:
        return None
