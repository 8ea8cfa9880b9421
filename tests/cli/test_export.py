"""`backorder export` as a real subprocess: CSV and JSON lines of the rows the desk wrote, `--since`, bad input
refused with exit code 2 and nothing on standard output; no progress line when standard error is no terminal."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import pytest

from domain.store.export import BACKORDER_COLUMNS, KPI_COLUMNS, rows
from tests.cli.test_cli import ROOT, run
from tests.integration.support import LAMP, lamp_shop, order

pytestmark = pytest.mark.db
T = TypeVar("T")


async def test_backorders_as_csv_and_as_json_lines(desk, db):
    await lamp_shop(desk, on_hand=1, po_units=0)
    await order(desk, "ann@example.com", 3)
    await order(desk, "bob@example.com", 1)

    as_csv = run(db, "export", "backorders")
    as_json = run(db, "export", "backorders", "--format", "jsonl")

    assert as_csv.returncode == 0 and as_json.returncode == 0, as_csv.stderr + as_json.stderr
    assert as_csv.stderr == "" and as_json.stderr == ""  # no progress line: standard error is no terminal
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(rows[0]) == list(BACKORDER_COLUMNS)
    assert sorted((r["customer_email"], r["sku"], r["quantity"], r["status"]) for r in rows) == [
        ("ann@example.com", LAMP, "2", "WAITING"), ("bob@example.com", LAMP, "1", "WAITING")]
    objects = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(o["customer_email"], o["quantity"], o["queue_position"]) for o in objects] == [
        (r["customer_email"], int(r["quantity"]), int(r["queue_position"])) for r in rows]
    assert objects[0]["created_at"].endswith("+00:00")


async def test_the_keyset_reads_every_row_once_in_order_across_chunks(desk, db):
    await lamp_shop(desk, on_hand=0, po_units=0)
    for n in range(7):
        await order(desk, f"c{n}@example.com", 1)

    lines = [row async for row in rows("orders", chunk=3)]  # chunks of 3, 3 and 1
    backorders = [row async for row in rows("backorders", chunk=7)]  # a full chunk, then an empty one

    assert sorted(r["customer_email"] for r in lines) == [f"c{n}@example.com" for n in range(7)]
    assert len(backorders) == 7 and [b["id"] for b in backorders] == sorted(b["id"] for b in backorders)


async def test_since_and_kpis(desk, db):
    await lamp_shop(desk, on_hand=1, po_units=0)
    await order(desk, "ann@example.com", 3)

    assert run(db, "export", "orders", "--since", "2099-01-01").stdout.splitlines() == [
        run(db, "export", "orders").stdout.splitlines()[0]]  # the header alone
    # the CLI's today is UTC's (domain.clock), whatever this machine's zone, and may turn while it runs
    exported, today = on_one_utc_day(lambda day: run(db, "export", "kpis", "--since",
                                                     (day - timedelta(days=2)).isoformat()))
    kpis = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert list(kpis[0]) == list(KPI_COLUMNS)
    assert [r["day"] for r in kpis] == [(today - timedelta(days=n)).isoformat() for n in (2, 1, 0)]


@pytest.mark.parametrize("args", [("kpis", "--since", "2000-01-01"), ("orders", "--since", "last week"),
                                  ("orders", "--format", "xml"), ("customers",)])
async def test_bad_input_exits_2_and_writes_no_rows(db, args):
    refused = run(db, "export", *args)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr
    assert "`to`" not in refused.stderr and "interval" not in refused.stderr  # no options the export has not got


async def test_a_kpi_range_it_cannot_export_is_said_in_terms_of_since(db):
    later, _ = on_one_utc_day(lambda day: run(db, "export", "kpis", "--since",
                                              (day + timedelta(days=1)).isoformat()))
    assert later.returncode == 2 and "is after today" in later.stderr, later.stderr
    refused, today = on_one_utc_day(lambda _: run(db, "export", "kpis", "--since", "2000-01-01"))
    earliest = (today - timedelta(days=399)).isoformat()
    assert f"since {earliest} at the earliest" in refused.stderr, refused.stderr


def on_one_utc_day(command: Callable[[date], T]) -> tuple[T, date]:
    """`command(today)` run within one UTC day, and that day: the CLI reads the wall clock in UTC, not in this
    machine's zone (a local date is another day for hours of every day, away from UTC). Run again if UTC's
    midnight passed meanwhile; it cannot pass twice in one test."""
    for _ in range(2):
        day = datetime.now(UTC).date()
        done = command(day)
        if datetime.now(UTC).date() == day:
            return done, day
    raise AssertionError("UTC's date changed twice during a command")


def run_on_a_terminal(db: str, *args: str) -> tuple[int, bytes, bytes]:
    """The command with standard error on a pseudo-terminal: (exit code, standard output, what the terminal got)."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, timeout=120, stdout=subprocess.PIPE,
                              env={**os.environ, "BACKORDER_DATABASE_URL": db}, stderr=follower)
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                more = os.read(leader, 4096)
            except OSError:  # the terminal's other end closed
                break
            if not more:
                break
            shown += more
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    return done.returncode, done.stdout, shown


async def test_a_progress_line_goes_to_standard_error_when_it_is_a_terminal(desk, db):
    await lamp_shop(desk, on_hand=0, po_units=0)
    await order(desk, "ann@example.com", 2)

    code, out, shown = run_on_a_terminal(db, "export", "backorders")

    assert code == 0
    assert b"\rbackorders: 1 rows" in shown  # a carriage return, so each count overwrites the last
    assert b"\\" not in shown  # not the two characters backslash and r of an escaped escape
    assert shown.endswith((b"\n", b"\r\n"))  # the shell's prompt starts on a line of its own
    assert out.count(b"\n") == 2  # the header and the row: the progress line stays off the data
