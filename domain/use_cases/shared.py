"""Helpers the use cases share: the dependencies they run with, saving an aggregate with its events,
settling SKUs, reading an order or purchase order under the locks of its SKUs, and preview bookkeeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol, TypeVar

from domain import events as ev
from domain.causes import Cause
from domain.clock import Clock
from domain.commands import AllocationPreviewLine, LineRequest
from domain.errors import InvalidState, not_found, on_line
from domain.events import QueueServed
from domain.model import (
    Backorder,
    BackorderStatus,
    Order,
    PurchaseOrder,
    PurchaseOrderLine,
    QueueAhead,
    Served,
    ServedWhole,
    ServeRecord,
    SkuInventory,
    StagedReceipt,
    Waiting,
    check_sku,
)
from domain.model.head import HeadRange, record_range, record_serve, served_whole, served_whole_by
from domain.model.served import ArrivingByCustomer, instead_of_covered, range_event, recorded_event
from domain.ports import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("backorder.receipts")


@dataclass(frozen=True)
class Deps:
    """What every use case runs with: a factory of units of work (one per transaction) and the clock; and what
    folds a SKU's receipts recorded as ranges into their rows after the receipt committed (`fold_later`; None:
    the next writer of the SKU or the worker's round folds them)."""

    uow: UnitOfWorkFactory
    clock: Clock
    fold_later: Callable[[str], None] | None = None


async def settle(deps: Deps, uow: UnitOfWork, skus: Sequence[str], cause: Cause) -> None:
    now = deps.clock.now()
    await uow.load_inventories(skus)
    for sku in skus:
        inventory = await uow.inventory(sku)
        await settle_aside(inventory, now, cause)
        await save(uow, inventory)


# backorders from which a queue is settled in a worker thread: settling 100k (allocation, re-projection,
# positions) is seconds of Python, and on the event loop every other request of the process waited for it
LONG_QUEUE = 2_000


async def settle_aside(inventory: SkuInventory, now: datetime, cause: Cause) -> None:
    """`inventory.settle(now, cause)`, for a long queue in a thread so the process keeps serving others
    meanwhile (the aggregate belongs to this use case's unit of work alone; the thread only computes)."""
    if len(inventory.queue) < LONG_QUEUE:
        inventory.settle(now, cause)
    else:
        await asyncio.to_thread(inventory.settle, now, cause)


# waiting backorders from which a first-come-first-served receipt serves the head of the queue from its rows
# (domain.model.head) instead of loading the queue whole: 100k backorders as objects were most of a receipt's time
SERVE_HEAD_FROM = 1_000


# whether a receipt at the head finds the backorders its units reach by the demand index when the SKU's projection is
# kept (`uow.waiting_head` with the origin: one probe for the range's end, then an index range), rather than by a
# running sum over the whole queue (0.46 s at 100k on PostgreSQL, 1.0 s on SQLite). Exact whenever the projection is
# kept (tests/integration/test_receipt_range_end.py); off only to compare the two (the tests, the benches)
RANGE_BY_DEMAND = True


# backorders served whole from which a receipt at the head records the range it served (`head.ServeRecord`, one
# row) instead of rewriting their rows, which are folded in afterwards (`fold_serves`, in the background); every
# read derives a pending range's values (domain.store.current). Chosen by measurement (issue 15, bench/README.md
# "Before LEDGER_FROM can be switched on"): on PostgreSQL, from 1,000 served the recorded receipt took a third or
# less of the rows' CPU time, at 200-500 no gain beyond the noise; on SQLite a range past STAGE_CHUNK is staged.
# A shorter range is recorded too when LEDGER_FROM or more wait behind it and the projection is kept: the rest is then
# re-projected as a slice instead of loaded whole (`receive_at_head`)
LEDGER_FROM = 1_000


