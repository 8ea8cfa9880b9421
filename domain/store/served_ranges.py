"""Receipts recorded as ranges told back per backorder (`ports.ServedRanges`, issue 15): the backorders a
`QueueServed` covers read in one go, whichever side of the fold each of them is on, and made into the per-backorder
events the receipt told for them (`domain.model.served`).

How the same answer comes either side of the fold: the range's record (`queue_serves`) says how many of its
backorders are folded (`folded_count`; the fold takes them from the head, in queue order, and writes each one's
history at the receipt's time and for its cause, naming the range). Those not yet folded are still waiting at the
head of the SKU's queue, untouched (every writer of the SKU folds first): read as they are, between the range's first
and last keys, `head.serve` decides for them again what it decided at the receipt. Those folded are the backorders
with a STATUS -> ALLOCATED history row naming the range, in the order the fold wrote them: their old status and ETA
come from that history, the reason from the row (the fold wrote it and nothing rewrites it while the backorder stays
allocated), what was allocated before from the event (`QueueServed.partly`: the one thing the rows forget). The two
reads need no lock and no retry: a fold chunk committed between them (PostgreSQL reads at READ COMMITTED) leaves its
backorders in both, never in neither (`covered_backorders`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Collection, Sequence
from contextlib import aclosing
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient

from domain import events as ev
from domain import model as m
from domain.eta import EtaSource
from domain.model.served import Covered, covered_events, customer_parts, queue_changed
from domain.store import mapping, turns
from domain.store import models as t
from domain.store.bulk import is_postgres
from domain.store.ordering import by_code_point
from domain.store.uow import _ETA_MOVED, _KEPT_ETA, _REASON, _WAITING_ROWS, _named

COMPACT_ASIDE = 6_000  # per-backorder events from which they are folded into one QueueChanged in a worker thread
_T = TypeVar("_T")
# rows made into `Covered` on the event loop at a time by a read in the background (about 10 ms): a 100k range's in
# a worker thread held every request's turns of the loop behind the thread's hold on the interpreter's lock (a placed
# order waited 187-226 ms during the 0.95 s read; `BENCH_REPEAT=1 python -m bench.allocation postgres`)
PIECE = 1_000


class RangeNotFound(RuntimeError):
    """The backorders a recorded receipt covers could not be read back as it recorded them."""


class StoredServedRanges:
    """`ports.ServedRanges` over the store: on `conn` (a transaction's, to read what it wrote), or the default
    connection."""

    def __init__(self, conn: BaseDBAsyncClient | None = None) -> None:
        self.conn = conn

    async def backorder_events(self, served: ev.QueueServed,
                               customers: Collection[str] | None = None) -> list[ev.BackorderEvent]:
        return covered_events(served, await self._covered(served, customers))

    async def queue_change(self, served: ev.QueueServed,
                           customers: Collection[str] | None = None) -> ev.QueueChanged | None:
        covered = await self._covered(served, customers)
        if not covered:
            return None
        if len(covered) < COMPACT_ASIDE:
            return queue_changed(served, covered)
        return await asyncio.to_thread(queue_changed, served, covered)

    async def _covered(self, served: ev.QueueServed, customers: Collection[str] | None) -> list[Covered]:
        covered = await covered_backorders(served, self.conn)
        if customers is not None:
            wanted = set(customers)
            covered = [c for c in covered if c.customer_email in wanted]
        return covered


async def served_parts(served: ev.QueueServed, conn: BaseDBAsyncClient | None = None) -> dict[str, ev.QueueChanged]:
    """Each customer's part of the range `served` (their digest's outbox row), read on `conn`: cut from the covered
    backorders as they are read, a 100k range's in a worker thread."""
    covered = await covered_backorders(served, conn)
    if len(covered) < COMPACT_ASIDE:
        return customer_parts(served, covered)
    return await asyncio.to_thread(customer_parts, served, covered)


