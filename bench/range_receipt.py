"""A prototype of the receipt whose event is the range it served (issue 15, the < 1 s goal), timed part by part in SQL
beside today's receipt: `python -m bench.range_receipt sqlite|postgres` (or by path from another checkout).

A scratch database with a queue of `RANGE_QUEUE` one-unit backorders (default 10,000; 5,000 customers, as
bench.allocation seeds it) and one enabled webhook endpoint. Each round (`RANGE_ROUNDS`, default 3) runs, in one
transaction rolled back at its end, what the receipt would write with the range recorded and no row read into Python:

  (a) range end    one statement: a running sum in queue order; one row back (the last served whole: its key, how many
                   and how many units up to it, how many wait in all)
  (b) range+event  the range as a `queue_serves` row, the receipt's one event (SKU, location, time, cause, first and
                   last key, count) as one `event_log` row, the stock level and the product's waiting counts
  (c) outbox       one `notification_events` row per customer the range served (INSERT ... SELECT ... GROUP BY), their
                   pending digests opened (INSERT ... SELECT ... ON CONFLICT DO NOTHING) and, on PostgreSQL, locked
                   (one SELECT ... FOR UPDATE), as `notify.record_events` keeps them
  (c') webhooks    one delivery per enabled endpoint carrying the range; and, for comparison, one per backorder
                   built in SQL (`webhooks per backorder`, not part of the receipt's sum)
  (d) fold         the range written into the rows set-based: uow._SERVED_WHOLE_PG / _SERVED_HISTORY_SQLITE +
                   _SERVED_WHOLE_SQLITE with the served ids and places taken from the range by a subquery (no ids
                   from Python), `RANGE_FOLD_CHUNK` rows a statement (default all)

then what consumers pay to expand the range before the fold: the live hub deciding for one watched backorder whether the
range covers it (a read by primary key), a customer's live feed and a customer's digest (their covered backorders, by
the customer index), medians of 200 / 200 / 200 customers or backorders.

After the rounds, today's receipt on the same (untouched) queue as `serve` runs it, the range recorded
(`RECEIPT_LEDGER=1` of bench.receipt_profile: make_desk, the server's GC tuning) and then folded by the desk's
background task: the baseline the prototype's parts are printed against (`RANGE_BASELINE=0` skips it).

`RANGE_FOLD=1` instead times the service's fold alone: a queue of `RANGE_QUEUE` recorded as a range by today's receipt
(`shared.LEDGER_FROM`), then folded by `fold_serves` `shared.FOLD_CHUNK` backorders a transaction (or `RANGE_CHUNKS`,
e.g. 100,500,2000, taken in turn) until nothing is pending: the whole fold's time and each size's median and longest
transaction (what another writer of the SKU, or on SQLite of any SKU, waits for at most). Run by path from another
checkout (its working directory) for that checkout's fold.
`RANGE_ORDER=1` instead times an order for the same SKU placed right after such a receipt (all of the queue but its
last 100 served, the range left pending: no fold in the background), three in a row, and says how much of the range
they left pending.

`RANGE_CANCEL=1` likewise times three cancels right after such a receipt, each of a backorder at the queue's tail
(behind the range), and says how much of the range they left pending.

`RANGE_NEXT=1` instead times what follows a receipt recorded as a range once the background fold has run, on a queue
whose projection was kept (projected once by creating a purchase order, as `RECEIPT_KEPT=1` of bench.receipt_profile):
a receipt of `RANGE_NEXT_FIRST` units (default 1,000) recorded as a range, folded, then three rounds of a receipt of
`RANGE_NEXT_UNITS` (default 100) and a change of the purchase order's date (within the lead time: a slice of the
queue's ETAs moves); says whether the projection was kept after each (kept: the receipt finds its range by the demand
index, the change re-projects the slice; forgotten: the running sum over the queue, and the whole queue settled).
Issue 15, review finding 5 under step 7 in bench/README.md.

`RANGE_READS=1` instead times bench.current_reads' reads (a 100k queue by default there, `RANGE_QUEUE` here) with
nothing pending, alternately: the tables; the views; "checked", the service's seam as a reader outside a request
meets it (`domain.store.current.reads`: a snapshot of its own that first asks whether any range is pending,
REPEATABLE READ READ ONLY on PostgreSQL, SQLite's read transaction, then reads the tables, or the views when one is);
and "one check for 5", five reads in one snapshot as a GraphQL query makes them (per read). Then with half the queue
served by a receipt recorded as a range and not folded: the seam (the views; the page with places by the probes on
the rows with the range left out) against the tables (whose answer is then wrong).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

sys.path.insert(0, os.getcwd())  # the checkout in the working directory, when run by path from another one

from tortoise import connections  # noqa: E402
from tortoise.transactions import in_transaction  # noqa: E402

from bench.allocation import START, seed_queue  # noqa: E402
from bench.common import scratch_database  # noqa: E402
from domain.store import mapping, uow  # noqa: E402
from domain.store.db import open_database  # noqa: E402

QUEUE = int(os.environ.get("RANGE_QUEUE", "10000"))
ROUNDS = int(os.environ.get("RANGE_ROUNDS", "3"))
FOLD_CHUNK = int(os.environ.get("RANGE_FOLD_CHUNK", "0"))
SKU = "HOT"
RECEIPT_PARTS = ("(a) range end", "(b) range+event", "(c) outbox", "(c') webhooks per endpoint")


class _RolledBack(Exception):
    pass


def _dialect(postgres: bool) -> dict[str, str]:
    """The dialect's spelling of the queue's order and key comparisons."""
    if postgres:
        return {"id": '"id" COLLATE "C"', "last_id": ':last_id COLLATE "C"', "new_id": "md5(random()::text || {x})",
                "json": "json_build_object({pairs})::jsonb", "text": "::text", "ts": "::timestamptz"}
    return {"id": '"id"', "last_id": ":last_id", "new_id": "lower(hex(randomblob(16)))", "json": "json_object({pairs})",
            "text": "", "ts": ""}


def _statements(postgres: bool) -> dict[str, str]:
    d = _dialect(postgres)
    order = f'"priority_override" DESC, "ordered_at", {d["id"]}'
    waiting = f'"sku" = :sku AND {uow._WAITING_ROWS} AND "quantity" > "allocated_quantity"'
    # a backorder the pending range covers: waiting, at or before its last in queue order (ServeRecord.covers)
    covers = (f'{waiting} AND ("priority_override" > :last_priority OR ("priority_override" = :last_priority AND '
              f'("ordered_at" < :last_ordered_at{d["ts"]} OR ("ordered_at" = :last_ordered_at{d["ts"]} AND '
              f'{d["id"]} <= {d["last_id"]}))))')
    t, n = ("::varchar", "::bigint") if postgres else ("", "")  # PostgreSQL must be told the type of a JSON value
    event = d["json"].format(pairs=f"'serve', :serve_id{n}, 'sku', :sku{t}, 'location', :location{t}, "
                                   f"'at', :at_text{t}, 'cause', :cause{t}, 'first_id', :first_id{t}, "
                                   f"'last_id', :last_id{t}, 'count', :count{n}")
    part = d["json"].format(pairs=f"'serve', :serve_id{n}, 'first', MIN(\"id\"), 'backorders', COUNT(*)")
    fold_ids = (f'(SELECT "id", ROW_NUMBER() OVER (ORDER BY {order}) AS "place" FROM "backorders" WHERE {covers} '
                f'ORDER BY {order}{" LIMIT :chunk" if FOLD_CHUNK else ""})')
    statements = {
        # (a) one row back: the last backorder the units reach whole, its place and units up to it, the queue's size
        "(a) range end": (
            'SELECT "id", "priority_override", "ordered_at", "n", "upto", "waiting" FROM (SELECT "id", '
            f'"priority_override", "ordered_at", "quantity" - "allocated_quantity" AS "wants", '
            f'SUM("quantity" - "allocated_quantity") OVER (ORDER BY {order} ROWS UNBOUNDED PRECEDING) AS "upto", '
            f'ROW_NUMBER() OVER (ORDER BY {order}) AS "n", COUNT(*) OVER () AS "waiting" '
            f'FROM "backorders" WHERE {waiting}) AS q WHERE "upto" <= :units ORDER BY "upto" DESC, "n" DESC LIMIT 1'),
        # (a') the same end found by one probe of the demand index ((sku, demand_to): each waiting backorder's
        # cumulative demand from the SKU's origin, kept by settling, migration 0021), when the SKU's projection is
        # kept (its origin known); its stored place is how many are served
        "(a') range end, demand index probe": (
            'SELECT "id", "priority_override", "ordered_at", "demand_to", "queue_position" FROM "backorders" '
            f'WHERE "sku" = :sku AND "demand_to" <= :origin_units AND {uow._WAITING_ROWS} '
            'ORDER BY "demand_to" DESC LIMIT 1'),
        "range row": (
            'INSERT INTO "queue_serves" ("id", "sku", "location", "served_at", "cause", "cause_data", "waiting_count", '
            '"served_count", "served_units", "last_priority", "last_ordered_at", "last_id", "folded_count") VALUES '
            f'(:serve_id{n}, :sku, :location, :at{d["ts"]}, :cause, :cause_data, :waiting, :count, :units_served, '
            f':last_priority, :last_ordered_at{d["ts"]}, :last_id, 0)'),
        "event row": (
            'INSERT INTO "event_log" ("kind", "occurred_at", "sku", "payload") '
            f'VALUES (\'QueueServed\', :at{d["ts"]}, :sku, {event})'),
        "stock": ('UPDATE "stock_levels" SET "on_hand" = "on_hand" + :units, "allocated" = "allocated" + :units_served '
                  'WHERE "sku" = :sku AND "location" = :location'),
        "counts": ('UPDATE "products" SET "waiting_count" = "waiting_count" - :count, '
                   '"waiting_units" = "waiting_units" - :units_served WHERE "sku" = :sku'),
        # (c) the customers' parts: one row each, expanded by the digest composer
        "customer parts": (
            'INSERT INTO "notification_events" ("email", "backorder_id", "order_id", "sku", "kind", "data", '
            '"occurred_at", "request_id") '
            f'SELECT "customer_email", MIN("id"), MIN("order_id"), :sku{t}, \'QUEUE_SERVED\', {part}, '
            f':at{d["ts"]}, NULL '
            f'FROM "backorders" WHERE {covers} GROUP BY "customer_email"'),
        "digests opened": (
            'INSERT INTO "digests" ("id", "email", "status", "due_at", "created_at", "messages") '
            f'SELECT {d["new_id"].format(x=chr(34) + "customer_email" + chr(34))}, "customer_email", \'PENDING\', '
            f':due{d["ts"]}, :at{d["ts"]}, 0 FROM (SELECT DISTINCT "customer_email" FROM "backorders" WHERE {covers}) '
            'AS c WHERE true ON CONFLICT ("email") WHERE "status" = \'PENDING\' DO NOTHING'),
        "digests locked": (
            'SELECT COUNT(*) AS "n" FROM (SELECT 1 FROM "digests" WHERE "status" = \'PENDING\' AND "email" IN '
            f'(SELECT "customer_email" FROM "backorders" WHERE {covers}) ORDER BY "email" COLLATE "C" '
            'FOR UPDATE) AS l'),
        "(c') webhooks per endpoint": (
            'INSERT INTO "webhook_deliveries" ("id", "endpoint_id", "event_id", "event_type", "body", "status", '
            '"attempts", "next_attempt_at", "attempt_log", "created_at") '
            f'SELECT {d["new_id"].format(x=chr(34) + "id" + chr(34))}, "id", :serve_id{n}{d["text"]}, '
            '\'queue.served\', '
            f'{event}{d["text"]}, \'QUEUED\', 0, :at{d["ts"]}, \'[]\', :at{d["ts"]} '
            'FROM "webhook_endpoints" WHERE "enabled"'),
        "webhooks per backorder": (
            'INSERT INTO "webhook_deliveries" ("id", "endpoint_id", "event_id", "event_type", "body", "status", '
            '"attempts", "next_attempt_at", "attempt_log", "created_at") '
            f'SELECT {d["new_id"].format(x="b." + chr(34) + "id" + chr(34))}, e."id", b."id", \'backorder.allocated\', '
            + d["json"].format(pairs="'backorder', b.\"id\", 'order', b.\"order_id\", 'sku', b.\"sku\", "
                                     "'quantity', b.\"quantity\", 'at', :at_text" + t)
            + f'{d["text"]}, \'QUEUED\', 0, :at{d["ts"]}, \'[]\', :at{d["ts"]} '
            f'FROM (SELECT * FROM "backorders" WHERE {covers}) AS b CROSS JOIN "webhook_endpoints" AS e '
            'WHERE e."enabled"'),
        # consumers expanding the range (before the fold: the rows still waiting)
        "hub, one watched backorder": (
            'SELECT "id", "priority_override", "ordered_at", "status" FROM "backorders" WHERE "id" = :watched'),
        "a customer's covered backorders": (
            f'SELECT "id", "order_id", "queue_position", "eta_date", "ordered_at" FROM "backorders" '
            f'WHERE "customer_email" = :email AND {covers} ORDER BY {order}'),
        "folded mark": 'UPDATE "queue_serves" SET "folded_count" = "served_count" WHERE "id" = :serve_id',
    }
    if not postgres:
        del statements["digests locked"]  # the single writer serialises recorders and dispatchers
    # (d) the fold: today's set-based write of the rows served whole, its ids and places from the range
    if postgres:
        statements["(d) fold"] = uow._SERVED_WHOLE_PG.replace(
            'unnest(:ids::text[]) WITH ORDINALITY AS v("id", "place")', f'{fold_ids} AS v')
        assert statements["(d) fold"] != uow._SERVED_WHOLE_PG
    else:
        sqlite_ids = fold_ids.replace('"id", ROW_NUMBER() OVER', '"id" AS "value", ROW_NUMBER() OVER').replace(
            'AS "place"', '- 1 AS "key"')
        ids = 'json_each(:ids) AS v'
        statements["(d) fold history"] = uow._SERVED_HISTORY_SQLITE.replace(ids, f'{sqlite_ids} AS v')
        statements["(d) fold rows"] = uow._SERVED_WHOLE_SQLITE.replace(ids, f'{sqlite_ids} AS v')
    return statements


class Run:
    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.sql = _statements(postgres)
        self.times: dict[str, list[float]] = {}
        self.rows: list[tuple[Any, ...]] = []

    async def do(self, tx: Any, name: str, params: dict[str, Any], *, record: bool = True) -> list[dict[str, Any]]:
        sql, values = uow._named(self.sql[name], params, postgres=self.postgres)
        start = time.perf_counter()
        rows = await tx.execute_query_dict(sql, values)
        if record:
            self.times.setdefault(name, []).append(time.perf_counter() - start)
        return list(rows)

    async def round(self, number: int) -> None:
        at = START + timedelta(days=1, seconds=number)  # round 0 at the baseline receipt's time
        params: dict[str, Any] = {
            "sku": SKU, "units": QUEUE, "location": "MAIN", "at": at, "at_text": at.isoformat(),
            "cause": "STOCK_RECEIVED", "cause_data": '{"kind":"STOCK_RECEIVED","actor":"agent","quantity":'
            f'{QUEUE},"reference":"MAIN","reason":"stock received"}}', "due": at + timedelta(minutes=15),
            "serve_id": 900_000 + number,
            "chunk": FOLD_CHUNK, "first": 1, "allocated": "ALLOCATED", "today": at.date(), "confidence": "HIGH",
            "source": "ALLOCATED", "kept": "ALLOCATED", "today_text": at.date().isoformat()}
        try:
            async with in_transaction() as tx:
                started = time.perf_counter()
                [end] = await self.do(tx, "(a) range end", params)
                [probe] = await self.do(tx, "(a') range end, demand index probe", {**params, "origin_units": QUEUE})
                assert probe["id"] == end["id"] and int(probe["queue_position"]) == int(end["n"]), (probe, end)
                params.update(last_priority=end["priority_override"], last_ordered_at=end["ordered_at"],
                              last_id=end["id"], count=int(end["n"]), units_served=int(end["upto"]),
                              waiting=int(end["waiting"]), of=int(end["waiting"]), first_id=f"{SKU}{0:016d}")
                start = time.perf_counter()
                for name in ("range row", "event row", "stock", "counts"):
                    await self.do(tx, name, params)
                self.times.setdefault("(b) range+event", []).append(time.perf_counter() - start)
                start = time.perf_counter()
                for name in ("customer parts", "digests opened", "digests locked"):
                    if name in self.sql:
                        await self.do(tx, name, params)
                self.times.setdefault("(c) outbox", []).append(time.perf_counter() - start)
                await self.do(tx, "(c') webhooks per endpoint", params)
                self.times.setdefault("receipt (a)+(b)+(c)+(c')", []).append(time.perf_counter() - started)
                await self.expand(tx, params)
                await self.do(tx, "webhooks per backorder", params)
                start = time.perf_counter()
                folded, chunks = 0, 0
                each: dict[str, float] = {}
                while folded < params["count"]:
                    take = min(FOLD_CHUNK or params["count"], params["count"] - folded)
                    params["chunk"] = take
                    params["first"] = folded + 1
                    for name in ("(d) fold", "(d) fold history", "(d) fold rows"):
                        if name in self.sql:
                            began = time.perf_counter()
                            await self.do(tx, name, params, record=False)
                            each[name] = each.get(name, 0.0) + time.perf_counter() - began
                    folded, chunks = folded + take, chunks + 1
                if len(each) > 1:
                    for name, seconds in each.items():
                        self.times.setdefault(f"  of which {name}", []).append(seconds)
                await self.do(tx, "folded mark", params, record=False)
                self.times.setdefault(f"(d) fold, {chunks} chunk{'s' if chunks > 1 else ''}", []).append(
                    time.perf_counter() - start)
                left = await tx.execute_query_dict(
                    f'SELECT COUNT(*) AS "n" FROM "backorders" WHERE "sku" = \'{SKU}\' AND {uow._WAITING_ROWS}')
                assert int(left[0]["n"]) == 0, left  # the fold reached every backorder of the range
                if number == 0:  # at the baseline's time: its fold must leave the same rows and history
                    self.rows = await _written(tx)
                raise _RolledBack
        except _RolledBack:
            pass
        if self.postgres:
            await connections.get("default").execute_script(
                'VACUUM ANALYZE "backorders", "backorder_history", "notification_events", "digests", '
                '"webhook_deliveries", "event_log", "queue_serves"')

    async def expand(self, tx: Any, params: dict[str, Any]) -> None:
        step = max(1, QUEUE // 200)
        for n in range(0, QUEUE, step):
            await self.do(tx, "hub, one watched backorder", {"watched": f"{SKU}{n:016d}"})
        for c in range(0, min(5000, QUEUE), max(1, min(5000, QUEUE) // 200)):
            await self.do(tx, "a customer's covered backorders", {**params, "email": f"c{c}@example.com"})


async def _written(db: Any) -> list[tuple[Any, ...]]:
    """What a fold wrote, comparable across dialect types: the served rows' columns it sets and their history."""
    rows = await db.execute_query_dict(
        'SELECT "id", "allocated_quantity", "reserved", "status", "allocation_reason", "eta_date", "eta_confidence", '
        '"eta_source", "queue_position", "updated_at", "version" FROM "backorders" WHERE "sku" = \'HOT\' ORDER BY "id"')
    history = await db.execute_query_dict(
        'SELECT "backorder_id", "at", "kind", "old_value", "new_value", "cause", "cause_data" FROM "backorder_history" '
        'ORDER BY "backorder_id", "kind"')
    for h in history:  # the range today's fold names in its history (its record's id; the prototype's has none)
        cause = mapping.as_json(h["cause_data"])
        cause.pop(mapping.FOLDED_RANGE, None)
        h["cause_data"] = json.dumps(cause, sort_keys=True)
    return [tuple(str(v) for v in row.values()) for row in [*rows, *history]]


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:9.2f} ms ({min(values) * 1000:.2f}-{max(values) * 1000:.2f})"