# backorders a receipt serves a transaction when its units reach more of them (the rest staged, `StagedReceipt`,
# and put away a chunk a transaction by `put_away_staged`): on SQLite every other writer, of any SKU, waits for
# a transaction, so one chunk must be well under 100 ms. A chunk's transaction on SQLite, as `serve` runs it
# (`BENCH_STAGE_CHUNK=n BENCH_QUEUE=20000 python -m bench.allocation sqlite`, load 5 on 2 cores, medians):
# 500 backorders 126 ms, 200 54 ms, 100 36 ms (about 20 ms a transaction and 0.2 ms a backorder)
STAGE_CHUNK = 200
# whether receipts are staged on a store whose writers wait only for those of the same SKU (PostgreSQL's row locks):
# there another SKU's order does not wait for a receipt's transaction, and staging cost more than it bought (100k
# queue, load 6-7: the receipt 21.5 s -> 119 s, another SKU's longest wait 1.0 s -> 0.43 s; bench/README.md). The
# mechanism is the same on both; the tests stage on PostgreSQL too
STAGE_ON_EVERY_STORE = False
# whether a receipt that would be staged (a single writer) records its range instead when the demand index finds it:
# the receipt is then one short transaction and its range is told and folded afterwards in short ones (the read back
# on a connection of its own, TELL_SLICE and FOLD_CHUNK_SINGLE_WRITER a transaction, the requests in flight first).
# On SQLite at 100k, quiet machine (`BENCH_LEDGER=1 BENCH_REPEAT=1 python -m bench.allocation sqlite`, 4 December):
# the receipt 0.024 s (staged: 11.7 s), another SKU's order waited at most 36 ms during it and 61 ms during the
# 14.2 s of telling and folding after it (486 orders placed meanwhile). Off, a range is staged as before
RECORD_STAGED = True
# backorders a fan-out transaction tells at most (`tell_range`: whole customers, at least one): a 100k range was told
# in one transaction of 2.2-3.7 s, which on SQLite every other writer waited for
TELL_SLICE = 1_000


async def receive_at_head(uow: UnitOfWork, sku: str, location: str, quantity: int, now: datetime,
                          cause: Cause, recorded: list[str] | None = None,
                          staged: list[str] | None = None) -> SkuInventory | None:
    """Units arrive for a long first-come-first-served queue (the SKU locked): the store reads only the backorders
    the units reach (`waiting_head`), the domain decides for them what settling the whole queue would
    (`serve_head`), and only those still waiting afterwards are loaded and settled. Returns that aggregate,
    settled, for `save`; None when this does not apply (nothing written): receive and settle it whole.
    With LEDGER_FROM or more served whole, the range is recorded and its SKU appended to `recorded` (to fold
    once committed).

    With `staged` (a list), on a store where one transaction writes at a time (`UnitOfWork.single_writer`: every
    other writer would wait for the whole receipt), a receipt whose units reach more than STAGE_CHUNK backorders
    serves the first
    STAGE_CHUNK of them only, stages the rest of its units (`StagedReceipt`: off hand, so no one else takes them)
    and appends its SKU to `staged`: once committed, `put_away_staged` serves the rest a chunk a transaction, as
    this transaction would have. Returns the aggregate to `save` (its stock and queue counts) then."""
    head = await uow.queue_head(sku, SERVE_HEAD_FROM)
    if head is None:
        return None
    head.receive(location, quantity, now, cause)
    if not head.can_serve_head(now.date()):
        return None
    if not (uow.single_writer or STAGE_ON_EVERY_STORE):
        staged = None
    serving_from = head.head_location()
    # the SKU's projection kept: the demand index finds the range (one probe), not a running sum over the queue
    origin = head.stored_origin if RANGE_BY_DEMAND and head.stored_steps is not None else None
    # the range to record found without reading what it covers: unless the receipt may be staged and its range can
    # only be found by summing the whole queue (staging reads the head by index, a chunk at most)
    if recorded is not None and (staged is None or origin is not None) \
            and (head.ahead.waiting_count if head.ahead else 0) >= LEDGER_FROM:
        found = await uow.head_range(sku, head.available_to_promise, origin)
        # staged as before when the units reach more than a chunk, unless recorded ranges replace staging
        fits = staged is None or RECORD_STAGED or found.count + (found.reached_in_part is not None) <= STAGE_CHUNK
        # recorded when it serves LEDGER_FROM whole, or when LEDGER_FROM wait behind it and the projection is kept:
        # then the rest is re-projected as a slice (`_rest_by_slice`), where writing the rows would load and settle
        # it whole (a receipt of 100 on a 100k queue: 2.8 s on PostgreSQL, 2.4 s of it Python, quiet machine)
        long_rest = origin is not None and REST_BY_SLICE and found.waiting_count - found.count >= LEDGER_FROM
        if fits and (found.count >= LEDGER_FROM or long_rest) and served_whole_by(found, head.available_to_promise):
            return await _record_head(uow, head, found, serving_from, now, cause, recorded)
    rows, waiting = await uow.waiting_head(sku, head.available_to_promise,
                                           STAGE_CHUNK + 1 if staged is not None else None, origin)
    if staged is not None and len(rows) > STAGE_CHUNK:
        await _serve_chunk(uow, head, StagedReceipt(sku, serving_from, 0, now, cause, waiting), rows, quantity)
        staged.append(sku)
        return head
    decide = _serve_head(head, rows, waiting, serving_from, now, cause)
    # 100k rows decided (and gone through for those served whole and in part): seconds of Python the process's
    # other requests would wait for on the event loop (settle_aside)
    served, whole, part = decide() if len(rows) < LONG_QUEUE else await asyncio.to_thread(decide)
    record = record_serve(sku, serving_from, rows, served[:len(whole.ids)], waiting, now, cause) \
        if recorded is not None and len(whole.ids) >= LEDGER_FROM else None
    if record is not None:
        # one event for the range instead of three per backorder it served whole: consumers read those through
        # `ports.ServedRanges` (rows still waiting, or folded)
        covered = rows[:record.count]
        served_range = range_event(record, await uow.record_serve(record), covered)
        head.events = await _aside(len(covered), lambda: instead_of_covered(
            head.events, served_range, {row.id for row in covered}))
    rest = await uow.save_served(head, whole, record)
    if record is not None and recorded is not None:
        recorded.append(sku)
    rest.adopt_served(part, cause)  # the last, in part
    uow.add_events(head.events)
    await settle_aside(rest, now, cause)
    return rest


