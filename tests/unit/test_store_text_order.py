"""Every ordering in the store (`ORDER BY` in SQL, `order_by(` in tortoise) either sorts text in code point order
through domain/store/ordering.py, or is named below with the reason its keys need not: numbers and times, ids made by
`new_id` (fixed width, lower-case hex: every collation orders them as their bytes) or a grouping nobody reads as an
order. On PostgreSQL a text key otherwise sorts by the database's collation, which differs from SQLite's and from
Python's `sorted` (tests/integration/test_text_order.py shows it on a database with ICU's English collation). A new
ordering fails here until it takes one side.
"""

from __future__ import annotations

import re
from pathlib import Path

STORE = Path(__file__).resolve().parents[2] / "domain" / "store"

# in code point order, whatever the database's collation
THROUGH_THE_HELPERS = re.compile(r'by_code_point|_text_key|text_key|COLLATE "C"|_queue_order|_P_SKU|by_key|by_id\b|'
                                 r"by_sku|by_email")

# file -> the orderings (a part of their line, as written) whose keys are not text a person chose, and why
NOT_CHOSEN_TEXT = {
    "served_ranges.py": {
        'ORDER BY r."hid"': "history rows' serial numbers (integers)",
        'ORDER BY h."id"': "history rows' serial numbers (integers)",
    },
    "export.py": {
        'chunks by keyset (`id > last ORDER BY id LIMIT n`), so an export of any size holds one chunk in memory."""':
            "its docstring",
        '"WHERE b.id > {after} AND b.updated_at >= {since} ORDER BY b.id LIMIT {limit}"),':
            "keyset over ids made by new_id; the comparison and the order use one collation",
        '"WHERE l.id > {after} AND o.placed_at >= {since} ORDER BY l.id LIMIT {limit}"),':
            "keyset over ids made by new_id; the comparison and the order use one collation",
    },
    "notify.py": {
        "'WITH ORDINALITY AS v(id, email, n) ORDER BY v.n '": "a number",
        'about__not_isnull=True).order_by("next_attempt_at", "created_at")': "times",
        'query = OutboxMessage.filter(id__in=[kept.id, merged.id], status=SENDING).order_by("id")':
            "ids made by new_id",
        'NotificationEvent.filter(digest_id__in=list(digest_ids)).order_by("id")': "a number",
        '.order_by("due_at")': "a time",
        'NotificationEvent.filter(digest_id=digest_id).order_by("id")': "a number",
        'query.order_by("next_attempt_at").limit(limit)': "a time",
        'stale.order_by("claimed_until")': "a time",
        'rows = list(await query.order_by("-id").limit(first + 1))': "a number",
        '.order_by("-created_at", "-id").limit(1).values_list(': "a time, then ids made by new_id",
    },
    "portal.py": {
        'rows = await PreferenceChangeRecord.filter(email=email).order_by("-id").limit(limit).values()': "a number",
    },
    "queries.py": {
        '"WHERE o.id IN ({keys}) ORDER BY o.id, l.position",': "grouped by order (ids made by new_id), then a number",
        "f'FROM {history()} WHERE backorder_id IN ({{keys}}) ORDER BY id', list(ids)):": "a number",
        'f"SELECT id FROM {backorders()} WHERE {filters} ORDER BY id LIMIT {int(first) + 1}", params)]':
            "ids made by new_id",
        "'FROM \"goodwill\" WHERE backorder_id IN ({keys}) ORDER BY at, id', list(ids)):":
            "a time, then ids made by new_id",
        'for line in await t.PurchaseOrderLine.filter(purchase_order_id__in=[r["id"] for r in rows]).order_by("id")'
        '.values():': "a number",
        "'AND queue_position IS NOT NULL AND sku IN ({keys}) ORDER BY sku, queue_position',":
            "grouped by SKU into a dict, then a number",
        "ORDER BY o.priority_override DESC LIMIT 1) FROM": "a number (the next agent priority down a queue)",
        "ORDER BY o.ordered_at DESC LIMIT 1) AS latest": "a time (the latest order at one priority)",
    },
    "tokens.py": {
        'return [_info(r) for r in await t.ApiToken.filter(revoked_at=None).order_by("id")]': "ids made by new_id",
    },
    "uow.py": {
        "# the priority as ORDER BY ... LIMIT 1, not MIN/MAX": "a comment",
        'first = ("ORDER BY \\"ordered_at\\" FETCH FIRST (:take::bigint) ROWS WITH TIES" if postgres':
            "a time with its ties (the fold's slice orders them by id in code point order above it: `by_id`)",
        '"""A text column as an ORDER BY term in code point order (domain.store.ordering)."""': "a docstring",
        "f'ORDER BY {order}', [sku, *WAITING, units])": "the queue's order (`_queue_order`)",
        'f\'SUM("quantity" - "allocated_quantity") OVER (ORDER BY {order} ROWS UNBOUNDED PRECEDING) AS "upto", \'':
            "the queue's order (`_queue_order`)",
        "f'ORDER BY \"priority_override\" {first} LIMIT 1) '": "a number",
        'records = await t.QueueServe.filter(sku=sku, folded_count__lt=F("served_count")).order_by("id").using_db(':
            "a number",
        'untold = t.QueueServe.filter(told=False).order_by("id").using_db(self.conn)': "a number",
        "{lower} ORDER BY \"priority_override\" DESC LIMIT 1',": "a number",
        'f\'AND {_WAITING_ROWS} ORDER BY "priority_override" DESC LIMIT 1) AS "{status.lower()}",\'': "a number",
        'f\'AND "demand_to" > :reach ORDER BY "demand_to" LIMIT 1), :reach) \'':
            "a number (the demand index: queue order while the projection is kept)",
        '\'AND "demand_to" - ("quantity" - "allocated_quantity") < :reach ORDER BY "demand_to"\',':
            "a number (the demand index: queue order while the projection is kept)",
        '\'AND "demand_to" > :reach ORDER BY "demand_to" LIMIT 1\')':
            "a number (the demand index: queue order while the projection is kept)",
        'f\'FROM "backorders" WHERE {covered} ORDER BY "demand_to"{direction} LIMIT 1\'))':
            "a number (the demand index: queue order while the projection is kept)",
        '\'OR (q."upto" > :units AND q."upto" - q."wants" < :units) ORDER BY q."place"\',':
            "a number: the place in queue order (`_queue_order`)",
        'f\'ROW_NUMBER() OVER (ORDER BY {order}) AS "place", COUNT(*) OVER () AS "waiting_count" \'':
            "the queue's order (`_queue_order`)",
        'ORDER BY u."place", h."n"\')': "numbers: the place in the queue, then STATUS before ETA",
        'ORDER BY v."key", h."n"\')': "numbers: the place in the queue, then STATUS before ETA",
        'rows = await t.StagedReceipt.filter(sku=sku).order_by("id").limit(1).using_db(self.conn).values()':
            "a number",
        'lines = await t.PurchaseOrderLine.filter(purchase_order_id=purchase_order_id).order_by("id").values()':
            "a number",
        'lines = await t.OrderLine.filter(order_id=row["id"]).order_by("position").values()': "a number",
        'f\'FROM {current.history()} WHERE "backorder_id" = {mark} ORDER BY "id"\', [backorder_id])': "a number",
    },
    "webhooks.py": {
        'return [_endpoint(r) for r in await WebhookEndpoint.all().order_by("created_at", "id")]':
            "a time, then ids made by new_id",
        'query = query.order_by("next_attempt_at", "id").limit(limit - len(found)).using_db(conn)':
            "a time, then ids made by new_id",
        'rows = await query.order_by("-id").limit(first + 1)': "ids made by new_id",
    },
}


def _orderings() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(STORE.glob("*.py")):
        if path.name == "ordering.py":
            continue
        for line in path.read_text().splitlines():
            if ("ORDER BY" in line or "order_by(" in line) and not THROUGH_THE_HELPERS.search(line):
                found.setdefault(path.name, set()).add(line.strip())
    return found


def _explained(name: str, line: str) -> bool:
    return any(part in line for part in NOT_CHOSEN_TEXT.get(name, {}))


def test_every_ordering_in_the_store_sorts_text_in_code_point_order_or_says_why_it_need_not():
    found = _orderings()
    unexplained = {name: [line for line in sorted(lines) if not _explained(name, line)]
                   for name, lines in found.items()}
    unexplained = {name: lines for name, lines in unexplained.items() if lines}
    assert not unexplained, (
        "orderings that sort by the database's collation: order text keys through domain/store/ordering.py "
        f"(by_code_point, text_key), or name them in NOT_CHOSEN_TEXT with the reason: {unexplained}")
    stale = {name: [part for part in parts if not any(part in line for line in found.get(name, ()))]
             for name, parts in NOT_CHOSEN_TEXT.items()}
    assert not {name: parts for name, parts in stale.items() if parts}, f"named here but gone: {stale}"
