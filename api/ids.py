"""Opaque global IDs: base64url of "Type:key". Clients never build or parse them."""

from __future__ import annotations

import base64
import binascii

from domain.errors import InvalidInput


def encode_id(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode_id(kind: str, value: str, field: str = "id") -> str:
    """The key inside an ID of the expected kind; a typed error for anything else."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"{value!r} is not a valid {kind} ID", field=field) from exc
    prefix, _, key = raw.partition(":")
    if prefix != kind or not key:
        raise InvalidInput(f"{value!r} is not a valid {kind} ID", field=field)
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