async def _seeded(desk: Any) -> None:
    """The bench's product with nothing on hand (a unit received and counted away: its stock rows exist) and a
    queue of `QUEUE` one-unit backorders (`seed_queue`)."""
    from domain.services import ProductInput

    await desk.upsert_product(ProductInput(sku=SKU, name=SKU, price=Decimal("1.00")))
    await desk.receive_stock(SKU, 1)
    await desk.adjust_stock(SKU, -1, "bench set-up")
    await seed_queue(SKU, QUEUE)


async def receipt(kind: str) -> None:
    async with scratch_database(kind) as url, open_database(url):
        from api.app import make_desk, tune_gc
        from api.settings import Settings
        from domain.bus import InProcessBus
        from domain.clock import FixedClock
        from domain.use_cases import shared
        from notifications.service import Notifications

        clock = FixedClock(START + timedelta(days=1))
        settings = Settings()
        desk = make_desk(settings, InProcessBus(), Notifications(settings.notifications, clock), clock)
        tune_gc()
        await _seeded(desk)
        db = connections.get("default")
        await db.execute_query(
            'INSERT INTO "webhook_endpoints" ("id", "url", "description", "events", "secret", "enabled", "created_at", '
            '"updated_at") VALUES (\'bench\', \'http://127.0.0.1:9/\', \'\', \'[]\', \'s\', true, '
            + ("now(), now())" if kind == "postgres" else "'2026-03-02', '2026-03-02')"))
        # the demand index as settling keeps it for a one-unit queue counted from origin 0 (seed_queue leaves it
        # unset)
        await db.execute_query('UPDATE "backorders" SET "demand_to" = "queue_position" WHERE "sku" = \'HOT\'')
        if kind == "postgres":
            await db.execute_script('VACUUM ANALYZE')
        run = Run(kind == "postgres")
        for number in range(ROUNDS):
            await run.round(number)
        for name, values in run.times.items():
            print(f"{kind} {QUEUE} {name:38s} {_ms(values)}", flush=True)
        if os.environ.get("RANGE_BASELINE", "1") == "1":
            # as bench.receipt_profile sets it up (its figures in bench/README.md): no webhook endpoint
            await db.execute_query('DELETE FROM "webhook_endpoints"')
            # the range recorded whole on SQLite too (not staged a chunk a transaction), as bench.current_reads does
            shared.LEDGER_FROM, shared.STAGE_CHUNK = 1, 10**9  # (readers see a pending range by themselves)
            start = time.perf_counter()
            await desk.receive_stock(SKU, QUEUE)
            today = time.perf_counter() - start
            await desk.folded()
            folded = time.perf_counter() - start - today
            now = await _written(db)
            same = now == run.rows
            if not same:
                print(len(now), len(run.rows), [(a, b) for a, b in zip(now, run.rows, strict=False) if a != b][:3])
            print(f"{kind} {QUEUE} the prototype's fold wrote the rows and history today's receipt and fold wrote: "
                  f"{same}", flush=True)
            proto = statistics.median(run.times["receipt (a)+(b)+(c)+(c')"])
            fold = statistics.median(next(v for k, v in run.times.items() if k.startswith("(d)")))
            print(f"{kind} {QUEUE} today's receipt, range recorded: {today:.3f} s, its fold after it {folded:.3f} s; "
                  f"prototype receipt {proto:.3f} s ({today / proto:.1f}x faster), set-based fold {fold:.3f} s "
                  f"({folded / fold:.1f}x faster)", flush=True)


