"""A page of 20 backorders with their places explained, at the head, the middle and the tail of a long queue:
`python -m bench.queue_turns sqlite|postgres`.

A scratch database with a first-come queue of `TURNS_QUEUE` one-unit backorders (default 100,000; 5,000 customers,
`bench.allocation.seed_queue`), a few moved ahead by an agent (`TURNS_PRIORITISED`, default 10, spread through
the queue, their places renumbered as settling numbers them). For each page, timed `TURNS_ROUNDS` times (default
15) in turn: `queries.backorders_with_turns` as the service reads it (a first-come queue: index probes), the same
with the reading that holds for any order (`QUEUES_FIRST_COME` off: those ahead read until the first placed after),
and the first version's statement (a count of those ahead placed before, per row), which it checks they agree with.
Prints medians with the spread (min-max) in milliseconds.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from bench.allocation import seed_queue
from bench.common import machine, scratch_database
from domain.services import BackorderDesk, ProductInput
from domain.store import models as t
from domain.store import queries
from domain.store.db import open_database
from domain.store.uow import TortoiseUnitOfWork

QUEUE = int(os.environ.get("TURNS_QUEUE", "100000"))
ROUNDS = int(os.environ.get("TURNS_ROUNDS", "15"))
PRIORITISED = int(os.environ.get("TURNS_PRIORITISED", "10"))

# the first version (before issue 15's reads): per row, a count of those ahead of it ordered before it
FIRST_VERSION = ('SELECT b.*, (SELECT COUNT(*) FROM "backorders" o WHERE b.queue_position IS NOT NULL '
                 'AND o.sku = b.sku AND o.queue_position IS NOT NULL AND o.queue_position < b.queue_position '
                 'AND o.ordered_at < b.ordered_at) AS placed_before FROM "backorders" b WHERE b.id IN ({keys})')


async def first_version(ids: list[str]) -> dict[str, bool]:
    db = t.Order._meta.db
    marks = ", ".join(f"${n}" for n in range(1, len(ids) + 1)) if db.capabilities.dialect == "postgres" \
        else ", ".join("?" * len(ids))
    rows = await db.execute_query_dict(FIRST_VERSION.format(keys=marks), ids)
    return {r["id"]: int(r["placed_before"]) == r["queue_position"] - 1 for r in rows
            if r["queue_position"] is not None}


async def probes(ids: list[str]) -> dict[str, bool]:
    queries.QUEUES_FIRST_COME = True
    return (await queries.backorders_with_turns(ids))[1]


async def by_place(ids: list[str]) -> dict[str, bool]:
    queries.QUEUES_FIRST_COME = False
    try:
        return (await queries.backorders_with_turns(ids))[1]
    finally:
        queries.QUEUES_FIRST_COME = True


async def _prioritise(sku: str) -> None:
    """Move `PRIORITISED` backorders spread through the queue ahead (agent priority 5) and number the queue again in
    queue order (priority first, then order time, then id), as settling would."""
    db = t.Order._meta.db
    step = max(1, QUEUE // (PRIORITISED + 1))
    chosen = [f"{sku[:8]}{n:016d}" for n in range(step, QUEUE, step)][:PRIORITISED]
    if not chosen:
        return
    await t.Backorder.filter(id__in=chosen).update(priority_override=5)
    mark = "$1" if db.capabilities.dialect == "postgres" else "?"
    await db.execute_query(
        'UPDATE "backorders" SET queue_position = r.place FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY '
        f'priority_override DESC, ordered_at, id) AS place FROM "backorders" WHERE sku = {mark}) AS r '
        'WHERE "backorders".id = r.id AND "backorders".queue_position <> r.place', [sku])


def _spread(samples: list[float]) -> str:
    return (f"{statistics.median(samples) * 1000:9.2f} ms ({min(samples) * 1000:.2f}-"
            f"{max(samples) * 1000:.2f})")


async def run(kind: str) -> None:
    print(machine(), flush=True)
    async with scratch_database(kind) as url, open_database(url):
        desk = BackorderDesk(lambda: TortoiseUnitOfWork())
        await desk.upsert_product(ProductInput(sku="HOT", name="HOT", price=Decimal("1.00")))
        await seed_queue("HOT", QUEUE)
        await _prioritise("HOT")
        if kind == "postgres":
            await t.Order._meta.db.execute_script('ANALYZE "backorders"')
        places = await t.Backorder.filter(sku="HOT").order_by("queue_position").values_list("id", flat=True)
        pages = {"head": list(places[:20]), "middle": list(places[QUEUE // 2:QUEUE // 2 + 20]),
                 "tail": list(places[-20:])}
        reads: dict[str, Callable[[list[str]], Awaitable[dict[str, Any]]]] = {
            "probes": probes, "by place": by_place, "first version": first_version}
        for page, ids in pages.items():
            answers = {name: await read(ids) for name, read in reads.items()}
            assert answers["probes"] == answers["by place"] == answers["first version"], page
            placed = sum(answers["probes"].values())
            times: dict[str, list[float]] = {name: [] for name in reads}
            for _ in range(ROUNDS):
                for name, read in reads.items():  # alternated, so load moves all alike
                    start = time.perf_counter()
                    await read(ids)
                    times[name].append(time.perf_counter() - start)
            old = statistics.median(times["first version"])
            print(f"{kind} {QUEUE} queue, {PRIORITISED} moved ahead, page of 20 at the {page:6s} ({placed} in turn): "
                  + "  ".join(f"{name} {_spread(s)}" for name, s in times.items())
                  + f"  probes {old / statistics.median(times['probes']):,.0f}x faster", flush=True)


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1] if len(sys.argv) > 1 else "sqlite"))
