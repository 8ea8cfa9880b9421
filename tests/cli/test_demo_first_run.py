"""`backorder serve --demo` as a newcomer runs it (scripts/demo.sh), started twice on the same database:
the first run loads the demo and mints a token, the second keeps both and says so."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from domain.store import models as t
from domain.store.db import migrate, open_database
from tests.api.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
BACKORDER = Path(sys.executable).parent / "backorder"  # the console script scripts/demo.sh runs


def start_demo(db: Path) -> str:
    """Start the demo, return what it printed before serving, stop it."""
    env = {**os.environ, "BACKORDER_DATABASE_URL": f"sqlite://{db}", "PATH": "/usr/bin:/bin"}  # a fresh shell
    process = subprocess.Popen([str(BACKORDER), "serve", "--demo", "--port", str(free_port())], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline() if process.stdout else ""
            if not line:
                break
            lines.append(line)
            if "Portal:" in line:
                break
    finally:
        process.terminate()
        process.wait(10)
    return "".join(lines)


def stored_token(db: Path) -> tuple[str, int]:
    token_file = Path(f"{db}.demo-token")
    return token_file.read_text().strip(), stat.S_IMODE(token_file.stat().st_mode)


def token_in(output: str) -> str:
    return output.split("Authorization: Bearer ", 1)[1].split()[0]


async def test_a_restarted_demo_keeps_its_data_and_its_token(tmp_path):
    db = tmp_path / "backorder.db"
    await migrate(f"sqlite://{db}")
    first = start_demo(db)
    assert "Demo data loaded" in first, first
    second = start_demo(db)
    assert "Demo data loaded" not in second and "Kept the data already in" in second, second
    assert token_in(first) == token_in(second)
    assert "kept from the last run" in second

    assert stored_token(db) == (token_in(first), 0o600)  # a working agent token: its owner's only
    async with open_database(f"sqlite://{db}", apply_migrations=False):
        assert await t.ApiToken.filter(name="demo agent").count() == 1
        assert await t.Order.all().count() == 5  # the demo's orders, loaded once


async def test_the_demo_names_commands_a_fresh_shell_can_run(tmp_path):
    output = start_demo(tmp_path / "backorder.db")
    assert ".venv/bin/backorder portal-link ann.baker@example.com" in output, output
    assert " backorder portal-link" not in output


async def test_a_revoked_demo_token_is_replaced(tmp_path):
    db = tmp_path / "backorder.db"
    first = token_in(start_demo(db))
    async with open_database(f"sqlite://{db}", apply_migrations=False):
        await t.ApiToken.filter(name="demo agent").update(revoked_at=datetime.now(UTC))
    second = start_demo(db)
    assert token_in(second) != first and "(new;" in second
