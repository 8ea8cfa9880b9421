"""The rule for a backorder a receipt serves whole is written three times (issue 15): in the domain
(`head.serve`), in the SQL that writes the rows set-based (`TortoiseUnitOfWork.write_served`, `head.ServedWhole`),
and in the views every reader reads while a receipt's range is recorded and not yet folded into the rows (migration
0026: `backorders_now`, `backorder_history_now`). Whatever the waiting queue (units each waits for, agents'
priorities, order times that tie and ids whose order differs by code point and by most locales, an ETA of the receipt's
day or another, one already from units set aside, a unit already set aside here or at another location) and
whatever the receipt (units reaching some, all or none of it whole; a range folded in part or not at all), the
three agree row for row: status, allocation, reservation, ETA, place, reason, changed-at, version, and the
history entries. SQLite and, with BACKORDER_TEST_POSTGRES_URL, PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tortoise import connections

from domain.allocation import PriorityPolicy
from domain.bus import InProcessBus
from domain.causes import Actor, Cause, CauseKind
from domain.model.head import Served, record_serve, serve, served_whole
from domain.services import BackorderDesk, ProductInput
from domain.store import mapping
from domain.store import models as t
from domain.store.uow import TortoiseUnitOfWork
from tests import shown_places
from tests.integration.test_receipt_at_head import _pending, queues
from tests.integration.test_served_write import ETAS, NOW, SET_ASIDE, waiting_row
from tests.outcome import as_either_path_wrote

pytestmark = pytest.mark.db

_skus = itertools.count()
ROW = ("allocated_quantity", "reserved", "status", "allocation_reason", "eta_date", "eta_confidence", "eta_source",
       "eta_reference", "queue_position", "updated_at", "version")
HISTORY = ("at", "kind", "old_value", "new_value", "cause", "cause_data")

# what each drawn backorder is besides `queues`' units and priority: its ETA, a unit set aside (where), its order
# time in seconds from the first (ties are broken by id), and a letter in its id ("B" sorts before "a" by code
# point, after it by most locales' rules)
states = st.lists(st.tuples(st.sampled_from(ETAS), st.sampled_from(SET_ASIDE), st.integers(0, 3),
                            st.sampled_from(["a", "B", "z"])), min_size=10, max_size=10)


def _row(r: dict[str, Any]) -> tuple[Any, ...]:
    """A backorder's row as one value, read from the table (tortoise) or from a view (the driver's raw values)."""
    values = {**r, "reserved": mapping.as_json(r["reserved"]), "eta_date": mapping.as_date(r["eta_date"]),
              "updated_at": mapping.as_datetime(r["updated_at"])}
    return tuple(values[c] for c in ROW)


def _decided(s: Served) -> tuple[Any, ...]:
    """What `serve` decided for a backorder, as `_row` reads it."""
    eta = s.eta
    return (s.allocated_quantity, s.reserved, s.status.value, s.allocation_reason, eta.date if eta else None,
            eta.confidence.value if eta else None, eta.source.value if eta else None, eta.reference if eta else None,
            s.queue_position, s.updated_at, s.version)


def _entry(h: dict[str, Any]) -> tuple[Any, ...]:
    values = {**h, "at": mapping.as_datetime(h["at"]), "cause_data": as_either_path_wrote(h["cause_data"])}
    return tuple(values[c] for c in HISTORY)


async def _seed(desk: BackorderDesk, sku: str, queue: list[Any], drawn: list[Any]) -> dict[str, int]:
    """The drawn queue as waiting rows of `sku`, placed 1, 2, ... in queue order (agent priority highest first,
    then order time, then id by code point), as settling places them. Returns each one's id -> its n."""
    await desk.upsert_product(ProductInput(sku=sku, name="Lamp", price=Decimal("1.00")))
    start = NOW - timedelta(days=1)
    rows = [waiting_row(sku, f"{sku}-{letter}{n:02d}", start + timedelta(seconds=second, microseconds=250_000),
                        units + (1 if aside else 0), eta, aside, priority, 0, f"{customer}@example.com")
            for n, ((units, priority, customer, _), (eta, aside, second, letter)) in enumerate(zip(queue, drawn,
                                                                                                 strict=False))]
    rows.sort(key=lambda r: (-r.priority_override, r.ordered_at, r.id.encode()))
    for place, row in enumerate(rows, 1):
        row.queue_position = place
    await t.Backorder.bulk_create(rows)
    await t.Product.filter(sku=sku).update(waiting_count=len(rows),
                                           waiting_units=sum(r.quantity - r.allocated_quantity for r in rows))
    return {row.id: int(row.id[-2:]) for row in rows}


async def _receive(uow: TortoiseUnitOfWork, sku: str, supply: int) -> tuple[list[Any], list[Served], Any, int]:
    """What the domain decides when `supply` units reach the head of the SKU's queue at MAIN."""
    await uow.lock_skus([sku])
    rows, waiting = await uow.waiting_head(sku, supply)
    cause = Cause(kind=CauseKind.STOCK_RECEIVED, actor=Actor.AGENT, quantity=supply, reference="MAIN")
    served = serve(sku, rows, waiting, supply, lambda units: {"MAIN": units}, PriorityPolicy(), NOW, cause, [])
    return rows, served, served_whole(sku, "MAIN", served, waiting, NOW, cause), waiting


