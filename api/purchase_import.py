"""`backorder import purchase-orders FILE`: a shop's purchase order history as CSV (`number,supplier,sku,
quantity,expected_date,received_date`; supplier by name, ISO dates, an empty received_date a line still open).
Every row is read and checked before anything is written; a bad row is named by its line in the file."""

from __future__ import annotations

from datetime import date

from domain.errors import DomainError
from domain.use_cases.supplier_history import HistoricalLine

COLUMNS = ("number", "supplier", "sku", "quantity", "expected_date", "received_date")


class BadPurchaseOrderRow(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def _date(value: str | None, line: int, column: str, *, required: bool) -> date | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise BadPurchaseOrderRow(line, f"no {column}")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BadPurchaseOrderRow(line, f"{column} {text!r} is not an ISO date (YYYY-MM-DD)") from exc


def historical_lines(rows: list[dict[str, str]]) -> list[HistoricalLine]:
    """The file's rows (line 2 onwards, after the header) as purchase order lines, their format checked."""
    lines = []
    for n, row in enumerate(rows, start=2):
        quantity_text = (row.get("quantity") or "").strip()
        try:
            quantity = int(quantity_text)
        except ValueError as exc:
            raise BadPurchaseOrderRow(n, f"quantity {quantity_text!r} is not a whole number") from exc
        expected = _date(row.get("expected_date"), n, "expected_date", required=True)
        assert expected is not None
        lines.append(HistoricalLine(
            number=(row.get("number") or "").strip(), supplier_name=(row.get("supplier") or "").strip(),
            sku=(row.get("sku") or "").strip().upper(), quantity=quantity, expected_date=expected,
            received_on=_date(row.get("received_date"), n, "received_date", required=False)))
    return lines


def error_line(error: DomainError) -> str:
    """A domain error about input line i (0-based) said as the file's line (the header is line 1)."""
    return f"line {error.line + 2}: {error.message}" if error.line is not None else error.message