async def _record_head(uow: UnitOfWork, head: SkuInventory, found: HeadRange, serving_from: str, now: datetime,
                       cause: Cause, recorded: list[str]) -> SkuInventory:
    """`receive_at_head` when what the units serve whole is recorded as a range and the store found it without
    reading those backorders (`uow.head_range`, `served_whole_by`): the record made from the range's totals and
    ends, its one event (`QueueServed`) where their per-backorder events would have been, and only the one served
    in part (if any) decided by `serve`: the same record, rows and events as serving the rows read whole and
    recording what it served whole (`record_serve`, `instead_of_covered`), without 100k backorders as objects."""
    record = record_range(head.sku, serving_from, found, now, cause)
    served_range = recorded_event(record, await uow.record_serve(record))
    part = head.serve_recorded(record, served_range, found.reached_in_part)
    head.check_invariants()
    assert all(s.status is not BackorderStatus.ALLOCATED for s in part), "the one reached in part is served in part"
    sliced = await _rest_by_slice(uow, head, found, record, part, now, cause)
    if sliced is not None:
        recorded.append(head.sku)
        uow.add_events(head.events)
        return sliced
    # nothing served whole is written from here (the range is folded in later): what `save_served` takes of it
    rest = await uow.save_served(head, ServedWhole(head.sku, serving_from, now, cause, found.waiting_count, 1, ()),
                                 record)
    recorded.append(head.sku)
    rest.adopt_served(part, cause)
    uow.add_events(head.events)
    await settle_aside(rest, now, cause)
    return rest


# whether the rest of the queue behind a recorded range is re-projected as a slice (`_rest_by_slice`) rather than
# loaded and settled whole (a receipt of 100 units on a 100k queue loaded and settled the other ~99,900 in Python:
# 4-5 s on a quiet machine). Off only to compare the two (the tests, the benches)
REST_BY_SLICE = True


