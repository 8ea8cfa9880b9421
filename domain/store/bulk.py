"""Writing many rows in one statement: the unit of work's bulk saves and the before-commit hooks (the
notification outbox) share these, so a receipt that serves a long queue costs a few statements, not a
statement per backorder or per customer (bench/allocation.py).

On PostgreSQL: arrays through `unnest` (one statement for any number of rows), or COPY for long lists; on
SQLite one `executemany` (a C loop in-process).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

COPY_THRESHOLD = 500  # COPY pays off from about this many rows; below it one INSERT ... SELECT FROM unnest

# compact, and without the circular-reference bookkeeping: event payloads and `reserved` maps are plain trees
to_json = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def is_postgres(conn: BaseDBAsyncClient) -> bool:
    return bool(conn.capabilities.dialect == "postgres")


def pg_unnest(columns: Sequence[str], pg_types: Sequence[str]) -> str:
    """unnest($1::text[], $2::int[], ...) AS v("a", "b", ...); JSON travels as text."""
    arrays = ", ".join(f"${n}::{'text' if t_ == 'jsonb' else t_}[]" for n, t_ in enumerate(pg_types, 1))
    return f"unnest({arrays}) AS v({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)})"


def pg_select(columns: Sequence[str], pg_types: Sequence[str]) -> str:
    return ", ".join(f'v."{c}"' + ("::jsonb" if t_ == "jsonb" else "") for c, t_ in zip(columns, pg_types, strict=True))


def pg_arrays(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


async def insert_rows(conn: BaseDBAsyncClient, table: str, columns: Sequence[str], pg_types: Sequence[str],
                      rows: list[tuple[Any, ...]]) -> None:
    """Insert `rows` (values in `columns` order; JSON columns as text) into `table` inside `conn`'s
    transaction. `pg_types` are the PostgreSQL array element types of the columns (`jsonb` for JSON)."""
    if not rows:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    if is_postgres(conn):
        if len(rows) >= COPY_THRESHOLD:  # COPY: the fastest way into PostgreSQL, worth it for long lists
            async with conn.acquire_connection() as connection:
                await connection.copy_records_to_table(table, records=rows, columns=list(columns))
            return
        await conn.execute_query(
            f'INSERT INTO "{table}" ({names}) SELECT {pg_select(columns, pg_types)} '
            f"FROM {pg_unnest(columns, pg_types)}", pg_arrays(rows, len(columns)))
    else:
        await conn.execute_many(f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})', rows)


CHUNK_ROWS = 2_000  # rows built and written at a time by `insert_streamed` (between them the event loop turns)


async def insert_streamed(conn: BaseDBAsyncClient, table: str, columns: Sequence[str], pg_types: Sequence[str],
                          rows: Iterable[tuple[Any, ...]], *, aside: bool = False) -> int:
    """`insert_rows` for rows made on the fly, a slice at a time: a receipt serving 100k backorders writes
    300k event rows, and building them all before writing any held hundreds of MiB. Returns the count.

    `aside`: each slice is made in a worker thread (the rows' making, JSON encoding above all, is then not done on
    the event loop: a 100k receipt's event log and outbox rows held it for 0.2-1.2 s a slice, and every other
    request of the process waited). The iterator is then only ever advanced by one thread at a time."""
    count = 0
    it = iter(rows)
    while chunk := (await asyncio.to_thread(_take, it, CHUNK_ROWS) if aside else _take(it, CHUNK_ROWS)):
        await insert_rows(conn, table, columns, pg_types, chunk)
        count += len(chunk)
    return count


def _take(it: Iterator[tuple[Any, ...]], n: int) -> list[tuple[Any, ...]]:
    return list(islice(it, n))
