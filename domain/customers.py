"""What a customer chose: how they are told (channels, quiet hours, time zone and language), and the defaults
their new backorders start with ("cancel if not by" date, substitute consent: domain.preferences)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.errors import InvalidInput
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
