"""Every reader of the backorders and their history reads them through `domain.store.current` (the views with a
pending served range applied, migration 0026, or the tables in a snapshot in which none was pending), never the
tables by name: between a receipt's commit and its fold the tables still show what it served whole as waiting
(issue 15; tests/api/test_pending_serve_reads.py shows what a reader sees). The writer, the unit of work, reads and
writes the tables under the SKU's lock, which folds its pending ranges first; a line of it that reads without that
lock goes through the seam too (outside a snapshot: the views). A new module of the store (or of the API and
notifications, which should not touch tables at all) that names the tables fails here, until it reads through the
seam or says below why it need not; a public reader of the store that reaches the seam outside a snapshot fails too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "domain" / "store"

# the tables in SQL, and the tortoise models' queries of them
TABLES = re.compile(r'\b(FROM|JOIN|UPDATE|INTO)\s+"?(backorders|backorder_history)"?(?![\w"])|'
                    r"\bt\.(Backorder|BackorderHistory)\.(filter|all|get|get_or_none|exclude|annotate|raw|first|"
                    r"select_for_update|exists|bulk_create|create)\b|"
                    r'"backorder_history",|'
                    r"'\"(backorders|backorder_history)\"'")

# the modules that are no readers: the writer, the models and the migrations that make the tables and the views
WRITERS = {"uow.py", "models.py", "current.py"}

# file -> the lines (a part of them, as written) that read a table and why they need not read the views
NOT_DERIVED = {
    "served_ranges.py": {
        'FROM "backorder_history" AS h JOIN "backorders" AS b ON b."id" = h."backorder_id"':
            "a range's folded backorders, found by the history its fold wrote: the tables are what it reads back",
        'SELECT h."backorder_id", h."id", h."old_value" FROM "backorder_history" AS h':
            "later quantity changes of a range's folded backorders: the tables' own history",
        'JOIN "backorders" AS b ON b."id" = h."backorder_id"':
            "the same statement, its SKU's backorders",
        'FROM "backorders" AS b JOIN "queue_serves" AS q ON q."id" = :record':
            "a range's backorders not yet folded: as the receipt found them, the tables' rows (the views would show "
            "them served)",
    },
    "queries.py": {
        'with_backorders = Subquery(t.Backorder.all().values("order_id"))':
            "which orders have backorders: no served range changes it",
        "_ROWS = '\"backorders\"'":
            "the probes of a page's places read the queue's rows with a pending range's rows left out by its key, "
            "as the views show them, so that they reach the queue-order index (test_queue_turns.py holds them)",
    },
}


def _readers() -> list[Path]:
    paths = [p for p in sorted(STORE.glob("*.py")) if p.name not in WRITERS]
    for package in ("api", "notifications"):
        paths.extend(sorted((ROOT / package).rglob("*.py")))
    return paths


def _table_reads() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in _readers():
        for line in path.read_text().splitlines():
            if TABLES.search(line):
                found.setdefault(str(path.relative_to(ROOT)), []).append(line.strip())
    return found


def test_every_reader_of_the_backorders_reads_them_through_the_seam():
    found = _table_reads()
    unexplained = {name: [line for line in lines if not any(
        part in line for part in NOT_DERIVED.get(Path(name).name, {}))] for name, lines in found.items()}
    unexplained = {name: lines for name, lines in unexplained.items() if lines}
    assert not unexplained, (
        "reads of the backorders or their history from the tables: select from domain.store.current's BACKORDERS "
        f"and HISTORY (a pending served range applied), or name them in NOT_DERIVED with the reason: {unexplained}")


def test_the_exceptions_still_exist():
    found = {Path(name).name: lines for name, lines in _table_reads().items()}
    for name, parts in NOT_DERIVED.items():
        for part in parts:
            assert any(part in line for line in found.get(name, [])), f"{name}: {part!r} is gone: drop it here"


def _in_snapshot(node: ast.AsyncFunctionDef | ast.FunctionDef) -> bool:
    """Decorated `@reads` (the caller's snapshot or its own), or its statements in `async with snapshot():`."""
    return any(isinstance(d, ast.Name) and d.id == "reads" for d in node.decorator_list) or any(
        isinstance(w, ast.AsyncWith) and any(isinstance(i.context_expr, ast.Call) and getattr(
            i.context_expr.func, "id", "") == "snapshot" for i in w.items) for w in ast.walk(node))


def _bare_readers(tree: ast.Module) -> list[str]:
    """The module's public functions that name the backorders through the seam, themselves or through the module's
    own functions they call, with no snapshot on the way."""
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}

    def calls(node: ast.AST) -> set[str]:
        return {c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
    bare = {name for name, node in functions.items() if calls(node) & {"backorders", "history"}
            and not _in_snapshot(node)}
    while True:
        more = {name for name, node in functions.items()
                if name not in bare and calls(node) & bare and not _in_snapshot(node)}
        if not more:
            return sorted(name for name in bare if not name.startswith("_"))
        bare |= more


def test_every_reader_reads_in_a_snapshot_that_asked_whether_a_range_is_pending():
    # a reader names the tables only in a snapshot in which nothing was pending (domain.store.current): each
    # public reader of the store that reaches the seam runs in the caller's snapshot or opens its own (`@reads`), or
    # opens one around its statements (`snapshot()`: a streamed export, a chunk each); outside any, the seam names
    # the views
    bare = [f"{path.name}:{name}" for path in sorted(STORE.glob("*.py")) if path.name not in WRITERS
            for name in _bare_readers(ast.parse(path.read_text()))]
    assert not bare, f"readers of the backorders outside a snapshot (decorate them with current.reads): {bare}"


def test_the_snapshot_guard_sees_a_bare_reader():
    tree = ast.parse("async def listed():\n    return await _rows()\n"
                     "async def _rows():\n    return f'SELECT * FROM {backorders()}'\n"
                     "@reads\nasync def fine():\n    return await _rows()\n")
    assert _bare_readers(tree) == ["listed"]


def test_outside_a_snapshot_the_seam_names_the_views():
    # a statement outside any snapshot (or in a writer's transaction) cannot know whether a range is pending
    from domain.store import current

    assert (current.backorders(), current.history()) == ('"backorders_now"', '"backorder_history_now"')
    with current.through(False):
        # the table with its places shown (counted from the SKU's origin, migration 0029), and the history table
        assert (current.backorders(), current.history()) == ('"backorders_placed"', '"backorder_history"')
        with current.through(True):
            assert current.backorders() == '"backorders_now"'
    assert current.backorders() == '"backorders_now"'


def test_the_guard_sees_a_table_read():
    # the patterns it looks for, as a reader would write them
    for line in ('SELECT * FROM "backorders" WHERE id IN ({keys})', "FROM backorders b LEFT JOIN orders o",
                 "'FROM \"backorder_history\" WHERE backorder_id = ?'", "t.Backorder.filter(sku=sku).values()",
                 "await t.BackorderHistory.filter(backorder_id=x)", "_TABLE = '\"backorders\"'"):
        assert TABLES.search(line), line
    for line in ('f"SELECT * FROM {backorders()} WHERE id = ?"', 'FROM "backorders_now" b', "backorders(first: 200)",
                 "t.Backorder._meta.fields_map[column]"):
        assert not TABLES.search(line), line


# A stored place (`backorders.queue_position`) counts from its SKU's origin (`products.place_origin`, migration
# 0029); the place shown is the stored one less the origin, which the seam's relations (`backorders()`: the
# `backorders_placed` view, or the 0026 views as 0029 recreated them) and the writer (the unit of work, which reads
# the rows and subtracts it) apply. A reader that names the column on a table, or reads the rows' columns whole
# from one, would show the stored number. file -> the lines (a part of them) that name it, and why that is right.
PLACES = re.compile(r"queue_position|_WAITING_COLUMNS")
NAMED_PLACES = {
    "export.py": {
        '"substituted_quantity", "queue_position",': "the CSV's column names",
        "b.queue_position AS queue_position": "from `{backorders}` (the seam): shown",
    },
    "queries.py": {
        'if row["queue_position"] is not None': "a row read through `backorders()`: shown",
        "AND p.queue_position IS NOT NULL) AS s": "through `backorders()`; whether it waits, not where",
        "SELECT b.*, CASE WHEN b.queue_position IS NULL OR {tied}": "through `backorders()`; whether it waits",
        "SELECT b.*, CASE WHEN b.queue_position IS NULL OR EXISTS": "through `backorders()`; whether it waits",
        "o.queue_position < b.queue_position": "through `backorders()`, within one SKU: the origin cancels out",
        "ORDER BY sku, queue_position": "through `backorders()`, ordered within each SKU: the origin cancels out",
    },
}


def _named_places() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(STORE.glob("*.py")):
        if path.name in WRITERS or path.name == "mapping.py":  # mapping: a row as the seam or the writer read it
            continue
        for line in path.read_text().splitlines():
            if PLACES.search(line):
                found.setdefault(path.name, []).append(line.strip())
    return found


def test_every_reader_of_a_place_reads_it_as_shown():
    unexplained = {name: [line for line in lines if not any(part in line for part in NAMED_PLACES.get(name, {}))]
                   for name, lines in _named_places().items()}
    unexplained = {name: lines for name, lines in unexplained.items() if lines}
    assert not unexplained, (
        "a stored place named outside the seam (it counts from the SKU's origin, migration 0029): read it through "
        f"domain.store.current's backorders(), or name it in NAMED_PLACES with the reason: {unexplained}")


def test_the_named_places_still_exist():
    found = _named_places()
    for name, parts in NAMED_PLACES.items():
        for part in parts:
            assert any(part in line for line in found.get(name, [])), f"{name}: {part!r} is gone: drop it here"


def test_the_place_guard_sees_a_stored_place():
    for line in ('SELECT "queue_position" FROM "backorders" WHERE "id" = ?', "f'SELECT {_WAITING_COLUMNS} FROM x'",
                 't.Backorder.filter(sku=sku).values("queue_position")'):
        assert PLACES.search(line), line