async def _rest_by_slice(uow: UnitOfWork, head: SkuInventory, found: HeadRange, record: ServeRecord,
                         part: list[Served], now: datetime, cause: Cause) -> SkuInventory | None:
    """The rest of the queue behind a receipt's recorded range, settled as the whole settle would, with only what
    can change of it in memory: with the SKU's projection kept when the receipt began, every waiting row's ETA is
    the old steps' at its demand, and serving s units at the head lowers each demand behind by s; so only those
    where the old steps shifted by s and the new ones differ (`EtaSteps.differing`), the one reached in part
    (`adopt_served`) and the dated ones ("cancel if not by": `reproject_slice`) change, their places counted from
    an origin moved past the range (the store's). None, nothing written, when the whole rest must be loaded
    (`save_served`): no projection kept, steps that are not a function of demand, too few behind the range for
    the origin to move, or a dated backorder the new ETAs cancel (which moves everyone behind it)."""
    old = head.stored_steps
    new = head.eta_steps(now.date())
    if not REST_BY_SLICE or old is None or new is None or head.ahead is None:
        return None
    in_part = found.reached_in_part
    taken = sum(s.allocated_quantity for s in part) - (in_part.allocated_quantity if in_part else 0)
    served_units = record.units + taken
    ranges = old.shifted(served_units).differing(new)
    if in_part is not None and part:  # the one reached in part is first behind the range: its row is written
        ranges = _from_the_head(ranges, in_part.quantity - part[0].allocated_quantity)
    sliced = await uow.rest_by_slice(head, record, served_units, ranges)
    if sliced is None:
        return None
    rest, demand = sliced
    # what serving decided for it, at the place the store shows it now (the origin moved past the range)
    places = {s.id: rest.queue[s.id].queue_position for s in part}
    rest.adopt_served(part, cause)
    for backorder_id, place in places.items():
        rest.queue[backorder_id].queue_position = place
    if not rest.reproject_slice(now, cause, new, demand):
        return None
    return rest


def _from_the_head(ranges: list[tuple[int, int | None]], up_to: int) -> list[tuple[int, int | None]]:
    """`ranges` of cumulative demand ((after, up_to], in order, apart) with (0, `up_to`] among them."""
    if not ranges or ranges[0][0] > up_to:
        return [(0, up_to), *ranges]
    first = ranges[0][1]
    return [(0, None if first is None else max(first, up_to)), *ranges[1:]]


async def _aside(rows: int, work: Callable[[], T]) -> T:
    """`work()`, in a worker thread for a long queue's rows (LONG_QUEUE), so the process serves others meanwhile."""
    return work() if rows < LONG_QUEUE else await asyncio.to_thread(work)


def _serve_head(head: SkuInventory, rows: Sequence[Waiting], waiting: int, serving_from: str, now: datetime,
                cause: Cause) -> Callable[[], tuple[list[Served], ServedWhole, list[Served]]]:
    """What `head.serve_head` decides (its invariants checked): all served, those served whole (for the store),
    the one served in part (if any)."""
    def decide() -> tuple[list[Served], ServedWhole, list[Served]]:
        served = head.serve_head(rows, waiting, now, cause)
        head.check_invariants()
        return (served, served_whole(head.sku, serving_from, served, waiting, now, cause),
                [s for s in served if s.status is not BackorderStatus.ALLOCATED])
    return decide


async def _serve_chunk(uow: UnitOfWork, head: SkuInventory, receipt: StagedReceipt, rows: Sequence[Waiting],
                       own: int) -> None:
    """One chunk of a staged receipt: `head` (from `queue_head`, the receipt's `own` units on hand at its location)
    serves the first STAGE_CHUNK of `rows` (the head of the queue, more of them reached than that, so each served
    whole) what they wait for, and stages what is left of the receipt's units; its progress is recorded. The caller
    saves `head` (stock, the queue's counts, the events)."""
    chunk = rows[:STAGE_CHUNK]
    taking = sum(row.quantity - row.allocated_quantity for row in chunk)
    left = min(own, head.available_to_promise - taking)
    head.stage(receipt.location, left)
    serving_from = head.head_location()
    served = head.serve_head(chunk, receipt.waiting_count, receipt.received_at, receipt.cause, receipt.served + 1)
    head.check_invariants()
    assert all(s.status is BackorderStatus.ALLOCATED for s in served), "a chunk serves backorders whole"
    await uow.write_served(served_whole(receipt.sku, serving_from, served, receipt.waiting_count, receipt.received_at,
                                        receipt.cause, receipt.served + 1), from_head=True)
    ahead = head.ahead or QueueAhead(0, 0)
    head.ahead = QueueAhead(ahead.waiting_count - len(served), ahead.waiting_units - taking)
    head.stored_steps = None  # rows of the queue changed: the stored projection no longer holds
    await uow.save_staged(replace(receipt, units=left, served=receipt.served + len(served)))