async def reads(kind: str) -> None:
    from bench import current_reads
    from domain.bus import InProcessBus
    from domain.clock import FixedClock
    from domain.services import BackorderDesk, ProductInput
    from domain.store import current, queries
    from domain.store.uow import TortoiseUnitOfWork
    from domain.use_cases import shared

    current_reads.QUEUE = QUEUE
    async with scratch_database(kind) as url, open_database(url):
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus()), FixedClock(START + timedelta(days=1)),
                             fold_in_background=False)
        await desk.upsert_product(ProductInput(sku=SKU, name=SKU, price=Decimal("1.00")))
        await seed_queue(SKU, QUEUE)
        from domain.allocation import FIRST_COME_FIRST_SERVED

        queries.queues_ranked_by(FIRST_COME_FIRST_SERVED)  # as the service ranks queues by default
        if kind == "postgres":
            await connections.get("default").execute_script('VACUUM ANALYZE')

        async def through(read: Callable[[], Awaitable[Any]], views: bool) -> None:
            with current.through(views):
                await read()

        async def in_a_request(read: Callable[[], Awaitable[Any]]) -> None:
            async with current.snapshot():  # as a GraphQL query reads: one snapshot, its check paid once for all
                await read()

        # "checked": the service's own seam as a reader outside a request meets it (`@current.reads`: a snapshot of
        # its own, the check, the read); "in a request": the same inside a snapshot already open (the request's)
        ways: dict[str, Callable[[Callable[[], Awaitable[Any]]], Awaitable[None]]] = {
            "tables": lambda read: through(read, False), "views": lambda read: through(read, True),
            "checked": lambda read: read(), "one check for 5": lambda read: in_a_request(_five(read))}
        rounds = int(os.environ.get("CURRENT_ROUNDS", "30"))

        async def measure(label: str, names: tuple[str, ...]) -> None:
            for name, read in current_reads._reads(SKU).items():
                times: dict[str, list[float]] = {way: [] for way in names}
                for _ in range(rounds):
                    for way in names:
                        start = time.perf_counter()
                        await ways[way](read)
                        times[way].append((time.perf_counter() - start) / (5 if way.endswith("for 5") else 1))
                med = {way: statistics.median(values) for way, values in times.items()}
                print(f"{kind} {QUEUE} {label}  {name:36s} " + "  ".join(
                    f"{way} {_ms(times[way])}" + ("" if way == "tables" else f" = {med[way] / med['tables']:.2f}x")
                    for way in names), flush=True)

        await measure("nothing pending", ("tables", "views", "checked", "one check for 5"))
        # then half the queue served by a receipt recorded as a range, not folded: the seam reads the views (the
        # tables' figures beside are what reading them would cost, their answer wrong)
        shared.SERVE_HEAD_FROM, shared.LEDGER_FROM, shared.STAGE_CHUNK = 0, 1, 10**9
        await desk.receive_stock(SKU, QUEUE // 2)
        async with current.snapshot():
            assert not current.nothing_pending(), "the receipt recorded a range"
        await measure(f"{QUEUE // 2} pending", ("tables", "checked"))
        if kind == "postgres":
            from domain.store import models as t

            async with current.snapshot():  # the reads run in its transaction (tortoise hands it to `_meta.db`)
                [row] = await t.Order._meta.db.execute_query_dict(
                    "SELECT current_setting('transaction_isolation') AS i, "
                    "current_setting('transaction_read_only') AS r")
            print(f"(the snapshots ran at isolation {row['i']}, read only {row['r']})")


def _five(read: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
    async def five() -> None:
        for _ in range(5):
            await read()
    return five


async def fold(kind: str) -> None:
    from domain.bus import InProcessBus
    from domain.clock import FixedClock
    from domain.services import BackorderDesk, ProductInput
    from domain.store import models as t
    from domain.store.uow import TortoiseUnitOfWork
    from domain.use_cases import shared

    sizes = [int(n) for n in os.environ.get("RANGE_CHUNKS", str(shared.FOLD_CHUNK)).split(",")]
    async with scratch_database(kind) as url, open_database(url):
        bus = InProcessBus(maxsize=10)
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), FixedClock(START + timedelta(days=2)),
                             fold_in_background=False)
        await desk.upsert_product(ProductInput(sku=SKU, name=SKU, price=Decimal("1.00")))
        await seed_queue(SKU, QUEUE)
        if kind == "postgres":
            await connections.get("default").execute_script("VACUUM ANALYZE")
        shared.LEDGER_FROM, shared.STAGE_CHUNK = 1, 10**9  # the range recorded whole on SQLite too
        await desk.receive_stock(SKU, QUEUE)
        pending = sum(c - f for c, f in await t.QueueServe.filter(sku=SKU).values_list("served_count", "folded_count"))
        times: dict[int, list[float]] = {n: [] for n in sizes}
        transactions, left, start = 0, pending, time.perf_counter()
        while left:
            size = sizes[transactions % len(sizes)]
            began = time.perf_counter()
            async with TortoiseUnitOfWork(bus) as work:
                left = await work.fold_serves(SKU, size)
                await work.commit()
            times[size].append(time.perf_counter() - began)
            transactions += 1
        print(f"{kind} {QUEUE} fold of {pending} recorded: {time.perf_counter() - start:.2f} s in {transactions} "
              "transactions", flush=True)
        for size, values in times.items():
            print(f"{kind} {QUEUE} {size:5d} a transaction: median {statistics.median(values) * 1000:.1f} ms, "
                  f"longest {max(values) * 1000:.1f} ms ({len(values)})", flush=True)


