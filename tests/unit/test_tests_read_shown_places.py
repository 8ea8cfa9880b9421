"""The tests read a backorder's place as shown, never as stored (issue 15, step 6 (a)).

A stored place (`backorders.queue_position`) counts from its SKU's origin (`products.place_origin`, migration 0029),
which a receipt at the head moves instead of rewriting the places behind it: every test runs with it moving
(tests/conftest.py), so a test that reads the stored column compares a number no reader shows. Tests read backorder
rows through `tests/shown_places.py` (the `backorders_placed` view); the store's own readers are kept on the seam by
tests/unit/test_store_reads_current.py. This guard fails on a test that reads the rows from the table: an ORM read of
`Backorder` that returns its place (a whole row, `values()` of every column, or one naming `queue_position`), or SQL
naming `queue_position` or every column on the table. Writes (`update`, `bulk_create`, ...) and counts are not reads
of a place: a test may put a wrong place in behind the store's back on purpose.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
HELPER = TESTS / "shown_places.py"

# an ORM chain on `Backorder` ending in one of these reads no place
NOT_A_PLACE = {"update", "delete", "count", "exists", "bulk_create", "bulk_update", "create", "get_or_create",
               "update_or_create", "select_for_update_skip", "_meta"}
WHOLE_ROWS = {"get", "get_or_none", "first", "all", "filter", "exclude", "order_by", "limit", "offset", "raw",
              "select_for_update", "using_db"}
# SQL on the table (not a view: `backorders_placed`, `backorders_now`) that reads the place or every column
TABLE = re.compile(r'\b(?:FROM|JOIN)\s+"?backorders"?(?![\w"])(?:\s+(?:AS\s+)?"?(\w+)"?)?', re.IGNORECASE)
KEYWORDS = {"where", "on", "join", "left", "inner", "order", "group", "limit", "using", "natural", "cross"}
# files that name such SQL as what a guard must see, not to read it
EXAMPLES = {"unit/test_store_reads_current.py": "the store guard's own examples of a table read",
            "integration/test_seed_queue.py": "compares the seeding's rows as stored with the ORM's, every column"}


def _sql_reads_a_place(text: str) -> bool:
    for table in TABLE.finditer(text):
        alias = table.group(1)
        every = r"SELECT\s+\*" if alias is None or alias.lower() in KEYWORDS else rf"SELECT\s+\*|\b{alias}\.\*"
        if re.search(rf"queue_position|{every}", text, re.IGNORECASE):
            return True
    return False


def _chain(node: ast.expr) -> tuple[str | None, list[ast.Call | ast.Attribute]]:
    """The root name of a chain `x.Backorder.filter(...).values(...)` and its links, outermost last."""
    links: list[ast.Call | ast.Attribute] = []
    while True:
        if isinstance(node, ast.Call):
            links.append(node)
            node = node.func
        elif isinstance(node, ast.Attribute):
            links.append(node)
            if node.attr == "Backorder":
                return "Backorder", links[::-1][1:]
            node = node.value
        else:
            return (node.id if isinstance(node, ast.Name) else None), links[::-1]


def _reads_a_place(calls: list[tuple[str, ast.Call]]) -> bool:
    names = [name for name, _ in calls]
    if not names or any(name in NOT_A_PLACE for name in names):
        return False
    for name, call in calls:
        if name in ("values", "values_list", "only"):
            named = [a.value for a in call.args if isinstance(a, ast.Constant)]
            return not call.args or "queue_position" in named
    return any(name in WHOLE_ROWS for name in names)


def place_reads(source: str) -> Iterator[tuple[int, str]]:
    """(line, what) for each read of a stored place in a test's source."""
    tree = ast.parse(source)
    outermost: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call | ast.Attribute) and id(node) not in outermost:
            root, links = _chain(node)
            if root != "Backorder":
                continue
            # the chain's calls, named by their method: `filter(...)` is the Call whose func is `.filter`
            calls = [(link.func.attr, link) for link in links
                     if isinstance(link, ast.Call) and isinstance(link.func, ast.Attribute)]
            outermost.update(id(inner) for inner in ast.walk(node))
            if _reads_a_place(calls):
                yield node.lineno, ast.get_source_segment(source, node) or ""
        elif isinstance(node, ast.Constant | ast.JoinedStr) and id(node) not in outermost:
            outermost.update(id(inner) for inner in ast.walk(node))
            parts = node.values if isinstance(node, ast.JoinedStr) else [node]
            text = "".join(v.value for v in parts if isinstance(v, ast.Constant) and isinstance(v.value, str))
            if _sql_reads_a_place(text):
                yield node.lineno, text


def test_no_test_reads_a_stored_place():
    found = {}
    for path in sorted(TESTS.rglob("*.py")):
        if path == HELPER or path == Path(__file__).resolve() or str(path.relative_to(TESTS)) in EXAMPLES:
            continue
        reads = list(place_reads(path.read_text()))
        if reads:
            found[str(path.relative_to(TESTS))] = reads
    assert not found, (
        "a test reads a backorder's place as stored (it counts from the SKU's origin, migration 0029): read the rows "
        f"through tests/shown_places.py: {found}")


def test_the_guard_sees_a_stored_place_read():
    for line in ("await t.Backorder.get(id=x)", "await t.Backorder.get_or_none(id=x)",
                 "await t.Backorder.filter(sku=s).order_by('id').values()",
                 "await t.Backorder.filter(sku=s).values('id', 'queue_position')",
                 "await t.Backorder.filter(sku=s).values_list('queue_position', flat=True)",
                 "await models.Backorder.filter(sku=s)", "await Backorder.all()",
                 "await t.Backorder.raw('SELECT * FROM backorders')",
                 "sql.fetch('SELECT id, queue_position FROM backorders WHERE sku = $1', s)",
                 "sql.fetch('SELECT b.* FROM \"backorders\" AS b')", "sql.fetch('SELECT b.* FROM backorders b')",
                 "conn.execute_query_dict(f'SELECT * FROM \"backorders\" WHERE sku = {mark}')"):
        assert list(place_reads(line)), line
    for line in ("await t.Backorder.filter(sku=s).count()", "await t.Backorder.filter(id=x).update(queue_position=9)",
                 "await t.Backorder.filter(sku=s).values('id', 'status')",
                 "await t.Backorder.filter(sku=s).values_list('status', flat=True)",
                 "await t.Backorder.bulk_create(rows)", "t.Backorder(id=x, queue_position=1)",
                 "await t.Backorder.filter(sku=s, status='ALLOCATED').exists()",
                 "t.Backorder._meta.fields_map['queue_position']",
                 "sql.fetch('SELECT id, queue_position FROM backorders_placed WHERE sku = $1', s)",
                 "sql.fetch('SELECT * FROM \"backorders_now\"')",
                 "sql.fetch('SELECT h.* FROM history h JOIN \"backorders\" AS b ON b.id = h.backorder_id')",
                 "await shown_places.rows('queue_position', sku=s)"):
        assert not list(place_reads(line)), line
