"""Receipts recorded as ranges told back per backorder (`ports.ServedRanges`, issue 15): the backorders a
`QueueServed` covers read in one go, whichever side of the fold each of them is on, and made into the per-backorder
events the receipt told for them (`domain.model.served`).

How the same answer comes either side of the fold: the range's record (`queue_serves`) says how many of its
backorders are folded (`folded_count`; the fold takes them from the head, in queue order, and writes each one's
history at the receipt's time and for its cause). Those not yet folded are still waiting at the head of the SKU's
queue, untouched (every writer of the SKU folds first): read as they are (after any older record's unfolded ones),
`head.serve` decides for them again what it decided at the receipt. Those folded are the backorders of the SKU with
a STATUS -> ALLOCATED history row at the receipt's time and for its cause, in the order the fold wrote them: their
old status and ETA come from that history, the reason from the row (the fold wrote it and nothing rewrites it while
the backorder stays allocated), what was allocated before from the event (`QueueServed.partly`: the one thing the
rows forget). The record's count is read before and after, and the covered backorders counted: a fold chunk
committed in between (PostgreSQL reads at READ COMMITTED) reads again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from domain import events as ev
from domain import model as m
from domain.model.served import Covered, covered_events, still_waiting
from domain.store import mapping
from domain.store import models as t
from domain.store.bulk import is_postgres
from domain.store.ordering import by_code_point
from domain.store.uow import _WAITING_COLUMNS, _WAITING_ROWS, WAITING, _waiting

COMPACT_ASIDE = 6_000  # per-backorder events from which they are folded into one QueueChanged in a worker thread
ATTEMPTS = 5  # reads of a range a fold kept changing under them before giving up


class RangeNotFound(RuntimeError):
    """The backorders a recorded receipt covers could not be read back as it recorded them."""


class StoredServedRanges:
    """`ports.ServedRanges` over the store: on `conn` (a transaction's, to read what it wrote), or the default
    connection."""

    def __init__(self, conn: BaseDBAsyncClient | None = None) -> None:
        self.conn = conn

    async def backorder_events(self, served: ev.QueueServed,
                               customers: Collection[str] | None = None) -> list[ev.BackorderEvent]:
        covered = await covered_backorders(served, self.conn)
        if customers is not None:
            wanted = set(customers)
            covered = [c for c in covered if c.customer_email in wanted]
        return covered_events(served, covered)


async def covered_backorders(served: ev.QueueServed, conn: BaseDBAsyncClient | None = None) -> list[Covered]:
    """The backorders `served` covers, in queue order, each as the receipt found it."""
    db = conn or t.QueueServe._meta.db
    for _ in range(ATTEMPTS):
        folded, skip = await _progress(served, db)
        covered = await _folded(served, folded, db) if folded else []
        if len(covered) != folded:
            continue
        rows = await _still_waiting(served.sku, skip, served.count - folded, db) if folded < served.count else []
        covered.extend(still_waiting(served, rows, folded + 1))
        if len(covered) == served.count and await _progress(served, db) == (folded, skip):
            return covered
    raise RangeNotFound(f"{served.sku}: the {served.count} backorders of receipt {served.record_id} could not be read")


async def _progress(served: ev.QueueServed, db: BaseDBAsyncClient) -> tuple[int, int]:
    """How many of the range's backorders are folded; and how many of the SKU's older ranges' are not (waiting
    ahead of this range's own)."""
    rows = await t.QueueServe.filter(sku=served.sku, id__lte=served.record_id).using_db(db).values_list(
        "id", "served_count", "folded_count")
    mine = [folded for record_id, _, folded in rows if record_id == served.record_id]
    if not mine:
        raise RangeNotFound(f"{served.sku}: no recorded receipt {served.record_id}")
    ahead = sum(count - folded for record_id, count, folded in rows if record_id != served.record_id)
    return int(mine[0]), ahead


async def _folded(served: ev.QueueServed, folded: int, db: BaseDBAsyncClient) -> list[Covered]:
    """The range's first `folded` backorders, folded into their rows: found by the history the fold wrote."""
    postgres = is_postgres(db)
    marks = ["$1", "$2", "$3"] if postgres else ["?"] * 3
    rows = await db.execute_query_dict(
        'SELECT b."id", b."order_id", b."customer_email", b."quantity", b."allocation_reason", h."id" AS "hid", '
        'h."kind", h."old_value", h."new_value", h."at", h."cause", h."cause_data" '
        'FROM "backorder_history" AS h JOIN "backorders" AS b ON b."id" = h."backorder_id" '
        f'WHERE b."sku" = {marks[0]} AND h."at" = {marks[1]} AND h."cause" = {marks[2]} '
        'AND h."kind" IN (\'STATUS\', \'ETA\') ORDER BY h."id"',
        [served.sku, served.occurred_at, served.cause.kind.value])
    partly = dict(served.partly)
    statuses: dict[str, dict[str, Any]] = {}
    etas: dict[str, dict[str, Any]] = {}
    unmarked: set[str] = set()  # backorders whose STATUS row names no range
    for row in rows:
        if mapping.as_datetime(row["at"]) != served.occurred_at or \
                mapping.history_cause(row["cause"], row["cause_data"]) != served.cause:
            continue
        marked = mapping.folded_range(row["cause_data"])
        if marked not in (served.record_id, None):
            continue  # folded from another range of the same time and cause
        if row["kind"] == "STATUS":
            if row["new_value"] == m.BackorderStatus.ALLOCATED.value and row["id"] not in statuses:
                statuses[row["id"]] = row
                if marked is None:
                    unmarked.add(row["id"])
        elif row["id"] in statuses and row["id"] not in etas:
            etas[row["id"]] = row
    named = [(i, row) for i, row in statuses.items() if i not in unmarked]
    # rows that do not name their range: written by a fold from before it named it (the range's first, since it
    # folds in queue order), or by a receipt's rows served directly (`_write_served`) at the same time and cause.
    # Only as many as the named ones leave short of `folded` are the range's, the first at its time and cause: the
    # old way, ambiguous only between ranges folded before the change that share their time and cause
    unnamed = [(i, row) for i, row in statuses.items() if i in unmarked]
    covered = sorted(unnamed[:max(folded - len(named), 0)] + named, key=lambda item: item[1]["hid"])[:folded]
    quantities = await _quantities_then(served.sku, min((row["hid"] for _, row in covered), default=0), db)
    out = []
    for backorder_id, row in covered:
        eta = etas.get(backorder_id)
        # its quantity when served: what a later cancel or substitute (each a QUANTITY history row) left it
        later = quantities.get(backorder_id, ())
        then = next((int(old) for hid, old in later if hid > row["hid"]), row["quantity"])
        out.append(Covered(backorder_id, row["order_id"], row["customer_email"], then,
                           partly.get(backorder_id, 0), row["old_value"], row["allocation_reason"],
                           mapping.as_date(eta["old_value"]) if eta and eta["old_value"] else None, eta is not None))
    return out


async def _quantities_then(sku: str, after: int, db: BaseDBAsyncClient) -> dict[str, list[tuple[int, str]]]:
    """The quantity changes of the SKU's backorders recorded after history row `after`: (row, old quantity) each,
    in order."""
    marks = ["$1", "$2"] if is_postgres(db) else ["?"] * 2
    rows = await db.execute_query_dict(
        'SELECT h."backorder_id", h."id", h."old_value" FROM "backorder_history" AS h '
        'JOIN "backorders" AS b ON b."id" = h."backorder_id" '
        f'WHERE b."sku" = {marks[0]} AND h."kind" = \'QUANTITY\' AND h."id" > {marks[1]} ORDER BY h."id"', [sku, after])
    out: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        out.setdefault(row["backorder_id"], []).append((row["id"], row["old_value"]))
    return out


async def _still_waiting(sku: str, skip: int, take: int, db: BaseDBAsyncClient) -> list[m.Waiting]:
    """The `take` backorders waiting for `sku` after the first `skip`, in queue order."""
    dialect = "postgres" if is_postgres(db) else "sqlite"
    by_id = by_code_point('"id"', dialect)
    marks = ["$1", "$2", "$3"] if dialect == "postgres" else ["?"] * 3
    raw = await db.execute_query_dict(
        f'SELECT {_WAITING_COLUMNS} FROM "backorders" WHERE "sku" = {marks[0]} AND "status" IN ({marks[1]}, '
        f'{marks[2]}) AND {_WAITING_ROWS} AND "quantity" > "allocated_quantity" '
        f'ORDER BY "priority_override" DESC, "ordered_at", {by_id} '
        f'LIMIT {int(take)} OFFSET {int(skip)}', [sku, *WAITING])
    # their stored places as they are (not less the SKU's origin, migration 0029): `serve` gives each of them, all
    # served whole, no place, and numbers them from `first_position`
    return _waiting(raw, 0)


async def opened(events: Sequence[ev.Event], conn: BaseDBAsyncClient | None = None) -> list[ev.Event]:
    """`events` with each QueueServed replaced by the per-backorder events it stands for, kept together as one
    QueueChanged (what a consumer of a long queue's change already takes): read on `conn`."""
    if not any(isinstance(e, ev.QueueServed) for e in events):
        return list(events)
    ranges = StoredServedRanges(conn)
    out: list[ev.Event] = []
    for event in events:
        if not isinstance(event, ev.QueueServed):
            out.append(event)
            continue
        told = await ranges.backorder_events(event)
        if len(told) >= COMPACT_ASIDE:  # 300k events folded: a second of Python, in a worker thread
            out.extend(await asyncio.to_thread(ev.compact, told, 1))
        else:
            out.extend(ev.compact(told, 1))
    return out