async def covered_backorders(served: ev.QueueServed, conn: BaseDBAsyncClient | None = None, *,
                             in_turns: bool = False) -> list[Covered]:
    """The backorders `served` covers, in queue order, each as the receipt found it: whatever a fold in another
    transaction commits meanwhile (no lock on the SKU is taken, and PostgreSQL reads each statement at READ
    COMMITTED). Those still waiting are read first, by the range's own keys and only while the range is not folded
    whole (one statement: one snapshot); then those folded, with the record's folded count in the same statement.
    A backorder folded in between is in both, and kept as folded: what either read misses, the other has.
    `in_turns` (a read outside any transaction, in the background): the rows still waiting are made into `Covered`
    a piece at a time on the event loop, each piece once the requests in flight have had their turns
    (`turns.after_requests`)."""
    db = conn or t.QueueServe._meta.db
    waiting = await _still_waiting(served, db, in_turns)
    covered = await _folded(served, db)
    folded = {c.id for c in covered}
    covered.extend(c for c in waiting if c.id not in folded)
    if len(covered) != served.count:
        raise RangeNotFound(f"{served.sku}: {len(covered)} of the {served.count} backorders of receipt "
                            f"{served.record_id} read back")
    return covered


async def covered_by_customer(served: ev.QueueServed, db: BaseDBAsyncClient) -> AsyncGenerator[list[Covered], None]:
    """The backorders `served` covers, as `covered_backorders` reads them, in customer order (code point of the email,
    each one's in queue order: what a fan-out tells a slice of whole customers at a time, `ArrivingByCustomer`), a
    piece at a time on the event loop, each piece once the requests in flight have had their turns. Outside any
    transaction, in the background: `db` is the read's own connection (`aside.aside_connection`).
    While none of the range is folded (the fan-out runs before the fold) they are all still waiting, and one statement
    reads them from a cursor, in one snapshot however long the telling takes: a 100k range's backorders are never all
    held at once (they were, 20-40 MiB of the background's peak resident set). Its first row says whether that holds
    (the record's folded count and the rows' total, in the same snapshot); otherwise (a writer of the SKU, or a round
    after a crash, folded part of it first) the range is read whole, both sides of the fold, and sorted."""
    sql, values = _waiting_sql(served, is_postgres(db), by_customer=True)
    streamed = 0
    async with aclosing(_fetched_in_pieces(db, sql, values)) as pieces:
        async for piece in pieces:
            if not streamed and (int(piece[0]["folded_then"]) or int(piece[0]["total"]) != served.count):
                break  # part folded already: read whole below
            if streamed:
                await turns.after_requests()
            streamed += len(piece)
            yield _waiting_covered(piece)
    if streamed:
        if streamed != served.count:  # the statement's total said otherwise: never, one snapshot
            raise RangeNotFound(f"{served.sku}: {streamed} of the {served.count} backorders of receipt "
                                f"{served.record_id} read back")
        return
    covered = await covered_backorders(served, db, in_turns=True)
    covered.sort(key=lambda c: c.customer_email)  # stable: each one's in queue order
    for start in range(0, len(covered), PIECE):
        yield covered[start:start + PIECE]


async def _folded(served: ev.QueueServed, db: BaseDBAsyncClient) -> list[Covered]:
    """The range's backorders folded into their rows: found by the history the fold wrote, as many as the record's
    folded count read in the same statement."""
    postgres = is_postgres(db)
    marks = ["$1", "$2", "$3", "$4"] if postgres else ["?"] * 4
    rows = await _fetch(
        db,
        'SELECT q."folded_count" AS "folded", r.* FROM "queue_serves" AS q LEFT JOIN ('
        'SELECT b."id", b."order_id", b."customer_email", b."quantity", b."allocation_reason", h."id" AS "hid", '
        'h."kind", h."old_value", h."new_value", h."at", h."cause", h."cause_data" '
        'FROM "backorder_history" AS h JOIN "backorders" AS b ON b."id" = h."backorder_id" '
        f'WHERE b."sku" = {marks[1]} AND h."at" = {marks[2]} AND h."cause" = {marks[3]} '
        f'AND h."kind" IN (\'STATUS\', \'ETA\')) AS r ON 1 = 1 WHERE q."id" = {marks[0]} ORDER BY r."hid"',
        [served.record_id, served.sku, served.occurred_at, served.cause.kind.value] if postgres else
        [served.sku, served.occurred_at, served.cause.kind.value, served.record_id])  # SQLite's marks in text order
    if not rows:
        raise RangeNotFound(f"{served.sku}: no recorded receipt {served.record_id}")
    folded = int(rows[0]["folded"])
    if not folded:
        return []
    covered = await _aside(lambda read: _folded_rows(served, folded, read), rows)
    quantities = await _quantities_then(served.sku, min((row["hid"] for _, row, _eta in covered), default=0), db)
    return await _aside(lambda read: _folded_covered(served, read, quantities), covered)


