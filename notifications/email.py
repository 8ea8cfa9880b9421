"""Email through aiosmtplib: multipart text + HTML, RFC 8058 unsubscribe headers, one connection
reused for a whole batch, and SMTP replies classified: retry later, give up on this message, or give up
on this address (only when the reply is about the recipient's mailbox)."""

from __future__ import annotations

import asyncio
import email.policy
import hashlib
import re
import ssl
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr

import aiosmtplib

from notifications.channels import Outgoing, PermanentError, TransientError
from notifications.settings import SmtpSettings


def message_id(idempotency_key: str) -> str:
    """The same outbox message always has the same Message-ID, so a resend is recognisable."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@backorder-desk>"


WIRE = email.policy.SMTP.clone(max_line_length=998)  # RFC 5322's hard limit: long headers stay whole


def build_email(message: Outgoing, sender: str) -> EmailMessage:
    """The message as an object (for reading it back: tests, previews)."""
    return email.message_from_bytes(email_bytes(message, sender), policy=email.policy.default)  # type: ignore[return-value]


def email_bytes(message: Outgoing, sender: str, msg_id: str | None = None) -> bytes:
    """The message as it goes on the wire: multipart/alternative, text and HTML in UTF-8 quoted-printable.

    Built with the classic MIME classes (compat32): the modern EmailMessage API parses every header through
    its registry and cost three times as much CPU per email, the limit when sending thousands
    (bench/notifications.py). Header values are ours and ASCII except the subject and names, which are
    encoded as RFC 2047 words; long URLs (List-Unsubscribe) stay whole on one line, as RFC 2369 wants."""
    out = MIMEMultipart("alternative")
    name, address = parseaddr(sender)
    out["From"] = formataddr((name, address), charset="utf-8")
    out["To"] = message.recipient
    out["Subject"] = _header(message.subject or "")
    out["Date"] = formatdate(localtime=False, usegmt=True)
    out["Message-ID"] = msg_id or (message_id(message.idempotency_key) if message.idempotency_key else make_msgid())
    out["Auto-Submitted"] = "auto-generated"
    for header, value in message.headers.items():
        out[header] = _header(value)
    out.attach(MIMEText(message.body_text, "plain", QP_UTF8))
    if message.body_html:
        out.attach(MIMEText(message.body_html, "html", QP_UTF8))
    return out.as_bytes(policy=COMPAT_WIRE)


QP_UTF8 = Charset("utf-8")
QP_UTF8.body_encoding = QP  # readable in the raw, like the text it carries
COMPAT_WIRE = email.policy.compat32.clone(linesep="\r\n", max_line_length=998)


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


class RecipientRefused(PermanentError):
    """The address itself is bad (no such user, disabled mailbox): the customer is recorded as unreachable."""

    recipient_at_fault = True


_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


def enhanced_code(text: str) -> tuple[int, int, int] | None:
    """The RFC 3463 status (5.1.1) a reply text starts with, if any."""
    found = _ENHANCED.match(text or "")
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def recipient_refusal(code: int, text: str) -> Exception:
    """What a refused RCPT TO means. Only a reply about the mailbox suppresses the address: a relay, policy
    or configuration refusal ("550 5.7.1 relaying denied") would otherwise suppress every customer."""
    status = enhanced_code(text)
    detail = f"{code} {text}".strip()
    if code < 500:
        return TransientError(f"recipient deferred: {detail}")
    if status is None:
        if code in (550, 551, 553):
            return RecipientRefused(f"recipient refused: {detail}")
        return PermanentError(f"recipient not accepted: {detail}")
    subject, detail_code = status[1], status[2]
    if (subject == 1 and detail_code not in (7, 8)) or (subject, detail_code) == (2, 1):
        return RecipientRefused(f"recipient refused: {detail}")  # 5.1.x bad address (not 5.1.7/8: sender), 5.2.1
    if subject == 7:  # security or policy: relaying denied, not authorised, ... our setup, not their address
        return TransientError(f"refused by policy (check the mail relay's settings): {detail}")
    return PermanentError(f"recipient not accepted: {detail}")


def _data_refusal(code: int, text: str) -> Exception:
    status = enhanced_code(text)
    detail = f"{code} {text}".strip()
    if code < 500:
        return TransientError(f"message deferred: {detail}")
    if status is not None and status[1] == 7:  # policy (authentication of our domain, ...): fixable on our side
        return TransientError(f"message refused by policy (check SPF/DKIM/relay settings): {detail}")
    return PermanentError(f"message refused: {detail}")


class EmailChannel:
    name = "email"
    sends = True

    def __init__(self, settings: SmtpSettings, sender: str, timeout: float = 10.0) -> None:
        self.settings = settings
        self.sender = sender
        self.sender_address = parseaddr(sender)[1] or sender
        self.timeout = timeout  # per SMTP command; a whole send (with connecting) is bounded by `deadline`
        self.deadline = 4 * timeout
        self._smtp: aiosmtplib.SMTP | None = None
        self._down: TransientError | None = None

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host, port=s.port, username=s.username, password=s.password, use_tls=s.implicit_tls,
            start_tls=s.requires_starttls, timeout=self.timeout, tls_context=ssl.create_default_context())

    async def open(self) -> None:
        """Connect lazily: the first send opens the connection the rest of the batch reuses."""
        self._smtp = None
        self._down = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._down is not None:  # the server was unreachable a moment ago: not once more per message
            raise TransientError(f"not tried: {self._down}")
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        smtp = self._client()
        try:
            await smtp.connect()
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, OSError) as error:
            raise self._went_down(f"SMTP server unreachable: {error}") from error
        except aiosmtplib.SMTPAuthenticationError as error:
            raise self._went_down(f"SMTP login refused: {error}") from error
        except aiosmtplib.SMTPException as error:
            raise self._went_down(f"SMTP connection failed: {error}") from error
        self._smtp = smtp
        return smtp

    def _went_down(self, reason: str) -> TransientError:
        self._drop()
        self._down = TransientError(reason)
        return self._down

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    async def send(self, message: Outgoing) -> str:
        msg_id = message_id(message.idempotency_key) if message.idempotency_key else make_msgid()
        connected = False
        try:
            async with asyncio.timeout(self.deadline):
                smtp = await self._connected()
                connected = True
                # flattened by us: aiosmtplib's 78-column policy turns the long List-Unsubscribe URL into
                # RFC 2047 encoded-words, which mail clients do not read as a link (RFC 2369 wants <URL>)
                await smtp.sendmail(self.sender_address, [message.recipient],
                                    email_bytes(message, self.sender, msg_id))
        except aiosmtplib.SMTPRecipientsRefused as error:  # one recipient a message: its refusal
            refused = error.recipients[0]
            raise recipient_refusal(refused.code, refused.message) from error
        except aiosmtplib.SMTPSenderRefused as error:
            if error.code >= 500:  # our From address: every message would be refused alike
                raise self._went_down(f"sender refused (check BACKORDER_EMAIL_FROM and the relay): "
                                      f"{error.code} {error.message}") from error
            self._drop()
            raise TransientError(f"{error.code} {error.message}") from error
        except aiosmtplib.SMTPDataError as error:
            raise _data_refusal(error.code, error.message) from error
        except aiosmtplib.SMTPResponseException as error:
            self._drop()
            raise TransientError(f"{error.code} {error.message}") from error
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, TimeoutError, OSError) as error:
            if not connected:  # the deadline ran out while connecting: as unreachable as a refused connection
                raise self._went_down(f"SMTP server unreachable: {error or type(error).__name__}") from error
            self._drop()
            raise TransientError(f"SMTP connection lost: {error or type(error).__name__}") from error
        except aiosmtplib.SMTPException as error:
            self._drop()
            raise TransientError(f"SMTP error: {error}") from error
        except ValueError as error:  # an address aiosmtplib will not put in an envelope
            raise PermanentError(f"address not usable: {error}") from error
        except asyncio.CancelledError:  # cut off mid-command: the connection is in an unknown state
            self._drop()
            raise
        return msg_id

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()