async def after_recorded_range(kind: str, what: str, step: Callable[[Any, int], Awaitable[object]]) -> None:
    """Times `step(desk, n)` three times, right after a receipt recorded all of a `QUEUE` queue but its last 100 as a
    range (no background fold): what a writer of the SKU waits for while the range is pending."""
    from domain.bus import InProcessBus
    from domain.clock import FixedClock
    from domain.services import BackorderDesk
    from domain.store import models as t
    from domain.store.uow import TortoiseUnitOfWork
    from domain.use_cases import shared

    async with scratch_database(kind) as url, open_database(url):
        bus = InProcessBus(maxsize=10)
        clock = FixedClock(START + timedelta(days=2))
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock, fold_in_background=False)
        await _seeded(desk)
        if kind == "postgres":
            await connections.get("default").execute_script("VACUUM ANALYZE")
        shared.LEDGER_FROM, shared.STAGE_CHUNK = 1, 10**9

        async def pending() -> int:
            return sum(c - f for c, f in await t.QueueServe.filter(sku=SKU).values_list("served_count",
                                                                                      "folded_count"))

        await desk.receive_stock(SKU, QUEUE - 100)
        recorded = await pending()
        times = []
        for n in range(3):
            clock.advance(timedelta(seconds=1))
            start = time.perf_counter()
            await step(desk, n)
            times.append(time.perf_counter() - start)
        print(f"{kind} {QUEUE} {what} right after a receipt recorded {recorded} as a range: "
              f"{', '.join(f'{s * 1000:.0f} ms' for s in times)}; {await pending()} left pending", flush=True)