async def put_away_after(deps: Deps, staged: Sequence[str]) -> None:
    """After the commit of a receipt that staged units: serve the rest of its queue, a chunk a transaction, before
    the receipt returns (its callers expect what it did), the event loop free between two chunks so the process's
    other requests run meanwhile. A chunk that fails (the process's database went away) leaves the rest staged for
    the worker's round (`put_away_staged`), with the receipt committed: not an error of the receipt's."""
    if not staged:
        return
    try:
        await put_away_staged(deps, staged)
    except Exception:
        log.exception("putting away the staged receipts of %s failed; left to the worker's round", ", ".join(staged))


async def put_away_staged(deps: Deps, skus: Sequence[str] | None = None) -> list[str]:
    """Put away what receipts staged (of `skus`, or of every SKU: what a crash between two chunks left), a chunk
    of STAGE_CHUNK backorders a transaction, until nothing is staged. Safe beside any writer and any number of
    processes doing the same: each chunk runs under the SKU's lock and reads the receipt and the queue afresh.
    Returns the SKUs it looked at."""
    if skus is None:
        async with deps.uow() as uow:
            skus = await uow.skus_with_staged_receipts()
    for sku in skus:
        more = True
        while more:
            more = await _put_away_chunk(deps, sku)
    return list(skus)


async def _put_away_chunk(deps: Deps, sku: str) -> bool:
    """One transaction: the next chunk of the SKU's oldest staged receipt, served as the receipt would have (at
    its time, for its cause, numbered on from those it served). The last chunk (what is left reaches no more than
    STAGE_CHUNK backorders) ends as a whole receipt ends: what is left goes on hand and the queue still waiting
    is settled. Returns False when nothing was staged."""
    uow = deps.uow()
    # the requests being served now go first, all their turns on the connection (SQLite): a chunk that took the next
    # free turn made a served order wait behind one chunk per statement of its own (4-6 of them), not one
    await uow.after_requests()
    async with uow:
        await uow.lock_skus([sku])
        receipt = await uow.staged_receipt(sku)
        if receipt is None:
            return False
        now, cause = receipt.received_at, receipt.cause
        head = await uow.queue_head(sku, 0)
        if head is not None:
            head.put_away(receipt.location, receipt.units)
        if head is None or not head.can_serve_head(now.date()):
            # the head can no longer be served from its rows (the product's policy changed meanwhile, stock free
            # at another location): the units go on hand and the whole queue is settled, as a receipt of them would
            await uow.save_staged(replace(receipt, units=0))
            inventory = await uow.inventory(sku)
            inventory.put_away(receipt.location, receipt.units)
            await settle_aside(inventory, now, cause)
            await save(uow, inventory)
        else:
            rows, _ = await uow.waiting_head(sku, head.available_to_promise, STAGE_CHUNK + 1)
            if len(rows) > STAGE_CHUNK:
                await _serve_chunk(uow, head, receipt, rows, receipt.units)
                await save(uow, head)
            else:
                await uow.save_staged(replace(receipt, units=0))
                serving_from = head.head_location()
                served = head.serve_head(rows, receipt.waiting_count, now, cause, receipt.served + 1)
                head.check_invariants()
                rest = await uow.save_served(head, served_whole(sku, serving_from, served, receipt.waiting_count, now,
                                                                cause, receipt.served + 1))
                rest.adopt_served([s for s in served if s.status is not BackorderStatus.ALLOCATED], cause)
                uow.add_events(head.events)
                await settle_aside(rest, now, cause)
                await save(uow, rest)
        await uow.commit()
    return True


# backorders of a recorded receipt folded into their rows per transaction (set-based, `fold_serves`): short, so
# other writers of the SKU (and on SQLite, of any SKU) get in between. A transaction's time at 100k on SQLite, load
# 3.6-4.1 on 2 cores (medians of 26 each, sizes taken in turn): 100 12 ms, 250 17 ms, 500 27 ms (max 159), 1,000
# 56 ms, 2,000 90 ms; PostgreSQL 17, 29, 47, 90, 175 ms (bench/README.md, "The fold set-based")
FOLD_CHUNK = 500
# the same where one transaction writes at a time (`UnitOfWork.single_writer`, SQLite): every writer of any SKU waits
# for a chunk, which must stay well under 100 ms. At 100k, load 4.4-8.6 on 2 cores (`RANGE_FOLD=1 RANGE_QUEUE=100000
# RANGE_CHUNKS=100,200,300,500 python -m bench.range_receipt sqlite`, medians of 91 each): 100 20 ms, 200 25 ms,
# 300 34 ms, 500 51 ms
FOLD_CHUNK_SINGLE_WRITER = 200


