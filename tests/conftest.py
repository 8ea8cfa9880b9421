"""Shared fixtures: a fresh, migrated database per test, on SQLite or PostgreSQL.

By default the database tests run on SQLite files. With BACKORDER_TEST_POSTGRES_URL naming a server
database we may create databases next to (e.g. postgres://postgres@127.0.0.1:5432/test) they run on
PostgreSQL instead: each test gets its own database cloned from a migrated template, so tests are
isolated and may open several connections (concurrency tests). One process runs one dialect: tortoise
caches compiled queries per model, so SQLite and PostgreSQL runs are separate pytest invocations
(`-m db` selects the tests that touch a database).
"""

from __future__ import annotations

import faulthandler
import os
import secrets
import shutil
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from hypothesis import HealthCheck, settings

from domain.bus import InProcessBus
from domain.services import BackorderDesk
from domain.store.db import migrate, open_database
from domain.store.uow import TortoiseUnitOfWork
from domain.use_cases import shared

# Every property test, not only those that remember to say so: no deadline on an example and no health check on
# slow generation. Under CI's load (2 cores, the suite run twice beside other jobs) an example's time says
# nothing of the code, and hypothesis's 200 ms default failed property tests (tests/unit/test_kpi_series.py) as
# DeadlineExceeded or Flaky. A test's own @settings still sets what it names.
settings.register_profile("backorder", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("backorder")

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


# pytest-timeout (pyproject.toml: `timeout`) fails a test that runs too long by raising in the main thread, and the run
# goes on. A test blocked on a thread of its own is not freed by that: its event loop, shutting down, waits for the
# thread for ever (a hung SQLite connection, an `asyncio.to_thread`). So a watchdog ends the whole run when a test
# outlives its timeout by this much: CI fails, naming the test, instead of hanging until it is killed.
WATCHDOG_GRACE_SECONDS = float(os.environ.get("BACKORDER_TEST_WATCHDOG_GRACE", "60"))


def _timeout_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    given = item.config.getoption("timeout", None) or item.config.getini("timeout")
    return float(given or 0)


def _give_up(config: pytest.Config, nodeid: str, seconds: float) -> None:
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:  # else what follows would go to the test's captured output, lost with the process
        capture.suspend_global_capture(in_=True)
    sys.stderr.write(f"\n{nodeid} is still running {seconds:g} s after it started, past its timeout: it hangs "
                     "where the timeout cannot free it; the stacks of every thread follow, and the run ends here\n")
    sys.stderr.flush()
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    os._exit(3)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    limit = _timeout_of(item)
    watchdog = None
    if limit > 0:
        watchdog = threading.Timer(limit + WATCHDOG_GRACE_SECONDS, _give_up,
                                   (item.config, item.nodeid, limit + WATCHDOG_GRACE_SECONDS))
        watchdog.daemon = True
        watchdog.start()
    try:
        yield
    finally:
        if watchdog is not None:
            watchdog.cancel()


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


@pytest.fixture(autouse=True)
def places_from_an_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with the SKU's place origin moving whenever that spares one row its write (the service moves
    it only past `uow.ORIGIN_FROM` rows, migration 0029): the stored places of a queue whose head was served then
    differ from the shown ones, so a test or reader that took the stored column for the place fails here, not only
    on a long queue. Read places through `tests.places` (the store's seam), never from the table."""
    from domain.store import uow

    monkeypatch.setattr(uow, "ORIGIN_FROM", 1)


# BACKORDER_TEST_LEDGER=forced runs every test with each receipt that can serve the head of its queue from rows
# recording what it serves whole as a range (as a 100k receipt does in the service, `shared.LEDGER_FROM`), staged
# receipts too (RECORD_STAGED), so the recorded path answers the whole suite, not only the tests that ask for it. A
# test that pins a path itself (monkeypatch in its body or fixture, `both_event_forms`) keeps its own.
LEDGER_FORCED = os.environ.get("BACKORDER_TEST_LEDGER", "") == "forced"
_SERVICE_LEDGER_FROM = shared.LEDGER_FROM
if os.environ.get("BACKORDER_TEST_LEDGER", "") not in ("", "forced"):
    raise pytest.UsageError("BACKORDER_TEST_LEDGER is 'forced' or unset, not "
                            f"{os.environ['BACKORDER_TEST_LEDGER']!r}")


@pytest.fixture(autouse=True)
def ledger_forced(monkeypatch: pytest.MonkeyPatch) -> bool:
    """With BACKORDER_TEST_LEDGER=forced, the service's settings that record a receipt's range from its first
    backorder served whole (see LEDGER_FORCED); otherwise nothing changes."""
    if LEDGER_FORCED:
        monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
        monkeypatch.setattr(shared, "LEDGER_FROM", 1)
        monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)
        monkeypatch.setattr(shared, "RECORD_STAGED", True)
    return LEDGER_FORCED


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


@pytest.fixture(params=["per-backorder events", "every run compacted", "range recorded"])
def both_event_forms(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a consumer's tests in each form committed changes take: as they usually come (a change to a few
    backorders as their own events); with every run of allocations, status and ETA changes folded into one
    QueueChanged, as a long queue's receipt commits them; and with every receipt that can serve the head of its
    queue from rows recording what it served whole as a range (one QueueServed, its backorders read back through
    `ports.ServedRanges`; its readers see a range still pending by themselves, domain.store.current). Subscribers,
    digests and webhooks must not tell them apart."""
    from domain import events

    if request.param != "range recorded" and LEDGER_FORCED:  # the per-backorder forms, not the forced range
        monkeypatch.setattr(shared, "LEDGER_FROM", _SERVICE_LEDGER_FROM)
    if request.param == "every run compacted":
        monkeypatch.setattr(events, "COMPACT_FROM", 1)
    elif request.param == "range recorded":
        monkeypatch.setattr(shared, "SERVE_HEAD_FROM", 0)
        monkeypatch.setattr(shared, "LEDGER_FROM", 1)
        monkeypatch.setattr(shared, "STAGE_CHUNK", 10**9)  # recorded, not staged, on SQLite too
    return str(request.param)

