"""The set-based write of a receipt's served rows alone: `python -m bench.served_write` seeds 100k one-unit
backorders on PostgreSQL and runs `uow._SERVED_WHOLE_PG` for all of them (the rows updated, their 200k history rows
inserted) in a transaction rolled back, alternately with the queue index partial (migration 0027) and whole (the
partial one dropped and a whole one built inside the transaction); `SERVED_WRITE_EXPLAIN=1`: its
`EXPLAIN (ANALYZE, BUFFERS)` once instead."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.getcwd())

from tortoise import connections  # noqa: E402

from bench.allocation import START, seed_queue  # noqa: E402
from bench.common import scratch_database  # noqa: E402
from domain.store import uow  # noqa: E402
from domain.store.db import open_database  # noqa: E402

QUEUE = 100_000


async def main() -> None:
    async with scratch_database("postgres") as url, open_database(url):
        await seed_queue("HOT", QUEUE)
        conn = connections.get("default")
        await conn.execute_script('VACUUM ANALYZE "backorders"')
        at = START + timedelta(days=1)
        params = {"location": "MAIN", "first": 1, "of": QUEUE, "allocated": "ALLOCATED", "today": at.date(),
                  "confidence": "HIGH", "source": "ALLOCATED", "kept": "ALLOCATED", "at": at,
                  "today_text": at.date().isoformat(), "cause": "RECEIPT", "cause_data": "{}",
                  "ids": [f"HOT{n:016d}" for n in range(QUEUE)]}
        sql, values = uow._named(uow._SERVED_WHOLE_PG, params, postgres=True)
        explain = bool(os.environ.get("SERVED_WRITE_EXPLAIN"))
        async with conn.acquire_connection() as c:
            for index in ["partial"] if explain else ["partial", "whole"] * 3:
                transaction = c.transaction()
                await transaction.start()
                if index == "whole":
                    await c.execute('DROP INDEX "backorders_waiting_queue"')
                    await c.execute('CREATE INDEX "queue_whole" ON "backorders" '
                                    '("sku", "status", "priority_override", "ordered_at", "id")')
                start = time.perf_counter()
                if explain:
                    for row in await c.fetch("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, *values):
                        print(row[0])
                else:
                    await c.execute(sql, *values)
                print(f"{index} queue index: {time.perf_counter() - start:.2f} s", flush=True)
                await transaction.rollback()


if __name__ == "__main__":
    asyncio.run(main())
