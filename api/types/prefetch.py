"""Prefetching what a list's query selects, so the fields below it complete without an await."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from typing import Any

from strawberry.types.nodes import SelectedField

from api.context import Loaders
from api.types.common import Ctx, reader_is_staff
from domain import model as m
from domain.store import current
from domain.store import queries as q

# -- prefetch ---------------------------------------------------------------------------------
# A list resolver loads, in a few batches, the related objects its query will ask for, before returning: the
# fields below it then find them in the loaders and complete without an await (see `load_now`). The batches
# are the ones the fields would have made themselves, so this adds no statement, it only saves the awaits.
Path = tuple[str, ...]


def selected_paths(info: Ctx) -> frozenset[Path]:
    """Every path of fields the query selects under the current field, by GraphQL name, fragments flattened and
    a connection's `nodes` / `edges { node }` dropped, e.g. ("lines", "backorder", "history"). The paths depend
    on the document alone (directives are not applied), so they are worked out once per field of a parsed
    document: strawberry's `selected_fields` converts the whole selection below, arguments and directives
    included, on every call."""
    nodes = info._raw_info.field_nodes
    key = tuple(map(id, nodes))
    found = _PATHS.get(key)
    if found is not None and all(a is b for a, b in zip(found[0], nodes, strict=True)):
        return found[1]
    out: set[Path] = set()

    def walk(selections: list[Any], prefix: Path) -> None:
        for selection in selections:
            if isinstance(selection, SelectedField):
                path = prefix + (selection.name,)
                if path in (("nodes",), ("edges",), ("edges", "node")):
                    walk(selection.selections, ())
                    continue
                out.add(path)
                walk(selection.selections, path)
            else:  # a fragment: its fields are the parent's
                walk(selection.selections, prefix)

    for field in info.selected_fields:
        walk(field.selections, ())
    paths = frozenset(out)
    _PATHS[key] = (list(nodes), paths)  # the entry keeps the nodes alive, so their ids stay unique
    while len(_PATHS) > 1024:
        _PATHS.popitem(last=False)
    return paths


_PATHS: OrderedDict[tuple[int, ...], tuple[list[Any], frozenset[Path]]] = OrderedDict()


async def prefetch(info: Ctx, orders: Sequence[m.Order] = (), backorders: Sequence[m.Backorder] = ()) -> None:
    """Load what the query selects below these orders (or backorders): line products, backorders, their
    history, products and substitutes (with the substitutes' stock)."""
    wants = selected_paths(info)
    loaders = info.context.loaders
    lines = [line for o in orders for line in o.lines]
    roots: list[Path] = [()] if backorders else []  # where backorders sit in the selection
    ids: list[str] = []
    if ("lines", "backorder") in wants:
        roots.append(("lines", "backorder"))
        ids += [line.backorder_id for line in lines if line.backorder_id]
    if ("lines", "substituteFor") in wants:
        roots.append(("lines", "substituteFor"))
        ids += [line.substitute_for for line in lines if line.substitute_for]
    if ("backorders",) in wants and orders:
        roots.append(("backorders",))
        ids += [line.backorder_id for line in lines if line.backorder_id]
    if not roots and ("lines", "product") not in wants:
        return
    ids = list(dict.fromkeys(ids))
    wanted = {field for root in roots for field in ("history", "product", "substitutes", "goodwill")
              if root + (field,) in wants}
    first: list[Awaitable[Any]] = []
    of_backorders = bool(wanted & {"product", "substitutes"})  # a line's backorder is of the line's SKU
    skus = {line.sku for line in lines} if ("lines", "product") in wants or of_backorders else set()
    skus |= {b.sku for b in backorders} if of_backorders else set()
    if skus and "substitutes" in wanted:  # the products and their substitutes in one statement
        first.append(_products_and_substitutes(list(skus), loaders))
    elif skus:
        first.append(loaders.product_by_sku.fetch_many(list(skus)))
    if ids and any(root + ("queueExplanation",) in wants for root in roots):
        first.append(_backorders_explained(ids, loaders))  # with each one's count of orders placed before it
    elif ids:
        first.append(loaders.backorder_by_id.fetch_many(ids))
    if "goodwill" in wanted:
        first.append(loaders.goodwill_by_backorder.fetch_many(ids + [b.id for b in backorders]))
    if "history" in wanted:
        first.append(loaders.history_by_backorder.fetch_many(ids + [b.id for b in backorders]))
        if not reader_is_staff(info):  # worded in the customer's language (a customer reads only their own)
            email = info.context.principal.customer_email if info.context.principal else None
            if email:
                first.append(loaders.language_by_email.load(email))
    await current.all_of(*first)
    if "substitutes" not in wanted:
        return
    found = [b for b in await loaders.backorder_by_id.fetch_many(ids) if b is not None] + list(backorders)
    products = await loaders.product_by_sku.fetch_many(list({b.sku for b in found}))
    substitutes = list({sku: None for p in products if p is not None for sku in p.substitutes})
    if substitutes:
        await current.all_of(loaders.product_by_sku.fetch_many(substitutes),
                             loaders.stock_by_sku.fetch_many(substitutes))


async def _products_and_substitutes(skus: list[str], loaders: Loaders) -> None:
    found = await q.products_with_substitutes(skus)
    named = {sku for product in found.values() for sku in product.substitutes}
    for sku in dict.fromkeys([*skus, *named]):  # a SKU asked for or named and not found is known to be absent
        loaders.product_by_sku.prime(sku, found.get(sku))


async def _backorders_explained(ids: list[str], loaders: Loaders) -> None:
    backorders, in_turn = await q.backorders_with_turns(ids)
    for key, backorder in backorders.items():
        loaders.backorder_by_id.prime(key, backorder)
    for key in backorders:
        loaders.placed_in_turn_by_backorder.prime(key, in_turn.get(key, False))