def _folded_rows(served: ev.QueueServed, folded: int, rows: Sequence[Any]) -> list[tuple[str, Any, Any]]:
    """The range's `folded` backorders among the history `rows` read for its SKU, time and cause: (id, its STATUS
    row, its ETA row or None) each, in the order the fold wrote them."""
    statuses: dict[str, Any] = {}
    etas: dict[str, Any] = {}
    unmarked: set[str] = set()  # backorders whose STATUS row names no range
    # the rows of one range share their time and cause (text): each distinct one is judged once, not per row
    judged: dict[tuple[Any, Any, Any], int | None | bool] = {}
    for row in rows:
        if row["hid"] is None:
            continue
        key = (row["at"], row["cause"], str(row["cause_data"]))
        marked = judged.get(key, True)
        if marked is True:
            ours = mapping.as_datetime(row["at"]) == served.occurred_at and \
                mapping.history_cause(row["cause"], row["cause_data"]) == served.cause
            marked = judged[key] = mapping.folded_range(row["cause_data"]) if ours else False
        if marked is False or marked not in (served.record_id, None):
            continue  # another time or cause, or folded from another range of the same time and cause
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
    chosen = sorted(unnamed[:max(folded - len(named), 0)] + named, key=lambda item: item[1]["hid"])[:folded]
    return [(i, row, etas.get(i)) for i, row in chosen]


def _folded_covered(served: ev.QueueServed, rows: Sequence[tuple[str, Any, Any]],
                    quantities: dict[str, list[tuple[int, str]]]) -> list[Covered]:
    partly = dict(served.partly)
    out = []
    for backorder_id, row, eta in rows:
        # its quantity when served: what a later cancel or substitute (each a QUANTITY history row) left it; one
        # committed since the read above is read too, and its old quantity is the one read there
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


async def _still_waiting(served: ev.QueueServed, db: BaseDBAsyncClient, in_turns: bool = False) -> list[Covered]:
    """The range's backorders still waiting, in queue order, each with what the receipt decided for it: the SKU's
    waiting backorders from the range's first key to its last, none once the range is folded whole (read in the same
    statement). Until then no writer of the SKU has committed since the receipt (each folds first): those are the
    range's, whatever the fold did; older ranges' backorders still waiting are ahead of its first, and after it
    folded whole the keys between its ends may hold others. Each one's reason and whether its ETA moves are worked
    out by the database by the rules the fold writes them by (`uow._REASON`, `_KEPT_ETA`, `_ETA_MOVED`: what
    `head.serve` decides for a backorder served whole), its place the folded count then plus its rank: no `serve`
    again in Python (2.4 s of a 10k range's fan-out)."""
    sql, values = _waiting_sql(served, is_postgres(db))
    if not in_turns:
        return await _aside(_waiting_covered, await _fetch(db, sql, values))
    out: list[Covered] = []
    # closed on the way out, whatever ends the loop: the cursor's connection (and its transaction) back at once
    async with aclosing(_fetched_in_pieces(db, sql, values)) as pieces:
        async for piece in pieces:
            if out:
                await turns.after_requests()
            out.extend(_waiting_covered(piece))
    return out


