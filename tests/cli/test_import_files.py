"""Reading an import file, whatever the file: UTF-8 with or without the byte order mark spreadsheets write
("CSV UTF-8" in Excel), plain or gzipped, gives the same rows; and any bytes at all, a truncated gzip included,
are either rows or a BadImportFile that names the file, never a traceback."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.cli import BadImportFile, _rows

COLUMNS = ["sku", "quantity"]
cells = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cells, min_size=2, max_size=2), max_size=5), bom=st.booleans(), gz=st.booleans())
def test_the_same_rows_with_or_without_a_byte_order_mark_plain_or_gzipped(tmp_path: Path, rows, bom, gz):
    data = (b"\xef\xbb\xbf" if bom else b"") + _csv(rows).encode()
    path = tmp_path / ("in.csv.gz" if gz else "in.csv")
    path.write_bytes(gzip.compress(data) if gz else data)

    assert _rows(str(path), COLUMNS) == list(csv.DictReader(io.StringIO(_csv(rows))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200), gz=st.booleans(), cut=st.integers(0, 60))
def test_any_bytes_are_rows_or_a_bad_file_never_a_traceback(tmp_path: Path, data, gz, cut):
    path = tmp_path / ("in.csv.gz" if gz else "in.csv")
    path.write_bytes(gzip.compress(data)[:cut] if gz else data)  # a gzip cut short: a download that broke off
    try:
        _rows(str(path), COLUMNS)
    except BadImportFile as refused:
        assert str(path) in str(refused.code)
