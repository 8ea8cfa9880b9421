"""What a customer decides once instead of reacting to every delay: the latest date worth waiting for
(`cancel_if_not_by`) and whether an in-stock substitute may be taken for them (`SubstituteConsent`), per
backorder and as the account's defaults for new backorders. Pure rules; the use cases apply them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import InvalidInput


class Keep(Enum):
    """Leave a preference as it is (None would clear it)."""

    KEEP = "KEEP"


KEEP = Keep.KEEP


class SubstituteConsent(str, Enum):
    NEVER = "NEVER"  # no substitute is ever offered for it
    ASK = "ASK"  # offered; the customer decides (the behaviour before preferences existed, and the default)
    SAME_PRICE_OR_LOWER = "SAME_PRICE_OR_LOWER"  # taken for them when one costs no more, in the same currency
    ANY_LISTED = "ANY_LISTED"  # taken for them when any listed substitute is in stock

    @property
    def automatic(self) -> bool:
        return self in (SubstituteConsent.SAME_PRICE_OR_LOWER, SubstituteConsent.ANY_LISTED)


@dataclass(frozen=True)
class BackorderPreferences:
    """A backorder's own choices (or, on the account, the defaults a new backorder starts with)."""

    cancel_if_not_by: date | None = None
    substitutes: SubstituteConsent = SubstituteConsent.ASK
    timezone: str = "UTC"  # the customer's (their notification preferences'): where their dates are days


def customer_today(now: datetime, timezone: str) -> date:
    """The customer's date at `now`. A "cancel if not by" date is the customer's: a Los Angeles customer's
    31 March lasts until 07:00 UTC on 1 April, not until midnight UTC (16:00 their time). A zone this machine
    does not know (a stored name from an older tz database) is read as UTC rather than refusing to settle."""
    zone: tzinfo
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        zone = UTC
    return now.astimezone(zone).date()


def check_cancel_if_not_by(value: date | None, today: date, eta: date | None = None,
                           field: str = "cancel_if_not_by") -> date | None:
    """A date that is not already passed, and (for a backorder) not before the date it is expected on: such a
    date would cancel it the moment it is set, which is a cancel, not a preference."""
    if value is None:
        return None
    if not isinstance(value, date):
        raise InvalidInput("the latest date is a date, e.g. 2027-01-31", field=field)
    if value < today:
        raise InvalidInput(f"{value.isoformat()} has already passed", field=field)
    if eta is not None and value < eta:
        raise InvalidInput(
            f"this backorder is expected on {eta.isoformat()}: a date before that would cancel it now "
            "(cancel it instead, or choose a later date)", field=field)
    return value


def past_deadline(cancel_if_not_by: date | None, eta: date | None, now: datetime, timezone: str = "UTC") -> bool:
    """Whether a backorder still waiting for units is past its customer's latest date, a day in their time zone:
    that day has ended where they are, or the units are now expected on a day (the shop's days are UTC) that
    begins after it has ended. A Los Angeles customer's 10 March ends at 07:00 UTC on the 11th: units expected
    on the 11th may still come within it, so neither the date nor such an ETA cancels before then."""
    if cancel_if_not_by is None:
        return False
    if customer_today(now, timezone) > cancel_if_not_by:
        return True
    if eta is None or eta <= cancel_if_not_by:
        return False
    if (eta - cancel_if_not_by).days > 1:  # no zone is a whole day from UTC: past wherever they are
        return True
    return customer_today(datetime.combine(eta, time(0), UTC), timezone) > cancel_if_not_by


@dataclass(frozen=True)
class Candidate:
    """A substitute as the automatic choice sees it: its price and the units free to take now."""

    sku: str
    price: Decimal
    currency: str
    available: int
    released: bool = True


def acceptable(consent: SubstituteConsent, price: Decimal, currency: str, candidate: Candidate) -> bool:
    """Whether the customer's consent covers taking `candidate` for an item of `price`. The caller gives a
    candidate priced in another currency already converted at the shop's rate (`domain.pricing`), or not at all;
    prices in different currencies are never compared as numbers: SAME_PRICE_OR_LOWER then does not hold."""
    if consent is SubstituteConsent.ANY_LISTED:
        return True
    if consent is SubstituteConsent.SAME_PRICE_OR_LOWER:
        return candidate.currency == currency and candidate.price <= price
    return False


def choose_substitute(consent: SubstituteConsent, *, price: Decimal, currency: str, needed: int,
                      listed: Sequence[str], declined: Iterable[str],
                      candidates: Iterable[Candidate]) -> str | None:
    """The substitute to take automatically for `needed` waiting units, or None: the first in the product's
    listed order that the customer has not declined, is released, has every unit free now and is within
    their consent. Nothing for NEVER or ASK."""
    if not consent.automatic or needed <= 0:
        return None
    refused = set(declined)
    by_sku = {c.sku: c for c in candidates}
    for sku in listed:
        candidate = by_sku.get(sku)
        if candidate is None or sku in refused or not candidate.released or candidate.available < needed:
            continue
        if acceptable(consent, price, currency, candidate):
            return sku
    return None


def offerable(consent: SubstituteConsent, listed: Sequence[str], declined: Iterable[str]) -> list[str]:
    """The listed substitutes that may be offered to this customer: none for NEVER, never a declined one."""
    if consent is SubstituteConsent.NEVER:
        return []
    refused = set(declined)
    return [sku for sku in listed if sku not in refused]
