"""What a value from outside may be: lengths, characters and numeric ranges, checked once in the domain so
GraphQL, the CSV import and the command line all refuse the same input with the same typed error, before
anything is written. The bounds are the storage's (column widths, 32-bit integer columns, NUMERIC(12, 2)),
which are also GraphQL's (its Int is 32-bit): a value past them was saved on SQLite and then could not be
read back, and failed as an unexpected error on PostgreSQL.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import InvalidInput, InvalidQuantity

MAX_NAME_LENGTH = 200  # names of customers, suppliers, tokens
MAX_PRODUCT_NAME_LENGTH = 300
MAX_TEXT_LENGTH = 500  # reasons, notes
MAX_KEY_LENGTH = 128  # idempotency keys
MAX_ID_LENGTH = 32  # the key inside an opaque ID
MAX_UNITS = 2**31 - 1  # any stored count of units (32-bit columns; GraphQL's Int)
MAX_AMOUNT = Decimal("9999999999.99")  # NUMERIC(12, 2)
# ONE rule for the codes people type and read out: locations and purchase-order numbers. Letters, digits,
# and . _ - inside; nothing that reads as a path, markup or another script's direction.
CODE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._\-]{0,30}[A-Za-z0-9])?")
MAX_CODE_LENGTH = 32
_ID_KEY = re.compile(r"[A-Za-z0-9_\-]{1,32}")


def shown(value: object, limit: int = 40) -> str:
    """A value quoted in an error message, cut short: a 1 MB input must not come back as a 1 MB message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…'"


def check_text(value: str | None, field: str, *, max_length: int = MAX_NAME_LENGTH, required: bool = False,
               multiline: bool = False, what: str = "this") -> str:
    """Trimmed text of at most `max_length` characters with no control characters (NUL is refused by
    PostgreSQL) and no lone surrogates (not encodable as UTF-8, so no database can store them)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text", field=field)
    value = value.strip()
    if len(value) > max_length:
        raise InvalidInput(f"{what} must be at most {max_length} characters", field=field)
    if required and not value:
        raise InvalidInput(f"{what} cannot be blank", field=field)
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            raise InvalidInput(f"{what} contains a character that is not valid Unicode", field=field)
        if category == "Cc" and not (multiline and char in "\n\t"):
            raise InvalidInput(f"{what} contains a control character", field=field)
    return value


def check_code(value: str | None, field: str, what: str) -> str:
    """A location code or a purchase-order number: the one rule for both."""
    code = (value or "").strip() if isinstance(value, str) else ""
    if not CODE.fullmatch(code):
        raise InvalidInput(f"{shown(code)} is not a valid {what} (letters, digits and . _ - inside; "
                           f"up to {MAX_CODE_LENGTH})", field=field)
    return code


def check_location(value: str | None, field: str = "location") -> str:
    return check_code(value, field, "location code").upper()


def check_id_key(value: str, field: str, what: str = "ID") -> str:
    """The key inside an opaque ID: what `new_id` makes, or a short code."""
    if not isinstance(value, str) or not _ID_KEY.fullmatch(value):
        raise InvalidInput(f"{shown(value)} is not a valid {what}", field=field)
    return value


def check_units(value: int, field: str, what: str = "a stock level") -> int:
    """A count of units that is stored: on hand, allocated, safety stock, limits."""
    if value > MAX_UNITS or value < -MAX_UNITS:
        raise InvalidQuantity(f"{what} cannot pass {MAX_UNITS:,} units", field=field)
    return value


def check_amount(value: Decimal | str | int | float, field: str) -> Decimal:
    """An amount of money: finite, zero or more, at most MAX_AMOUNT, in cents."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"{shown(value)} is not an amount of money", field=field) from exc
    if not amount.is_finite() or amount < 0:
        raise InvalidInput("an amount of money must be zero or more", field=field)
    if amount > MAX_AMOUNT:
        raise InvalidInput(f"an amount of money must be at most {MAX_AMOUNT:,}", field=field)
    return amount.quantize(Decimal("0.01"))


def check_period(first: date | None, last: date | None, last_field: str) -> None:
    """A period of days, both ends included (either may be open): the ONE rule for every report over a period.
    A period that ends before it starts names its end, the value that has to move."""
    if first is not None and last is not None and last < first:
        raise InvalidInput("the period ends before it starts", field=last_field)


def check_timezone(value: str | None, field: str = "timezone") -> str:
    """An IANA time zone name such as Europe/London."""
    zone = check_text(value, field, max_length=64, required=True, what="a time zone")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidInput(f"{shown(zone)} is not a time zone (e.g. Europe/London)", field=field) from exc
    return zone
