"""Export memory: `backorder export backorders` streams 100k rows from the database in keyset chunks, so its
peak memory (tracemalloc, Python allocations) should not grow with the rows: the peak at 100k rows is compared
with the peak at 10k rows (target: at most 1.5x, i.e. flat) and with the naive export that reads every row in
one statement and writes the CSV at the end (the baseline, same run)."""

from __future__ import annotations

import csv
import io
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import timedelta

from api.export import encode
from bench.allocation import START, seed_queue
from bench.common import QUICK, Figure, Timer, per_dialect, report, scratch_database
from domain.store import export as store
from domain.store import models as t
from domain.store.db import open_database

ROWS = 20_000 if QUICK else 100_000
SMALL = ROWS // 10


async def streamed(since_seconds: int) -> int:
    written = 0
    async for chunk in encode("backorders", "csv", store.rows("backorders", START + timedelta(seconds=since_seconds))):
        written += len(chunk)  # the sink drops the text, as a pipe to another process would take it away
    return written


async def naive() -> int:
    """Every row in one statement, the CSV built in memory, then written."""
    db = t.Order._meta.db
    sql = store._QUERIES["backorders"].split(" WHERE ")[0]
    rows = await db.execute_query_dict(sql + " ORDER BY b.id")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(store.BACKORDER_COLUMNS)
    for row in rows:
        writer.writerow([row[c] for c in store.BACKORDER_COLUMNS])
    return len(out.getvalue())


async def peak(work: Callable[[], Awaitable[int]]) -> tuple[float, float, int]:
    """(peak MiB above the start, seconds, bytes written) of one run under tracemalloc."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    with Timer() as timer:
        written = await work()
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (top - base) / 2**20, timer.seconds, written


async def run(kind: str) -> None:
    async with scratch_database(kind) as url, open_database(url):
        await seed_queue("EXPORT-1", ROWS)  # one a second from START: the last SMALL rows are `since` a moment
        small, _, small_bytes = await peak(lambda: streamed(ROWS - SMALL))
        big, big_seconds, big_bytes = await peak(lambda: streamed(0))
        whole, _, whole_bytes = await peak(naive)
        assert big_bytes > 9 * small_bytes, (big_bytes, small_bytes)
        report(Figure("export", f"peak memory, {ROWS:,} backorders as CSV ({kind})", big, "MiB",
                      baseline=small, baseline_name=f"the same export of {SMALL:,} rows",
                      target="<= 1.5x the 10x smaller export (flat)", met=big <= 1.5 * small,
                      note=f"{big_bytes / 2**20:,.1f} MiB of CSV in {big_seconds:.1f} s under tracemalloc"))
        report(Figure("export", f"peak memory vs all rows at once ({kind})", big, "MiB",
                      baseline=whole, baseline_name="one statement, CSV built in memory",
                      note=f"{whole_bytes / 2**20:,.1f} MiB of CSV"))


if __name__ == "__main__":
    per_dialect(sys.argv[1:], run)
