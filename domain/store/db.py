"""Connecting to the database and keeping its schema current with tortoise's migration tool."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate as tortoise_migrate

from domain.store.checkpoints import WAL_BOUND_PAGES, Checkpointer, sqlite_file

DEFAULT_DATABASE_URL = "sqlite://./backorder.db"
APP = "backorder"
MODELS = ["domain.store.models", "domain.store.portal", "domain.store.notify", "domain.store.webhooks"]
MIGRATIONS = "domain.store.migrations"


WAL_KEPT = 64 * 1024 * 1024  # bytes of SQLite's write-ahead log kept after a checkpoint


def database_url() -> str:
    return os.environ.get("BACKORDER_DATABASE_URL", DEFAULT_DATABASE_URL)


def tortoise_config(url: str | None = None) -> dict[str, Any]:
    url = url or database_url()
    if url.startswith("sqlite://") and "journal_mode" not in url and ":memory:" not in url:
        # WAL lets readers go on while a writer commits; a busy writer is waited for, not failed. The WAL is kept
        # up to 64 MiB after a checkpoint (tortoise's default truncates it to 16 KiB, so every checkpoint made the
        # next transactions grow the file again; kept, a 100k staged receipt's slowest chunks and another SKU's
        # longest wait were shorter in every alternated run, bench/README.md "Slow chunks"). The log is checkpointed
        # beside the writer (domain.store.checkpoints): this connection itself only past WAL_BOUND_PAGES
        url += ("&" if "?" in url else "?") + "journal_mode=WAL&busy_timeout=5000&journal_size_limit=" + str(WAL_KEPT)
        url += "&wal_autocheckpoint=" + str(WAL_BOUND_PAGES)
    return {
        "connections": {"default": url},
        "apps": {APP: {"models": MODELS, "migrations": MIGRATIONS, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


# For tortoise's own command line: `python -m tortoise -c domain.store.db.TORTOISE_ORM makemigrations`
TORTOISE_ORM = tortoise_config()


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://", "asyncpg://", "psycopg://"))


async def migrate(url: str | None = None) -> None:
    """Apply every migration not yet applied (idempotent)."""
    async with TortoiseContext():
        await tortoise_migrate(config=tortoise_config(url))


@asynccontextmanager
async def open_database(url: str | None = None, *, apply_migrations: bool = True,
                        global_fallback: bool = False) -> AsyncIterator[TortoiseContext]:
    """Migrate (optionally), connect, and make this database current for the calling task. A SQLite file's log is
    checkpointed beside the writer meanwhile (domain.store.checkpoints), the rest when the connection closes."""
    url = url or database_url()
    if apply_migrations:
        await migrate(url)
    path = sqlite_file(url)
    async with TortoiseContext() as ctx:
        await ctx.init(config=tortoise_config(url), _enable_global_fallback=global_fallback)
        checkpointer = Checkpointer(path) if path is not None else None
        if checkpointer is not None:
            checkpointer.start()
        try:
            yield ctx
        finally:
            if checkpointer is not None:  # before the connection closes: the last one to close checkpoints the rest
                await asyncio.to_thread(checkpointer.stop)


def transaction() -> Any:
    """One transaction on the default connection, `async with transaction() as conn:`: for the modules outside
    the store (the dispatchers), which use no tortoise themselves. Safe to cancel anywhere
    (domain.store.transactions)."""
    from domain.store.transactions import Transaction

    return Transaction()


async def ping_database() -> None:
    """Raises unless the database answers a trivial query (health checks)."""
    from domain.store import models as t

    await t.Product._meta.db.execute_query("SELECT 1")
