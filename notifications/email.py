"""Email through aiosmtplib: multipart text + HTML, RFC 8058 unsubscribe headers, one connection
reused for a whole batch, and SMTP replies classified into retry-later and give-up."""

from __future__ import annotations

import email.policy
import hashlib
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


class EmailChannel:
    name = "email"
    sends = True

    def __init__(self, settings: SmtpSettings, sender: str, timeout: float = 20.0) -> None:
        self.settings = settings
        self.sender = sender
        self.sender_address = parseaddr(sender)[1] or sender
        self.timeout = timeout
        self._smtp: aiosmtplib.SMTP | None = None

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host, port=s.port, username=s.username, password=s.password, use_tls=s.implicit_tls,
            start_tls=s.starttls, timeout=self.timeout, tls_context=ssl.create_default_context())

    async def open(self) -> None:
        """Connect lazily: the first send opens the connection the rest of the batch reuses."""
        self._smtp = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        smtp = self._client()
        try:
            await smtp.connect()
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, OSError) as error:
            raise TransientError(f"SMTP server unreachable: {error}") from error
        except aiosmtplib.SMTPAuthenticationError as error:
            raise TransientError(f"SMTP login refused: {error}") from error
        except aiosmtplib.SMTPException as error:
            raise TransientError(f"SMTP connection failed: {error}") from error
        self._smtp = smtp
        return smtp

    async def send(self, message: Outgoing) -> str:
        smtp = await self._connected()
        msg_id = message_id(message.idempotency_key) if message.idempotency_key else make_msgid()
        try:
            # flattened by us: aiosmtplib's 78-column policy turns the long List-Unsubscribe URL into
            # RFC 2047 encoded-words, which mail clients do not read as a link (RFC 2369 wants <URL>)
            await smtp.sendmail(self.sender_address, [message.recipient], email_bytes(message, self.sender, msg_id))
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [r.code for r in error.recipients]
            detail = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
            if codes and all(500 <= c < 600 for c in codes):
                raise PermanentError(f"recipient refused: {detail}") from error
            raise TransientError(f"recipient deferred: {detail}") from error
        except aiosmtplib.SMTPResponseException as error:
            if 500 <= error.code < 600 and error.code not in (530, 535):
                raise PermanentError(f"{error.code} {error.message}") from error
            self._smtp = None
            raise TransientError(f"{error.code} {error.message}") from error
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as error:
            self._smtp = None
            raise TransientError(f"SMTP connection lost: {error}") from error
        except aiosmtplib.SMTPException as error:
            self._smtp = None
            raise TransientError(f"SMTP error: {error}") from error
        return msg_id

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except aiosmtplib.SMTPException:
                smtp.close()
