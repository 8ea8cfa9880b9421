"""What a customer chose: how they are told (channels, quiet hours, time zone and language), and the defaults
their new backorders start with ("cancel if not by" date, substitute consent: domain.preferences).

Consent to a channel is the customer's own act, recorded (`ChannelConsent`): their own save of their preferences
with email or texts on records it (for texts, to the number then given), their own save with it off withdraws it,
and so do STOP and the unsubscribe link. An agent changes preferences on the customer's word (`agent_may_change`):
anything may be turned off, quiet hours, time zone, language and the backorder defaults set; but email or texts
are turned on by an agent only when the customer's consent to that channel is on record (texts: to that number),
else CONSENT_REQUIRED: the customer turns it on themselves in the portal (the agent can send a sign-in link).
A word on the phone is no record a message was wanted; an earlier tick in the customer's own form is. Every change,
by whom and when, is kept (`PreferenceChange`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.errors import DomainError, ErrorCode, InvalidInput
from domain.limits import check_timezone
from domain.preferences import SubstituteConsent, check_cancel_if_not_by, customer_today

SUPPORTED_LANGUAGES = ("en", "de", "fr", "es")  # each has a catalogue in notifications/locale (English: the source)
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164


def check_phone(phone: str, field: str = "phone") -> str:
    phone = re.sub(r"[\s\-().]", "", phone or "")
    if not _PHONE.match(phone):
        raise InvalidInput("a mobile number is written in international form, e.g. +447700900123", field=field)
    return phone


@dataclass
class NotificationPreferences:
    email: str
    by_email: bool = True
    by_sms: bool = False
    phone: str | None = None
    quiet_hours_start: time | None = time(21, 0)
    quiet_hours_end: time | None = time(8, 0)
    timezone: str = "UTC"
    language: str = "en"
    cancel_if_not_by: date | None = None  # the default for new backorders
    substitutes: SubstituteConsent = SubstituteConsent.ASK  # the default for new backorders

    def validate(self, now: datetime | None = None) -> NotificationPreferences:
        """`now`: when the defaults were just set (a "cancel if not by" already passed where the customer is, in
        the zone these preferences name, is refused)."""
        if self.phone:
            self.phone = check_phone(self.phone)
        if self.by_sms and not self.phone:
            raise InvalidInput("text messages need a mobile number", field="phone")
        if (self.quiet_hours_start is None) != (self.quiet_hours_end is None):
            raise InvalidInput("quiet hours need both a start and an end", field="quiet_hours_end")
        self.timezone = check_timezone(self.timezone)
        if not isinstance(self.language, str) or self.language not in SUPPORTED_LANGUAGES:
            raise InvalidInput(f"language must be one of {', '.join(SUPPORTED_LANGUAGES)}", field="language")
        if now is not None:
            check_cancel_if_not_by(self.cancel_if_not_by, customer_today(now, self.timezone))
        if not isinstance(self.substitutes, SubstituteConsent):
            raise InvalidInput("substitutes is one of NEVER, ASK, SAME_PRICE_OR_LOWER, ANY_LISTED", field="substitutes")
        return self

    def texts_to(self) -> str | None:
        """The number texts go to now: the one these preferences name, and none while texts are off. Never the
        number given with an order: the customer chose texts at this number (their consent is to it), and a
        number changed since a text was queued is where that text goes."""
        return self.phone if self.by_sms and self.phone else None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def in_quiet_hours(self, at: datetime) -> bool:
        if self.quiet_hours_start is None or self.quiet_hours_end is None:
            return False
        local = at.astimezone(self.zone).time()
        start, end = self.quiet_hours_start, self.quiet_hours_end
        if start <= end:
            return start <= local < end
        return local >= start or local < end  # spans midnight

    def quiet_hours_over(self, at: datetime) -> datetime:
        """The first moment at or after `at` outside quiet hours (UTC)."""
        if not self.in_quiet_hours(at) or self.quiet_hours_end is None:
            return at
        local = at.astimezone(self.zone)
        end = local.replace(hour=self.quiet_hours_end.hour, minute=self.quiet_hours_end.minute, second=0,
                            microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(UTC)


class ConsentRequired(DomainError):
    code = ErrorCode.CONSENT_REQUIRED


@dataclass(frozen=True)
class ChannelConsent:
    """When the customer themselves agreed to be told by email, and by text (to `sms_phone`); None: never, or
    withdrawn since."""

    email_at: datetime | None = None
    sms_at: datetime | None = None
    sms_phone: str | None = None

    def after_customer_saved(self, prefs: NotificationPreferences, now: datetime) -> ChannelConsent:
        """The consent on record once the customer saved `prefs` themselves: a channel left on is consented to
        (from now, unless already), one left off is withdrawn."""
        email_at = (self.email_at or now) if prefs.by_email else None
        same_number = self.sms_phone == prefs.phone and self.sms_at is not None
        sms_at = (self.sms_at if same_number else now) if prefs.by_sms else None
        return ChannelConsent(email_at, sms_at, prefs.phone if prefs.by_sms else None)


# what the audit names a change by (the input's words), in this order
AUDITED = ("by_email", "by_sms", "phone", "quiet_hours_start", "quiet_hours_end", "timezone", "language",
           "cancel_if_not_by", "substitutes")


@dataclass(frozen=True)
class PreferenceChange:
    """One field of a customer's notification preferences changed: when, by whom (an agent's name, or the
    customer's email when it was the customer), from what, to what."""

    email: str
    at: datetime
    by: str
    by_agent: bool
    field: str
    old_value: str | None
    new_value: str | None


def _shown(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(getattr(value, "value", value))


def preference_changes(before: NotificationPreferences, after: NotificationPreferences, at: datetime, by: str,
                       by_agent: bool) -> list[PreferenceChange]:
    return [PreferenceChange(after.email, at, by, by_agent, name, _shown(getattr(before, name)),
                             _shown(getattr(after, name)))
            for name in AUDITED if _shown(getattr(before, name)) != _shown(getattr(after, name))]


def agent_may_change(before: NotificationPreferences, after: NotificationPreferences,
                     consent: ChannelConsent) -> None:
    """CONSENT_REQUIRED when an agent's change would send email or texts the customer has not consented to:
    turning email on without their consent on record, or leaving texts on to a number (turned on, or its number
    changed) they have not consented to texts at."""
    if after.by_email and not before.by_email and consent.email_at is None:
        raise ConsentRequired(f"{after.email} has not agreed to email from us: only they can turn it on, in the "
                              "portal (send them a sign-in link)", field="by_email")
    if after.by_sms and (not before.by_sms or after.phone != before.phone):
        if consent.sms_at is None or consent.sms_phone != after.phone:
            field = "by_sms" if not before.by_sms else "phone"
            raise ConsentRequired(f"{after.email} has not agreed to texts at {after.phone}: only they can turn "
                                  "texts on for a number, in the portal (send them a sign-in link)", field=field)
