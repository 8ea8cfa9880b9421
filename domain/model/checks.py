"""The checks every business object applies to what it is given: quantities, SKUs, email addresses.
"""

from __future__ import annotations

import re

from domain.errors import InvalidInput, InvalidQuantity
from domain.limits import check_text, shown

MAX_QUANTITY = 1_000_000


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$")


def check_quantity(value: int, field_name: str = "quantity", *, allow_zero: bool = False) -> int:
    """`field_name` is the domain's key for the value (snake_case, e.g. `safety_stock`, `lines.quantity`)."""
    label = field_name.replace("_", " ")  # people read "safety stock", not the key
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQuantity(f"{label} must be a whole number", field=field_name)
    if value < 0 or (value == 0 and not allow_zero):
        least = "zero or more" if allow_zero else "at least 1"
        raise InvalidQuantity(f"{label} must be {least}", field=field_name)
    if value > MAX_QUANTITY:
        raise InvalidQuantity(f"{label} must be at most {MAX_QUANTITY}", field=field_name)
    return value


def check_sku(sku: str, field_name: str = "sku") -> str:
    sku = (sku or "").strip()
    if not _SKU.fullmatch(sku):
        raise InvalidInput(f"{shown(sku)} is not a valid SKU (letters, digits, . _ - /; up to 64)", field=field_name)
    return sku


def check_email(email: str, field_name: str = "email") -> str:
    email = check_text(email, field_name, max_length=254, what="an email address").lower()
    if not _EMAIL.match(email):
        raise InvalidInput(f"{shown(email)} is not a valid email address", field=field_name)
    return email
