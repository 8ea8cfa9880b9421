"""Equality filters on text columns that cannot fail: a value longer than its column matches no row (none can
hold it), where tortoise would refuse it with a ValidationError and the caller would see "Unexpected error."."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q


def exactly(model: Any, field: str, value: str) -> Q:
    """Q(field=value), or a condition no row meets when `value` is longer than `field`'s column."""
    max_length = getattr(model._meta.fields_map[field], "max_length", None)
    if max_length is not None and len(value) > max_length:
        return Q(pk__in=[])
    return Q(**{field: value})
