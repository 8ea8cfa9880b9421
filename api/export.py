"""Exports of backorders, order lines and daily KPIs as CSV or JSON lines, streamed: the command line's
`backorder export` and the agents' download (`GET /export/{kind}.csv`) encode the same rows the same way, a
chunk of rows at a time, so memory stays flat whatever the number of rows."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TextIO

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from api.context import Principal
from api.origin import from_own_page
from api.settings import Settings
from api.staff import STAFF_COOKIE, staff_from_cookie
from domain.clock import Clock
from domain.errors import InvalidInput
from domain.store import export as store

FORMATS = ("csv", "jsonl")
ROWS_PER_WRITE = 500  # rows encoded into one chunk of text: fewer, larger writes to the socket or the file
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def parse_since(value: str | None) -> datetime | None:
    """An ISO date (midnight UTC) or date-time (UTC when it names no zone); None when not given."""
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise InvalidInput(f"{value[:40]!r} is not an ISO date or date-time", field="since") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).isoformat()
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def _cell(value: Any) -> Any:
    """A CSV cell: text a spreadsheet would run as a formula gets a leading apostrophe (CSV injection)."""
    value = _text(value)
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


async def encode(kind: str, fmt: str, rows: AsyncIterator[dict[str, Any]],
                 on_rows: Callable[[int], None] | None = None) -> AsyncIterator[str]:
    """The export as text chunks: CSV with a header line, or one JSON object per line. `on_rows(n)` is told the
    running count after each chunk (the command line's progress line)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"the format is one of {', '.join(FORMATS)}", field="format")
    columns = store.COLUMNS[kind]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if fmt == "csv":
        writer.writerow(columns)
    count = 0
    async for row in rows:
        if fmt == "csv":
            writer.writerow([_cell(row[c]) for c in columns])
        else:
            buffer.write(json.dumps({c: _text(row[c]) for c in columns}, ensure_ascii=False) + "\n")
        count += 1
        if count % ROWS_PER_WRITE == 0:
            yield _drain(buffer)
            if on_rows is not None:
                on_rows(count)
    if buffer.tell():
        yield _drain(buffer)
    if on_rows is not None:
        on_rows(count)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def check_kind(kind: str) -> str:
    if kind not in store.KINDS:
        raise InvalidInput(f"what to export is one of {', '.join(store.KINDS)}", field="kind")
    return kind


def download_endpoint(settings: Settings, clock: Clock,
                      authenticate: Callable[[str], Awaitable[Principal | None]]) -> Callable[[Request], Any]:
    """`GET /export/{kind}.csv[?since=...]` for agents and admins (an API token as a Bearer header, checked by
    the app's `authenticate`, or the console's session cookie from our own pages): the CSV, streamed."""

    async def download(request: Request) -> Response:
        principal = await authenticate(request.headers.get("authorization", ""))
        if principal is None and from_own_page(request, settings):
            principal = await staff_from_cookie(request.cookies.get(STAFF_COOKIE), clock.now())
        if principal is None or not principal.is_staff:
            return PlainTextResponse("an agent's sign-in is needed", status_code=401 if principal is None else 403)
        try:
            kind = check_kind(request.path_params["kind"])
            since = parse_since(request.query_params.get("since"))
            store.check_range(kind, since, clock.today())
        except InvalidInput as error:
            return PlainTextResponse(error.message, status_code=400)
        rows = store.export_rows(kind, since, clock.today())
        stamp = clock.now().strftime("%Y%m%d")
        return StreamingResponse(encode(kind, "csv", rows), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="backorder-{kind}-{stamp}.csv"',
            "Cache-Control": "no-store"})

    return download


async def export_command(settings: Settings, kind: str, fmt: str, since_text: str | None, output: str | None,
                         *, clock: Clock | None = None) -> int:
    """`backorder export`: the rows to standard output (or `output`), with a progress line on standard error
    when that is a terminal."""
    from domain.store.db import open_database

    clock = clock or Clock()
    since = parse_since(since_text)
    store.check_range(check_kind(kind), since, clock.today())
    progress = sys.stderr.isatty()

    def show(count: int) -> None:
        sys.stderr.write(f"\r{kind}: {count:,} rows")
        sys.stderr.flush()

    async with open_database(settings.database_url):
        sink = _open(output) if output else sys.stdout
        try:
            async for text in encode(kind, fmt, store.export_rows(kind, since, clock.today()),
                                     show if progress else None):
                sink.write(text)
            sink.flush()
        finally:
            if output:
                sink.close()
    if progress:
        sys.stderr.write("\n")
    return 0


def _open(path: str) -> TextIO:
    """The command line's output file: blocking writes are fine there, it is the process's only task."""
    return open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed by export_command)
