"""Long reads beside the process's writer: on SQLite the process has one connection, and every writer of any SKU
waits for the statement or transaction it runs; a read that needs no lock and takes long (a 100k receipt's range read
back for its fan-out: seconds) runs on a connection of its own instead, reading the committed file beside the writer
(the log is WAL, domain.store.db). PostgreSQL's readers take a connection of the pool anyway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.sqlite.client import SqliteClient

from domain.store import models as t


@asynccontextmanager
async def aside_connection() -> AsyncIterator[BaseDBAsyncClient]:
    """A connection for a read outside any transaction that must not hold the writer's: on a SQLite file a new
    connection to it, closed on the way out; otherwise (PostgreSQL, an in-memory SQLite) the models' own."""
    db = t.QueueServe._meta.db
    if not isinstance(db, SqliteClient) or db.filename in ("", ":memory:") or db.filename.startswith("file::memory:"):
        yield db
        return
    reader = type(db)(file_path=db.filename, connection_name="aside", busy_timeout=5000)
    await reader.create_connection(with_db=True)
    try:
        yield reader
    finally:
        await reader.close()