async def order_after(kind: str) -> None:
    from domain.model import Channel
    from domain.services import CustomerDetails, LineRequest

    async def order(desk: Any, n: int) -> object:
        return await desk.place_order(CustomerDetails(f"n{n}@example.com"), Channel.ONLINE, [LineRequest(SKU, 1)])

    await after_recorded_range(kind, "placeOrder", order)


async def cancel_after(kind: str) -> None:
    async def cancel(desk: Any, n: int) -> object:  # the queue's last three (seed_queue's ids), behind the range
        return await desk.cancel_backorder(f"{SKU[:8]}{QUEUE - 1 - n:016d}", by="customer")

    await after_recorded_range(kind, "cancelBackorder (behind)", cancel)


async def next_after(kind: str) -> None:
    from domain.bus import InProcessBus
    from domain.clock import FixedClock
    from domain.services import BackorderDesk, LineRequest
    from domain.store import models as t
    from domain.store.uow import TortoiseUnitOfWork
    from domain.use_cases import shared

    head_read: list[float] = []  # the receipt's read of the rows its units reach (`waiting_head`), timed apart
    waiting_head = TortoiseUnitOfWork.waiting_head

    async def timed_head(self: Any, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return await waiting_head(self, *args, **kwargs)
        finally:
            head_read.append(time.perf_counter() - began)

    TortoiseUnitOfWork.waiting_head = timed_head  # type: ignore[method-assign]
    first = int(os.environ.get("RANGE_NEXT_FIRST", "1000"))
    units = int(os.environ.get("RANGE_NEXT_UNITS", "100"))
    print(f"{kind} domain from {os.path.dirname(os.path.dirname(shared.__file__))}", flush=True)
    async with scratch_database(kind) as url, open_database(url):
        bus = InProcessBus(maxsize=10)
        clock = FixedClock(START + timedelta(days=2))
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(bus), clock, fold_in_background=False)
        await _seeded(desk)
        supplier = await desk.upsert_supplier(None, f"Supplier {SKU}", 14)
        po = await desk.create_purchase_order(supplier.id, START.date() + timedelta(days=5), [LineRequest(SKU, 1)],
                                              number=f"PO-KEEP-{SKU}")  # the queue projected whole: kept
        if kind == "postgres":
            await connections.get("default").execute_script("VACUUM ANALYZE")
        shared.LEDGER_FROM, shared.STAGE_CHUNK = 1, 10**9

        async def kept() -> str:
            rows = await t.Product.filter(sku=SKU).values_list("eta_projection", flat=True)
            return "kept" if rows and rows[0] else "forgotten"

        before = await kept()
        start = time.perf_counter()
        await desk.receive_stock(SKU, first)
        recorded = sum(await t.QueueServe.filter(sku=SKU).values_list("served_count", flat=True))
        receipt = time.perf_counter() - start
        after_receipt = await kept()
        start = time.perf_counter()
        await desk.fold_pending_serves()
        print(f"{kind} {QUEUE} projection {before}; a receipt of {first} recorded {recorded} as a range in "
              f"{receipt:.2f} s (projection {after_receipt}), folded in {time.perf_counter() - start:.2f} s "
              f"(projection {await kept()})", flush=True)
        for n in range(3):
            clock.advance(timedelta(minutes=1))
            head_read.clear()
            start = time.perf_counter()
            await desk.receive_stock(SKU, units)
            took = time.perf_counter() - start
            after = await kept()
            await desk.fold_pending_serves()
            clock.advance(timedelta(minutes=1))
            start = time.perf_counter()
            po = await desk.update_purchase_order(po.id, START.date() + timedelta(days=6 + n))
            changed = time.perf_counter() - start
            print(f"{kind} {QUEUE} round {n + 1}: receipt of {units} {took * 1000:.0f} ms (its head read "
                  f"{sum(head_read) * 1000:.0f} ms; projection {after}), "
                  f"purchase order moved {changed * 1000:.0f} ms (projection {await kept()})", flush=True)


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    asyncio.run(reads(which) if os.environ.get("RANGE_READS") else fold(which) if os.environ.get("RANGE_FOLD")
                else order_after(which) if os.environ.get("RANGE_ORDER")
                else cancel_after(which) if os.environ.get("RANGE_CANCEL")
                else next_after(which) if os.environ.get("RANGE_NEXT") else receipt(which))