def fold_after(deps: Deps, recorded: Sequence[str]) -> None:
    """After the commit of a receipt that recorded ranges: have them folded (in the background, by the desk)."""
    if recorded and deps.fold_later is not None:
        for sku in recorded:
            deps.fold_later(sku)


class RangesLeftUntold(RuntimeError):
    """Receipt ranges `tell_pending_serves` could not tell, each logged with its cause where it failed: raised once
    the others are told, from the first failure (its message included)."""

    def __init__(self, failures: Sequence[Exception]) -> None:
        super().__init__(f"{len(failures)} receipt range(s) left untold for the next round; first: {failures[0]}")
        self.failures = list(failures)


async def tell_pending_serves(deps: Deps) -> int:
    """Tell every receipt recorded as a range and not yet told (`UnitOfWork.tell_served`), one a transaction, oldest
    first: what the receipt's transaction leaves to after its commit, or a crash left untold. Safe beside any number
    of fan-outs and folds. A range that cannot be told (its read-back or a hook fails) is logged, left untold for the
    next round and passed over: those after it are still told; the first such failure is raised once the others
    are told. Returns how many this call told."""
    told = 0
    tried: set[int] = set()  # this call's: told, told elsewhere, or failed; not tried again in it
    failures: list[Exception] = []
    while True:
        async with deps.uow() as uow:
            untold = [record_id for record_id in await uow.untold_serves() if record_id not in tried]
        if not untold:
            break
        for record_id in untold:
            tried.add(record_id)
            try:
                served = await tell_range(deps, record_id)
            except Exception as failure:  # noqa: BLE001 - any failure leaves this range, not the others, untold
                log.exception("telling receipt range %s failed; left untold for the next round", record_id)
                failures.append(failure)
                continue
            if served is not None:
                told += 1
            await asyncio.sleep(0)
    if failures:
        raise RangesLeftUntold(failures) from failures[0]
    return told


async def tell_range(deps: Deps, record_id: int) -> QueueServed | None:
    """Tell the receipt recorded as the range `record_id` (`UnitOfWork.tell_served`) if not yet told: its covered
    backorders read back once, in customer order, and told as they are read, TELL_SLICE (read at the call: tests
    lower it) a transaction, whole customers each, from where a crash or another fan-out left it. Returns its event
    when this call told its last slice."""
    async with deps.uow() as uow:
        served = await uow.untold_served(record_id)
        await uow.commit()
    if served is None:
        return None
    # outside any transaction, on a connection of its own where the store has one writer (a 100k range's read held
    # every other writer of a SQLite store for seconds), in customer order a piece at a time, read on between the
    # slices as they need: a 100k range's backorders are never all held at once
    slices = ArrivingByCustomer()
    async with aclosing(deps.uow().served_by_customer(served)) as pieces:
        while True:
            while slices.wants(TELL_SLICE):
                piece = await anext(pieces, None)
                if piece is None:
                    slices.end()
                else:
                    slices.add(piece)
            uow = deps.uow()
            # the requests being served now go first (SQLite: one connection), as between the fold's chunks
            await uow.after_requests()
            async with uow:
                done = await uow.tell_served(served, slices, TELL_SLICE)
                await uow.commit()
            if done is None:
                return None  # told, or being told, by another fan-out
            if done:
                return served


async def fold_pending_serves(deps: Deps, skus: Sequence[str] | None = None, chunk: int | None = None) -> list[str]:
    """Fold the receipts recorded as ranges (of `skus`, or of every SKU: what a crash left unfolded) into their
    rows, `chunk` (default FOLD_CHUNK, on a single writer at most FOLD_CHUNK_SINGLE_WRITER, read at the call: tests
    lower them) backorders a transaction, each once the requests in flight have had their turns. Safe beside any
    writer and any number of folders: each chunk runs under the SKU's lock. Returns the SKUs folded."""
    if skus is None:
        async with deps.uow() as uow:
            skus = await uow.skus_with_pending_serves()
    for sku in skus:
        while True:
            uow = deps.uow()
            # the requests being served now go first (SQLite: one connection), as a staged receipt's chunks let them
            # (`_put_away_chunk`): a chunk that took the next free turn would have a request wait behind a chunk per
            # statement of its own, not one (tests/integration/test_receipt_range_cost.py)
            await uow.after_requests()
            async with uow:
                size = chunk if chunk is not None else min(FOLD_CHUNK, FOLD_CHUNK_SINGLE_WRITER) \
                    if uow.single_writer else FOLD_CHUNK
                left = await uow.fold_serves(sku, size)
                await uow.commit()
            if not left:
                break
    return list(skus)


