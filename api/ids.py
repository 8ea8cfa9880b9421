"""Opaque global IDs: base64url of "Type:key". Clients never build or parse them."""

from __future__ import annotations

import base64
import binascii
import functools

from domain.errors import InvalidInput
from domain.limits import MAX_ID_LENGTH, MAX_KEY_LENGTH, check_text, shown

KEY_LENGTHS = {"Product": 64, "cursor": MAX_KEY_LENGTH}  # a product's ID holds its SKU; the rest, new_id()s
MAX_ENCODED = 4 * (20 + MAX_KEY_LENGTH) // 3 + 4  # base64 of the longest "Kind:key"


@functools.lru_cache(maxsize=65536)  # a page encodes the same few hundred IDs on every request
def encode_id(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode_id(kind: str, value: str, field: str = "id") -> str:
    """The key inside an ID of the expected kind; a typed error for anything else."""
    if len(value) > MAX_ENCODED:
        raise InvalidInput(f"{shown(value, 80)} is not a valid {kind} ID", field=field)
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidInput(f"{shown(value, 80)} is not a valid {kind} ID", field=field) from exc
    prefix, _, key = raw.partition(":")
    if prefix != kind or not key:
        raise InvalidInput(f"{shown(value, 80)} is not a valid {kind} ID", field=field)
    # the key goes into SQL: bounded like the column it names, with no character a database refuses
    try:
        check_text(key, field, max_length=KEY_LENGTHS.get(kind, MAX_ID_LENGTH))
    except InvalidInput as exc:
        raise InvalidInput(f"{shown(value, 80)} is not a valid {kind} ID", field=field) from exc
    return key


def try_decode_id(kind: str, value: str) -> str | None:
    try:
        return decode_id(kind, value)
    except InvalidInput:
        return None


def encode_cursor(key: str) -> str:
    return encode_id("cursor", key)


def decode_cursor(value: str | None) -> str | None:
    return decode_id("cursor", value, field="after") if value else None
