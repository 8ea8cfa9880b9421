"""How an export encodes rows: CSV with a header and cells a spreadsheet would run as formulas defused, JSON lines
with ISO dates and decimals as text; chunks of text, not one string per file."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.export import ROWS_PER_WRITE, encode, parse_since
from domain.errors import InvalidInput
from domain.store.export import ORDER_COLUMNS


def line(n: int = 0, **values) -> dict:
    row = dict.fromkeys(ORDER_COLUMNS)
    row.update(order_number=f"BD-{n}", placed_at=datetime(2026, 3, 2, 9, tzinfo=UTC), quantity=2,
               unit_price=Decimal("9.50"), sku="LAMP", **values)
    return row


async def text(rows, fmt, seen=None):
    async def source():
        for row in rows:
            yield row
    return [chunk async for chunk in encode("orders", fmt, source(), seen)]


async def test_csv_has_a_header_and_iso_values():
    [chunk] = await text([line()], "csv")
    header, row = list(csv.reader(io.StringIO(chunk)))
    assert header == list(ORDER_COLUMNS)
    assert dict(zip(header, row, strict=True))["placed_at"] == "2026-03-02T09:00:00+00:00"
    assert dict(zip(header, row, strict=True))["unit_price"] == "9.50"


async def test_jsonl_is_one_object_a_line():
    [chunk] = await text([line(1), line(2, backorder_id=None)], "jsonl")
    objects = [json.loads(x) for x in chunk.splitlines()]
    assert [(o["order_number"], o["unit_price"], o["backorder_id"]) for o in objects] == [
        ("BD-1", "9.50", None), ("BD-2", "9.50", None)]


async def test_rows_come_in_chunks_and_the_count_is_reported():
    counts: list[int] = []
    chunks = await text([line(n) for n in range(ROWS_PER_WRITE * 2 + 1)], "jsonl", counts.append)
    assert len(chunks) == 3 and counts == [ROWS_PER_WRITE, ROWS_PER_WRITE * 2, ROWS_PER_WRITE * 2 + 1]


@given(st.text(min_size=1, max_size=20))
async def test_no_csv_cell_starts_like_a_formula(value):
    [chunk] = await text([line(customer_email=value)], "csv")
    [_, row] = list(csv.reader(io.StringIO(chunk)))
    cell = row[ORDER_COLUMNS.index("customer_email")]
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell in (value, "'" + value)


def test_since_is_a_date_or_a_date_time_in_utc():
    assert parse_since("2026-03-02") == datetime(2026, 3, 2, tzinfo=UTC)
    assert parse_since("2026-03-02T10:00:00+01:00") == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert parse_since(None) is None
    with pytest.raises(InvalidInput):
        parse_since("yesterday")
    assert date(2026, 3, 2)
