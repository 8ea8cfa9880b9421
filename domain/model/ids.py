"""Identifiers: opaque time-ordered ids, and the numbers a person reads out on the phone.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime


def new_id() -> str:
    """A time-ordered opaque identifier (microseconds + randomness)."""
    return f"{time.time_ns() // 1000:014x}{secrets.token_hex(5)}"


ORDER_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U


def readable_number(prefix: str, now: datetime) -> str:
    """A number a person can read out on the phone: the day, then 8 characters of Crockford's base32, 40
    random bits, so that even 100k a day rarely meet (the use cases draw again on the rare clash)."""
    code = "".join(secrets.choice(ORDER_NUMBER_ALPHABET) for _ in range(8))
    return f"{prefix}-{now:%y%m%d}-{code}"