async def _read(sku: str, ids: list[str], views: bool) -> tuple[dict[str, tuple[Any, ...]], dict[str, list[Any]]]:
    """The SKU's backorders and their history, from the tables (places shown) or from the views."""
    if not views:
        rows = await shown_places.rows("id", *ROW, sku=sku)
        history = await t.BackorderHistory.filter(backorder_id__in=ids).order_by("id").values("backorder_id",
                                                                                             *HISTORY)
    else:
        connection = connections.get("default")
        postgres = connection.capabilities.dialect == "postgres"
        mark = "$1" if postgres else "?"
        rows = await connection.execute_query_dict(f'SELECT * FROM "backorders_now" WHERE "sku" = {mark}', [sku])
        history = await connection.execute_query_dict(
            'SELECT h.* FROM "backorder_history_now" AS h JOIN "backorders" AS b ON b."id" = h."backorder_id" '
            f'WHERE b."sku" = {mark} ORDER BY h."backorder_id", h."id"', [sku])
    entries: dict[str, list[Any]] = {}
    for h in history:
        entries.setdefault(h["backorder_id"], []).append(_entry(h))
    return {r["id"]: _row(r) for r in rows}, entries


async def _example(desk: BackorderDesk, bus: InProcessBus, queue: list[Any], drawn: list[Any], supply: int,
                   folded: int) -> int:
    n = next(_skus)
    written, recorded = f"SQL{n}", f"VIEW{n}"  # the same queue twice: written by the SQL, recorded for the views
    places = await _seed(desk, written, queue, drawn)
    assert await _seed(desk, recorded, queue, drawn) == {key.replace(written, recorded): v for key, v in
                                                         places.items()}
    before, _ = await _read(written, list(places), views=False)
    # the SQL's copy: what `serve` decides, its backorders served whole written set-based
    async with TortoiseUnitOfWork(bus) as uow:
        _, served, whole, _ = await _receive(uow, written, supply)
        await uow.write_served(whole)
        await uow.commit()
    # the views' copy: the same receipt recorded as a range, as a receipt at the head records it, then folded in part
    async with TortoiseUnitOfWork(bus) as uow:
        rows, served_there, whole_there, waiting = await _receive(uow, recorded, supply)
        head = await uow.queue_head(recorded, 0)
        assert head is not None
        record = record_serve(recorded, "MAIN", rows, served_there[:len(whole_there.ids)], waiting, NOW,
                              whole_there.cause)
        if record is not None:
            await uow.save_served(head, whole_there, record)
        await uow.commit()
    pending = await _pending(recorded)
    if pending > 1 and folded:  # some of the range folded into the rows: the views derive the rest
        async with TortoiseUnitOfWork(bus) as uow:
            await uow.fold_serves(recorded, min(folded, pending - 1))
            await uow.commit()
    assert [s.id.replace(recorded, written) for s in served_there] == [s.id for s in served]
    expected = {**before, **{s.id: _decided(s) for s in served if s.id in whole.ids}}
    expected_history = {s.id: [(s.updated_at, kind, old, new, whole.cause.kind.value, whole.cause.to_dict())
                               for kind, old, new in s.history] for s in served if s.id in whole.ids}
    # then the rows the SQL wrote, and the rows the views show, are what `serve` decided, row for row
    for views, sku in ((False, written), (True, recorded)):
        rows_now, history_now = await _read(sku, [key.replace(written, sku) for key in places], views)
        for key, value in expected.items():
            shown = key.replace(written, sku)
            where = ("view" if views else "table", places[key], key)
            assert rows_now[shown] == value, where
            assert history_now.get(shown, []) == expected_history.get(key, []), where
        assert len(rows_now) == len(expected)
    return pending


def _explore(loop: asyncio.AbstractEventLoop, desk: BackorderDesk, bus: InProcessBus, pending: list[int]) -> None:
    """Runs in a thread: hypothesis is synchronous; the database lives on the test's loop."""

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(queues, states, st.integers(1, 45), st.integers(0, 3))
    # a queue served whole but the last: every state of ETA, the first two backorders' ids tie-broken by letter
    @example(queue=[(2, 0, "a", None), (1, 0, "b", None), (3, 7, "c", None), (1, -2, "a", None)],
             drawn=[(ETAS[0], None, 0, "a"), (ETAS[2], "MAIN", 0, "B"), (ETAS[3], "EAST", 1, "z"),
                    (ETAS[4], None, 2, "a")] + [(None, None, 0, "a")] * 6, supply=7, folded=1)
    @example(queue=[(3, 0, "a", None)], drawn=[(ETAS[1], None, 0, "a")] * 10, supply=2, folded=0)  # none whole
    def check(queue: list[Any], drawn: list[Any], supply: int, folded: int) -> None:
        pending.append(asyncio.run_coroutine_threadsafe(_example(desk, bus, queue, drawn, supply, folded),
                                                        loop).result(300))

    check()


async def test_serve_the_set_based_write_and_the_views_agree_on_what_a_receipt_serves_whole(
        desk: BackorderDesk, bus: InProcessBus) -> None:
    pending: list[int] = []
    await asyncio.to_thread(_explore, asyncio.get_running_loop(), desk, bus, pending)
    assert any(pending), "some receipts left a range that the views derived"

