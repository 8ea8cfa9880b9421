"""Notification settings, read once from the environment (BACKORDER_*)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from domain.customers import SUPPORTED_LANGUAGES

GOODWILL_TEXT = "BACKORDER_GOODWILL_TEXT"


def env_int(name: str, default: int) -> int:
    """A whole number from the environment (unset or blank: the default); anything else stops start-up with a
    sentence naming the variable. The one reader for every settings object (the API's imports it)."""
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError as exc:
        raise SystemExit(f"{name} must be a whole number, not {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    """As `env_int`, for a number that may have a fraction."""
    raw = os.environ.get(name, "")
    try:
        return float(raw) if raw.strip() else default
    except ValueError as exc:
        raise SystemExit(f"{name} must be a number, not {raw!r}") from exc


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False  # smtps://
    starttls: bool | None = None  # None: use it when the server offers it (only without credentials)

    def __post_init__(self) -> None:
        if self.username and not self.implicit_tls and self.starttls is False:
            raise ValueError("SMTP credentials need TLS: use STARTTLS (required) or implicit TLS (smtps://)")

    @property
    def requires_starttls(self) -> bool | None:
        """Whether STARTTLS is required (True), refused (False) or used when offered (None).

        A login always requires TLS: with STARTTLS merely "when offered", a man in the middle who strips
        the offer from EHLO would be sent the password in the clear."""
        if self.implicit_tls:
            return False
        return True if self.username else self.starttls

    @staticmethod
    def parse(url: str) -> SmtpSettings:
        """smtp://host:port (STARTTLS when offered), smtp://user:pass@host:port and smtp+starttls:// (STARTTLS
        required), smtps:// (implicit TLS), smtp+plain:// (no TLS, so no credentials)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls", "smtp+plain") or not parts.hostname:
            raise SystemExit(f"BACKORDER_SMTP_URL: {url!r} is not smtp[s]://[user:pass@]host[:port]")
        implicit = parts.scheme == "smtps"
        username = unquote(parts.username) if parts.username else None
        if username and parts.scheme == "smtp+plain":
            raise SystemExit("BACKORDER_SMTP_URL: smtp+plain:// would send the password unencrypted; "
                             "use smtp:// (STARTTLS required with a login) or smtps://")
        starttls = {"smtp+starttls": True, "smtp+plain": False}.get(parts.scheme)
        if username and not implicit:
            starttls = True
        return SmtpSettings(
            host=parts.hostname, port=parts.port or (465 if implicit else 25), username=username,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit, starttls=False if implicit else starttls)


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    from_number: str | None = None
    messaging_service_sid: str | None = None
    api_url: str | None = None  # point the client elsewhere (the tests' stand-in)


@dataclass(frozen=True)
class NotificationSettings:
    shop_name: str = "Backorder Desk"
    public_url: str = "http://127.0.0.1:8000"
    email_from: str = "Backorder Desk <orders@backorder-desk.invalid>"
    smtp: SmtpSettings | None = None
    twilio: TwilioSettings | None = None
    coalesce_seconds: int = 600
    eta_threshold_days: int = 1
    long_delay_days: int = 14
    # the shop's own goodwill words in a long-delay message, per language ("en", "de", ...); a language without
    # them is told a translated default (with the code, if there is one), never another language's words
    goodwill_texts: Mapping[str, str] = field(default_factory=dict)
    goodwill_code: str | None = None
    max_attempts: int = 8
    # an opt-in text costs the shop money and goes to a number nobody has proved is theirs: a ceiling on
    # how many a public form may cause per hour, whoever asks (SMS pumping)
    opt_in_sms_per_hour: int = 200
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    poll_seconds: float = 2.0
    batch_size: int = 100
    # A claimed message is leased to one dispatcher; a send is cut off after `send_timeout_seconds`, and a
    # lease with less than twice that left is renewed before sending, so no send outlives its lease. The
    # lease is also how long a crashed dispatcher's messages wait for another: 55 s + a 2 s poll, within a
    # minute (it was 300 s). 18 s is ample for one SMTP conversation or one Twilio call.
    lease_seconds: float = 55.0
    send_timeout_seconds: float = 18.0

    def __post_init__(self) -> None:
        if self.lease_seconds < 3 * self.send_timeout_seconds:
            raise ValueError("lease_seconds must be at least three times send_timeout_seconds")

    @staticmethod
    def from_env() -> NotificationSettings:
        env = os.environ
        smtp = SmtpSettings.parse(env["BACKORDER_SMTP_URL"]) if env.get("BACKORDER_SMTP_URL") else None
        twilio = None
        if env.get("BACKORDER_TWILIO_ACCOUNT_SID") and env.get("BACKORDER_TWILIO_AUTH_TOKEN"):
            twilio = TwilioSettings(
                account_sid=env["BACKORDER_TWILIO_ACCOUNT_SID"], auth_token=env["BACKORDER_TWILIO_AUTH_TOKEN"],
                from_number=env.get("BACKORDER_TWILIO_FROM") or None,
                messaging_service_sid=env.get("BACKORDER_TWILIO_MESSAGING_SERVICE_SID") or None,
                api_url=env.get("BACKORDER_TWILIO_API_URL") or None)
            if not (twilio.from_number or twilio.messaging_service_sid):
                raise SystemExit("Twilio needs BACKORDER_TWILIO_FROM or BACKORDER_TWILIO_MESSAGING_SERVICE_SID")
        return NotificationSettings(
            shop_name=env.get("BACKORDER_SHOP_NAME", "Backorder Desk"),
            public_url=env.get("BACKORDER_PUBLIC_URL", "http://127.0.0.1:8000"),
            email_from=env.get("BACKORDER_EMAIL_FROM", "Backorder Desk <orders@backorder-desk.invalid>"),
            smtp=smtp, twilio=twilio,
            coalesce_seconds=env_int("BACKORDER_COALESCE_SECONDS", 600),
            eta_threshold_days=env_int("BACKORDER_ETA_THRESHOLD_DAYS", 1),
            long_delay_days=env_int("BACKORDER_LONG_DELAY_DAYS", 14),
            goodwill_texts=goodwill_texts_from_env(env),
            goodwill_code=env.get("BACKORDER_GOODWILL_CODE") or None,
            max_attempts=env_int("BACKORDER_NOTIFY_MAX_ATTEMPTS", 8),
            opt_in_sms_per_hour=env_int("BACKORDER_OPT_IN_SMS_PER_HOUR", 200),
            lease_seconds=env_float("BACKORDER_NOTIFY_LEASE_SECONDS", 55.0),
            send_timeout_seconds=env_float("BACKORDER_NOTIFY_SEND_TIMEOUT_SECONDS", 18.0),
        )


def goodwill_texts_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """The shop's goodwill words per language: BACKORDER_GOODWILL_TEXT_DE, _FR, _ES, _EN; the unsuffixed
    BACKORDER_GOODWILL_TEXT is the English one (the shop's home language, as before). A suffix the shop does not
    speak, or English set twice differently, stops start-up: a text nobody would ever read is a mistake to say."""
    texts: dict[str, str] = {}
    for name, value in env.items():
        if not name.startswith(GOODWILL_TEXT + "_") or not value.strip():
            continue
        language = name.removeprefix(GOODWILL_TEXT + "_").lower()
        if language not in SUPPORTED_LANGUAGES:
            raise SystemExit(f"{name}: messages are worded in {', '.join(SUPPORTED_LANGUAGES)} only; "
                             f"name the language as {GOODWILL_TEXT}_DE, _FR, _ES or _EN")
        texts[language] = value.strip()
    english = env.get(GOODWILL_TEXT, "").strip()
    if english:
        if texts.get("en", english) != english:
            raise SystemExit(f"{GOODWILL_TEXT} and {GOODWILL_TEXT}_EN are both English and differ: set one")
        texts["en"] = english
    return texts
