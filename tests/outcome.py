"""What a sequence of changes left of one SKU, as text two paths can be compared by (the domain's path against the
head's, folded first against left pending, ...): its backorders' rows and new history keyed by their place in the
order they were placed, the per-backorder events published (a range's read back as its consumers read it), the
stock levels and the queue's counts. The SKU's name, and any names drawn at random (order numbers), are replaced
so that two runs on two SKUs compare equal."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from domain import events as ev
from domain.store import mapping
from domain.store import models as t
from domain.store.served_ranges import opened
from tests import shown_places

# event fields that name the run rather than what happened to the backorder
RUN_NAMES = ("sku", "order_id", "purchase_order_id", "number", "skus", "record_id")


def as_either_path_wrote(cause_data: Any) -> Any:
    """A history row's cause data without the range a fold names in it (`mapping.FOLDED_RANGE`): the paths compared
    write the same cause, from their own range or none (that a range is read back by it: test_folded_range_key)."""
    data = mapping.as_json(cause_data)
    if isinstance(data, dict):
        data.pop(mapping.FOLDED_RANGE, None)
    return data


async def sku_outcome(sku: str, ids: Sequence[str], history_before: int, published: Sequence[ev.Event],
                      columns: Sequence[str], renamed: Iterable[str] = ()) -> dict[str, str]:
    """The SKU's rows (`columns`, with "id"), the history written after the first `history_before` rows of `ids`
    (the backorders in the order placed), what `published` told each of them, the stock and the counts: each as
    JSON text with `sku` and each of `renamed` replaced by a placeholder."""
    place = {backorder_id: n for n, backorder_id in enumerate(ids)}
    rows = await shown_places.rows("id", *columns, sku=sku)  # places as shown, not as stored
    history = await t.BackorderHistory.filter(backorder_id__in=ids).order_by("id").offset(history_before).values(
        "backorder_id", "at", "kind", "old_value", "new_value", "cause", "cause_data")
    told: dict[int, list[dict[str, Any]]] = {}
    for e in ev.expand(await opened(published)):
        data = e.to_dict()
        n = place.get(data.pop("backorder_id", None), -1)
        for key in RUN_NAMES:
            data.pop(key, None)
        told.setdefault(n, []).append(data)
    by_backorder: dict[int, list[tuple[Any, ...]]] = {}
    for h in history:
        h["cause_data"] = as_either_path_wrote(h["cause_data"])
        by_backorder.setdefault(place[h.pop("backorder_id")], []).append(tuple(h.values()))
    result = {"rows": sorted((place[r.pop("id")], r) for r in rows), "history": by_backorder, "told": told,
              "stock": await t.StockLevel.filter(sku=sku).order_by("location").values("location", "on_hand",
                                                                                      "allocated"),
              "counts": await t.Product.get(sku=sku).values("waiting_count", "waiting_units")}
    texts = {key: json.dumps(value, default=str, sort_keys=True).replace(sku, "SKU") for key, value in result.items()}
    for name in renamed:
        texts = {key: text.replace(name, "NAME") for key, text in texts.items()}
    return texts


async def sku_projection(sku: str) -> str:
    """What the SKU keeps of its queue beside the rows `sku_outcome` compares: its projection (`eta_projection`, the
    steps every stored ETA follows, with its demand origin), its place origin, its queue's counts, and each
    backorder's demand index (`demand_to`) in the order placed; as JSON text with `sku` replaced."""
    product = await t.Product.get(sku=sku).values("eta_projection", "place_origin", "waiting_count", "waiting_units")
    indexed = await shown_places.rows("ordered_at", "demand_to", order=("ordered_at", "id"), sku=sku)
    return json.dumps({"product": product, "demand_to": [row["demand_to"] for row in indexed]},
                      default=str, sort_keys=True).replace(sku, "SKU")