async def save(uow: UnitOfWork, inventory: SkuInventory) -> None:
    inventory.check_invariants()
    await uow.save_inventory(inventory)
    uow.add_events(inventory.events)
    inventory.events = []


async def get_backorder(uow: UnitOfWork, backorder_id: str) -> Backorder:
    backorder = await uow.get_backorder(backorder_id)
    if backorder is None:
        raise not_found("backorder", backorder_id)
    return backorder


def in_queue(inventory: SkuInventory, backorder_id: str) -> Backorder:
    """The locked, current copy of a backorder; it must still be active."""
    backorder = inventory.queue.get(backorder_id)
    if backorder is None:
        raise InvalidState("this backorder is no longer open", field="backorder_id")
    return backorder


async def locked_order(uow: UnitOfWork, order_id: str) -> Order:
    """The order, read under the locks of all its SKUs: every writer of its lines holds one of them."""
    return await read_under_locks(uow, uow.get_order, "order", order_id)


async def locked_purchase_order(uow: UnitOfWork, purchase_order_id: str,
                                 extra_skus: Sequence[str] = ()) -> PurchaseOrder:
    """The purchase order, read under the locks of all its SKUs (and `extra_skus`)."""
    return await read_under_locks(uow, uow.get_purchase_order, "purchase order", purchase_order_id,
                                   extra_skus)


def po_event(po: PurchaseOrder, now: datetime, change: str,
             location: str | None = None) -> ev.PurchaseOrderChanged:
    return ev.PurchaseOrderChanged(
        occurred_at=now,
        purchase_order_id=po.id, number=po.number, status=po.status.value,
        expected_date=po.expected_date, skus=tuple(line.sku for line in po.lines), change=change,
        location=location,
    )


def watch(inventory: SkuInventory, today: date, preview: bool) -> Callable[[], list[AllocationPreviewLine]]:
    """Remember the backorders waiting now; the returned function says, after a change, what the change did to
    each of them. Nothing to remember when no preview is wanted (a real change on a long queue)."""
    waiting = inventory.ranked_queue(today) if preview else []
    before = {b.id: b.allocated_quantity for b in waiting}

    def lines() -> list[AllocationPreviewLine]:
        return [AllocationPreviewLine(b.id, b.allocated_quantity - before[b.id], b.status,
                                      b.queue_position if b.is_active else None, b.eta if b.is_active else None)
                for b in waiting]
    return lines


class _Line(Protocol):
    @property
    def sku(self) -> str: ...


class _WithLines(Protocol):
    @property
    def lines(self) -> Sequence[_Line]: ...


W = TypeVar("W", bound=_WithLines)
T = TypeVar("T")


async def read_under_locks(uow: UnitOfWork, read: Callable[[str], Awaitable[W | None]], kind: str, key: str,
                            extra_skus: Sequence[str] = ()) -> W:
    """An order or purchase order read under the locks of all its SKUs. A line added while we waited for
    them (an accepted substitute, a PO update) brings a new SKU: lock that too and read again."""
    locked: set[str] = set()
    while True:
        found = await read(key)
        if found is None:
            raise not_found(kind, key)
        skus = {line.sku for line in found.lines} | set(extra_skus)
        if skus <= locked:
            return found
        locked |= skus
        await uow.lock_skus(sorted(locked))


def checked_line(index: int, line: LineRequest) -> LineRequest:
    with on_line(index):
        return LineRequest(check_sku(line.sku, "lines.sku"), line.quantity)


def po_line(index: int, line: LineRequest) -> PurchaseOrderLine:
    checked = checked_line(index, line)
    return PurchaseOrderLine(checked.sku, checked.quantity)
