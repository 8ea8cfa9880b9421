"""The backorders' rows as a test reads them: the table's columns with each place as shown, never as stored.

A stored place (`backorders.queue_position`) counts from its SKU's origin (`products.place_origin`, migration 0029),
which a receipt at the head of a queue moves instead of rewriting the places behind it (`uow.ORIGIN_FROM`; every
test runs with it moving, tests/conftest.py). The place shown is the stored one less the origin: what the store's
readers see through `backorders_placed` (the seam's view when no served range is pending, domain.store.current) and
what a test compares. So a test reads backorder rows here, where they come from that view, and not from
`t.Backorder` (tests/unit/test_tests_read_shown_places.py fails on a test that reads the stored column).

`rows` is `t.Backorder.filter(**where).order_by(*order).values(*columns)`; `backorder` and `backorders` are
`t.Backorder.get_or_none(id=...)` and `t.Backorder.filter(**where)`: model instances (typed as the ORM types them),
read only (their `queue_position` is the shown place: saving one would store it as stored).
"""

from __future__ import annotations

from typing import Any

from pypika_tortoise import Order, Query, Table

from domain.store import models as t

PLACED = Table("backorders_placed")  # migration 0029: the table, `queue_position` shown


def _select(where: dict[str, Any], order: tuple[str, ...]) -> str:
    query = Query.from_(PLACED).select("*")
    for key, value in where.items():
        column, _, lookup = key.partition("__")
        if lookup == "in":
            query = query.where(PLACED[column].isin(list(value)))
        elif not lookup:
            query = query.where(PLACED[column].isnull() if value is None else PLACED[column] == value)
        else:
            raise ValueError(f"{key}: only `column=` and `column__in=` filters")
    for column in order:
        query = query.orderby(column.lstrip("-"), order=Order.desc if column.startswith("-") else Order.asc)
    return query.get_sql()


async def backorders(*order: str, **where: Any) -> list[t.Backorder]:
    """The backorders the filters (`column=value`, `column__in=values`) select, in `order` (`"-column"`: down)."""
    if "id__in" in where and not where["id__in"]:
        return []
    return list(await t.Backorder.raw(_select(where, order)))


async def backorder(backorder_id: str) -> t.Backorder | None:
    found = await backorders(id=backorder_id)
    return found[0] if found else None


async def rows(*columns: str, order: tuple[str, ...] = (), **where: Any) -> list[dict[str, Any]]:
    """The named columns (all when none is named) of the backorders the filters select, as `values()` gives them."""
    names = columns or tuple(t.Backorder._meta.fields_db_projection)
    return [{c: getattr(b, c) for c in names} for b in await backorders(*order, **where)]
