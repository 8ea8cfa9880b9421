"""The queue's probes as the planner runs them: `python -m bench.queue_probes postgres|sqlite` seeds a 100k queue
(and another SKU's 2k), makes its first 50k ALLOCATED, and prints the plan of the placement's `_queue_ends` probes
and `_next_in_line`'s rows probe: on PostgreSQL `EXPLAIN ANALYZE` of each prepared with custom and with generic
plans, on SQLite `EXPLAIN QUERY PLAN`. `PROBES_PREDICATE=0` leaves out the queue index's predicate (migration
0027) the store's statements state, to see what the planners do without it."""

from __future__ import annotations

import asyncio
import os
import sys

sys.path.insert(0, os.getcwd())

from tortoise import connections  # noqa: E402

from bench.allocation import seed_queue  # noqa: E402
from bench.common import scratch_database  # noqa: E402
from domain.store.db import open_database  # noqa: E402

STATED = "\"status\" IN ('WAITING', 'PARTIALLY_ALLOCATED')" \
    if os.environ.get("PROBES_PREDICATE", "1") == "1" else "TRUE"
PROBES = {
    "queue end (priority)": f'SELECT "priority_override" FROM "backorders" WHERE "sku" = $1 AND "status" = $2 AND '
                            f'{STATED} ORDER BY "priority_override" DESC LIMIT 1',
    "queue end (row)": f'SELECT * FROM "backorders" WHERE "sku" = $1 AND "status" = $2 AND {STATED} AND '
                       f'"priority_override" = (SELECT "priority_override" FROM "backorders" WHERE "sku" = $1 AND '
                       f'"status" = $2 AND {STATED} ORDER BY "priority_override" DESC LIMIT 1) '
                       'ORDER BY "ordered_at" DESC, "id" COLLATE "C" DESC LIMIT 1',
    "next in line": f'SELECT "id" FROM "backorders" WHERE "sku" = $1 AND "status" = $2 AND {STATED} AND '
                    '"priority_override" = 0 AND "quantity" > "allocated_quantity" '
                    'ORDER BY "ordered_at", "id" COLLATE "C" LIMIT 201',
}


async def main(kind: str) -> None:
    async with scratch_database(kind) as url, open_database(url):
        await seed_queue("HOT", 100_000)
        await seed_queue("OTHER", 2_000)
        conn = connections.get("default")
        await conn.execute_script(
            "UPDATE \"backorders\" SET \"status\" = 'ALLOCATED' WHERE \"sku\" = 'HOT' AND \"queue_position\" <= 50000")
        await conn.execute_script("ANALYZE" if kind == "sqlite" else 'ANALYZE "backorders"')
        for n, (name, sql) in enumerate(PROBES.items()):
            if kind == "postgres":
                for mode in ("force_custom_plan", "force_generic_plan"):
                    await conn.execute_script(f"SET plan_cache_mode = {mode}")
                    statement = f"probe_{n}_{mode[6]}"
                    await conn.execute_script(f"PREPARE {statement}(text, text) AS {sql}")
                    rows = await conn.execute_query_dict(
                        f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE {statement}('HOT', 'WAITING')")
                    print(f"== {name}, {mode}")
                    print("\n".join(r["QUERY PLAN"] for r in rows))
            else:
                sqlite_sql = sql.replace(' COLLATE "C"', "").replace("$1", "?").replace("$2", "?")
                rows = await conn.execute_query_dict("EXPLAIN QUERY PLAN " + sqlite_sql,
                                                     ["HOT", "WAITING"] * (sqlite_sql.count("?") // 2))
                print(f"== {name}")
                print("\n".join(str(r["detail"]) for r in rows))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite"))