def _waiting_sql(served: ev.QueueServed, postgres: bool, by_customer: bool = False) -> tuple[str, list[Any]]:
    """The statement `_still_waiting` reads (in queue order); `by_customer`: in customer order (code point of the
    email, each one's in queue order), with the record's folded count and the rows' total in each row."""
    dialect = "postgres" if postgres else "sqlite"
    by_id = by_code_point('b."id"', dialect)
    (first_priority, first_at, first_id), (last_priority, last_at, last_id) = served.first, served.last
    key_id, key_at = (':{}::text COLLATE "C"', ":{}::timestamptz") if postgres else (":{}", ":{}")
    by_key = f'b."priority_override" DESC, b."ordered_at", {by_id}'  # queue order
    reason = _REASON.format(
        place=f'(q."folded_count" + ROW_NUMBER() OVER (ORDER BY {by_key}))', of=":of::bigint" if postgres else ":of",
        ordered="to_char(b.\"ordered_at\" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')" if postgres else
        'strftime(\'%Y-%m-%d %H:%M:%S\', b."ordered_at")')
    counted = ', q."folded_count" AS "folded_then", COUNT(*) OVER () AS "total" ' if by_customer else ' '
    by_email = by_code_point('b."customer_email"', dialect) + ", " if by_customer else ""
    return _named(
        'SELECT b."id", b."order_id", b."customer_email", b."quantity", b."allocated_quantity", b."status", '
        f'b."eta_date", NOT ({_KEPT_ETA}) AND {_ETA_MOVED} AS "moved", {reason} AS "reason"{counted}'
        'FROM "backorders" AS b JOIN "queue_serves" AS q ON q."id" = :record AND q."folded_count" < q."served_count" '
        f'WHERE b."sku" = :sku AND {_WAITING_ROWS} AND b."quantity" > b."allocated_quantity" '
        f'AND (b."priority_override" < :first_priority OR (b."priority_override" = :first_priority AND '
        f'(b."ordered_at" > {key_at.format("first_at")} OR (b."ordered_at" = {key_at.format("first_at")} '
        f'AND {by_id} >= {key_id.format("first_id")})))) '
        f'AND (b."priority_override" > :last_priority OR (b."priority_override" = :last_priority AND '
        f'(b."ordered_at" < {key_at.format("last_at")} OR (b."ordered_at" = {key_at.format("last_at")} '
        f'AND {by_id} <= {key_id.format("last_id")})))) '
        f'ORDER BY {by_email}{by_key}',
        {"record": served.record_id, "sku": served.sku, "first_priority": first_priority, "first_at": first_at,
         "first_id": first_id, "last_priority": last_priority, "last_at": last_at, "last_id": last_id,
         "of": served.waiting_count, "kept": EtaSource.ALLOCATED.value, "today": served.occurred_at.date()},
        postgres=postgres)


def _waiting_covered(rows: Sequence[Any]) -> list[Covered]:
    return [Covered(r["id"], r["order_id"], r["customer_email"], r["quantity"], r["allocated_quantity"], r["status"],
                    r["reason"], mapping.as_date(r["eta_date"]) if r["moved"] and r["eta_date"] else None,
                    bool(r["moved"]))
            for r in rows]


async def _aside(work: Callable[[Sequence[Any]], _T], rows: Sequence[Any]) -> _T:
    """`work(rows)`: in a worker thread when the rows are many. A 100k range's rows made into `Covered` held the
    event loop for 426 ms (`BENCH_LAG=50 python -m bench.allocation postgres`, the background work): every other
    SKU's request waited as long."""
    return work(rows) if len(rows) < COMPACT_ASIDE else await asyncio.to_thread(work, rows)


async def _fetched_in_pieces(db: BaseDBAsyncClient, sql: str, values: list[Any]) -> AsyncGenerator[Sequence[Any], None]:
    """The rows of `sql`, PIECE at a time, fetched from the database a piece at a time (the statement's one snapshot
    kept between them) where the connection is the read's own: the driver made a 100k range's rows in one call, on
    SQLite in its connection's thread for 2.1 s, and each of a request's statements waited its turns of the
    interpreter's lock behind it. On the models' own SQLite connection (in memory), whose lock every request's
    statement takes, fetched whole first."""
    if not is_postgres(db):
        if db is t.QueueServe._meta.db:
            rows = await _fetch(db, sql, values)
            for start in range(0, len(rows), PIECE):
                yield rows[start:start + PIECE]
            return
        async with db.acquire_connection() as connection, connection.execute(sql, values) as cursor:
            while piece := await cursor.fetchmany(PIECE):
                yield piece
        return
    async with db.acquire_connection() as connection, connection.transaction(readonly=True):
        cursor = await connection.cursor(sql, *values)
        while piece := await cursor.fetch(PIECE):
            yield piece


async def _fetch(db: BaseDBAsyncClient, sql: str, values: list[Any]) -> Sequence[Any]:
    """Rows of `sql` as the driver makes them, read by column name: `sqlite3.Row`s on SQLite, asyncpg's records on
    PostgreSQL. Not made into dicts: 200k held the event loop for a second on PostgreSQL, 100k for 207 ms on SQLite
    (`BENCH_LAG=30 python -m bench.allocation sqlite`, the background work)."""
    if not is_postgres(db):
        return (await db.execute_query(sql, values))[1]
    async with db.acquire_connection() as connection:
        return await connection.fetch(sql, *values)  # type: ignore[no-any-return]


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
        change = await ranges.queue_change(event)
        if change is not None:
            out.append(change)
    return out
