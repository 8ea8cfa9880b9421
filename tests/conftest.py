"""Shared fixtures: a fresh, migrated database per test, on SQLite or PostgreSQL.

By default the database tests run on SQLite files. With BACKORDER_TEST_POSTGRES_URL naming a server
database we may create databases next to (e.g. postgres://postgres@127.0.0.1:5432/test) they run on
PostgreSQL instead: each test gets its own database cloned from a migrated template, so tests are
isolated and may open several connections (concurrency tests). One process runs one dialect: tortoise
caches compiled queries per model, so SQLite and PostgreSQL runs are separate pytest invocations
(`-m db` selects the tests that touch a database).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from domain.bus import InProcessBus
from domain.services import BackorderDesk
from domain.store.db import migrate, open_database
from domain.store.uow import TortoiseUnitOfWork

POSTGRES_URL = os.environ.get("BACKORDER_TEST_POSTGRES_URL", "")
_template: str | None = None


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def _dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


async def _postgres_database() -> str:
    """A new database cloned from a migrated template; returns its tortoise URL."""
    global _template
    admin = await asyncpg.connect(_dsn(POSTGRES_URL))
    try:
        if _template is None:
            name = f"bd_tpl_{os.getpid()}_{secrets.token_hex(3)}"
            await admin.execute(f'CREATE DATABASE "{name}"')
            await migrate(_with_db(POSTGRES_URL, name))
            _template = name
        name = f"bd_t_{os.getpid()}_{secrets.token_hex(4)}"
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_template}"')
    finally:
        await admin.close()
    return _with_db(POSTGRES_URL, name)


async def _drop(url: str) -> None:
    admin = await asyncpg.connect(_dsn(POSTGRES_URL))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _template and POSTGRES_URL:
        import asyncio

        asyncio.run(_drop(_with_db(POSTGRES_URL, _template)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "db_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


async def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per session: migrating takes longer than most tests (about a second),
    copying the file a millisecond."""
    template = tmp_path_factory.getbasetemp() / "template.db"
    if not template.exists():  # migrated under another name first: a failed migration leaves no template
        partial = template.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        await migrate(f"sqlite://{partial}")
        partial.rename(template)
    return template


@asynccontextmanager
async def fresh_database(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A migrated, empty database URL (not yet connected): a copy of the session's migrated template (SQLite)
    or a database cloned from one (PostgreSQL), dropped afterwards."""
    if not POSTGRES_URL:
        shutil.copyfile(await _sqlite_template(tmp_path_factory), tmp_path / "backorder.db")
        yield f"sqlite://{tmp_path / 'backorder.db'}"
        return
    url = await _postgres_database()
    try:
        yield url
    finally:
        await _drop(url)


@pytest.fixture
async def db_url(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A migrated, empty database URL (not yet connected): see `fresh_database`."""
    async with fresh_database(tmp_path, tmp_path_factory) as url:
        yield url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[str]:
    """Connected to a fresh database for the test's task."""
    async with open_database(db_url, apply_migrations=False):
        yield db_url


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus()


@pytest.fixture
def desk(db: str, bus: InProcessBus) -> BackorderDesk:
    from datetime import UTC, datetime

    from domain.clock import FixedClock

    return BackorderDesk(lambda: TortoiseUnitOfWork(bus), FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)))


@pytest.fixture(params=["per-backorder events", "every run compacted"])
def both_event_forms(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a consumer's tests twice: as committed changes usually come (a change to a few backorders as their
    own events) and with every run of allocations, status and ETA changes folded into one QueueChanged, as a
    long queue's receipt commits them. Subscribers, digests and webhooks must not tell the two apart."""
    from domain import events

    if request.param == "every run compacted":
        monkeypatch.setattr(events, "COMPACT_FROM", 1)
    return str(request.param)
