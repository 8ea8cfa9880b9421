"""Read side: batch lookups (for DataLoaders) and filtered, keyset-paginated lists.

Every function runs a fixed number of statements whatever the number of keys, and returns domain
objects, never ORM rows, so the API never sees the tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tortoise.expressions import Q, Subquery

from domain import model as m
from domain.allocation import PriorityPolicy
from domain.currency import ExchangeRate
from domain.eta import InboundSupply
from domain.goodwill import Goodwill
from domain.locations import Location
from domain.store import mapping
from domain.store import models as t
from domain.store.current import backorders, history, nothing_pending, reads
from domain.store.lookups import exactly
from domain.store.ordering import by_code_point, text_key
from domain.store.portal import CustomerPreferences
from domain.store.uow import ACTIVE, OPEN_PO


@dataclass(frozen=True)
class Page:
    ids: list[str]
    has_next: bool
    total: int


# The loaders' lookups read plain rows with hand-written SQL: a request of the portal makes a dozen of them,
# and tortoise's query building and model instances (with their datetime parsing) cost more than the SQL
# (bench/portal_query.py). SQLite hands back text for decimals, dates, datetimes and JSON; PostgreSQL typed
# values: the helpers below accept both.
async def _select(sql: str, keys: Sequence[Any], *params: Any) -> list[dict[str, Any]]:
    """`sql` with `{keys}` replaced by one placeholder per key (after `params`, which come first)."""
    db = t.Order._meta.db
    if db.capabilities.dialect == "postgres":
        marks = ", ".join(f"${n}" for n in range(len(params) + 1, len(params) + len(keys) + 1))
    else:
        marks = ", ".join("?" * len(keys))
    return list(await db.execute_query_dict(sql.format(keys=marks), [*params, *keys]))


def _marks(count: int, first: int = 1) -> str:
    """`count` placeholders, numbered from `first` on PostgreSQL."""
    if t.Order._meta.db.capabilities.dialect == "postgres":
        return ", ".join(f"${n}" for n in range(first, first + count))
    return ", ".join("?" * count)


def _by_code_point(column: str) -> str:
    return by_code_point(column, t.Order._meta.db.capabilities.dialect)


async def locations() -> list[Location]:
    """The shop's locations in use, by code (a shop has a handful); retired ones are not listed."""
    return [mapping.location(r) for r in await _select(
        f'SELECT code, name FROM "locations" WHERE retired_at IS NULL ORDER BY {_by_code_point("code")}', [])]


async def exchange_rates() -> list[ExchangeRate]:
    """Every rate the shop has set, by pair."""
    rows = await _select('SELECT from_currency, to_currency, rate, as_of FROM "exchange_rates" '
                         f'ORDER BY {_by_code_point("from_currency")}, {_by_code_point("to_currency")}', [])
    return [mapping.exchange_rate(r) for r in rows]


async def exchange_rates_by_pair(pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], ExchangeRate]:
    """The rates for these (from, to) pairs that exist: one statement."""
    if not pairs:
        return {}
    rows = await _select('SELECT from_currency, to_currency, rate, as_of FROM "exchange_rates" '
                         "WHERE from_currency IN ({keys})", sorted({source for source, _ in pairs}))
    wanted = set(pairs)
    found = (mapping.exchange_rate(r) for r in rows)
    return {rate.pair: rate for rate in found if rate.pair in wanted}


async def products_by_sku(skus: Sequence[str]) -> dict[str, m.Product]:
    if not skus:
        return {}
    rows = await _select(
        'SELECT sku, name, price, currency, backorder_policy, backorder_limit, release_date, substitutes, '
        'supplier_id, lead_time_days, allocation_policy, fair_share_minimum, customer_cap_per_receipt, version '
        'FROM "products" WHERE sku IN ({keys})', list(skus))
    return {r["sku"]: mapping.product(r) for r in rows}


async def stock_by_sku(skus: Sequence[str]) -> dict[str, list[m.StockLevel]]:
    out: dict[str, list[m.StockLevel]] = defaultdict(list)
    if not skus:
        return out
    for row in await _select('SELECT sku, location, on_hand, allocated, safety_stock, staged FROM "stock_levels" '
                             "WHERE sku IN ({keys}) ORDER BY " + _by_code_point("location"), list(skus)):
        out[row["sku"]].append(mapping.stock_level(row))
    return out


@reads
async def waiting_by_sku(skus: Sequence[str]) -> dict[str, int]:
    if not skus:
        return {}
    rows = await _select(f'SELECT sku, SUM(quantity - allocated_quantity) AS units FROM {backorders()} '
                         f'WHERE status IN ({_marks(len(ACTIVE))}) AND sku IN ({{keys}}) GROUP BY sku', list(skus),
                         *ACTIVE)
    out: dict[str, int] = defaultdict(int)
    for row in rows:
        out[row["sku"]] += int(row["units"])
    return out


async def inbound_by_sku(skus: Sequence[str]) -> dict[str, list[InboundSupply]]:
    lines = await t.PurchaseOrderLine.filter(sku__in=list(skus)).values(
        "purchase_order_id", "sku", "quantity", "received_quantity")
    pos = {
        row["id"]: row
        for row in await t.PurchaseOrder.filter(
            id__in=list({line["purchase_order_id"] for line in lines}), status__in=OPEN_PO
        ).values("id", "number", "expected_date")
    } if lines else {}
    out: dict[str, list[InboundSupply]] = defaultdict(list)
    for line in lines:
        po = pos.get(line["purchase_order_id"])
        if po and line["quantity"] > line["received_quantity"]:
            out[line["sku"]].append(
                InboundSupply(po["number"], po["expected_date"], line["quantity"] - line["received_quantity"]))
    for supplies in out.values():
        supplies.sort(key=lambda s: (s.expected_date, s.reference))
    return out


async def customers_by_email(emails: Sequence[str]) -> dict[str, m.Customer]:
    if not emails:
        return {}
    rows = await _select('SELECT email, name, phone, tier FROM "customers" WHERE email IN ({keys})', list(emails))
    return {r["email"]: mapping.customer(r) for r in rows}


async def orders_by_id(ids: Sequence[str]) -> dict[str, m.Order]:
    """Orders with their lines and customers: one statement for any number of orders (the orders joined to their
    customers and lines; an order's columns repeat on each of its lines)."""
    if not ids:
        return {}
    rows = await _select(
        "SELECT o.id AS id, o.number AS number, o.channel AS channel, o.customer_email AS customer_email, "
        "o.placed_at AS placed_at, o.ship_complete AS ship_complete, o.version AS version, c.email AS email, "
        "c.name AS name, c.phone AS phone, c.tier AS tier, l.id AS line_id, l.sku AS sku, l.quantity AS quantity, "
        "l.unit_price AS unit_price, l.currency AS currency, l.allocated_quantity AS allocated_quantity, "
        "l.shipped_quantity AS shipped_quantity, l.reserved AS reserved, l.backorder_id AS backorder_id, "
        "l.substitute_for AS substitute_for, l.shipped_from AS shipped_from, l.list_price AS list_price, "
        "l.list_currency AS list_currency, l.exchange_rate AS exchange_rate, "
        'l.exchange_rate_date AS exchange_rate_date FROM "orders" o '
        'LEFT JOIN "customers" c ON c.email = o.customer_email LEFT JOIN "order_lines" l ON l.order_id = o.id '
        "WHERE o.id IN ({keys}) ORDER BY o.id, l.position",
        list(ids))
    heads: dict[str, Any] = {}
    lines: dict[str, list[m.OrderLine]] = defaultdict(list)
    for row in rows:
        heads.setdefault(row["id"], row)
        if row["line_id"] is not None:
            lines[row["id"]].append(mapping.order_line({**row, "id": row["line_id"], "order_id": row["id"]}))
    return {key: mapping.order(r, lines[key], mapping.customer(r) if r["email"] is not None else None)
            for key, r in heads.items()}


async def order_id_by_number(number: str) -> str | None:
    row = await t.Order.filter(exactly(t.Order, "number", number.strip().upper())).values_list("id", flat=True)
    return row[0] if row else None


# Whether every waiting queue is in first-come order within each agent priority (`PriorityPolicy.is_fifo`, the
# shop's policy weighs nothing else): then a backorder's place is explained by index probes (`_turns_first_come`),
# else by reading those ahead of it (`_turns_by_place`). Set from the policy the service settles queues by
# (`queues_ranked_by`); off (the reading that holds for any order) until then.
QUEUES_FIRST_COME = False


def queues_ranked_by(policy: PriorityPolicy) -> None:
    """Tell the readers how the service ranks queues (the app and the CLI do, with the policy their desk settles by)."""
    global QUEUES_FIRST_COME
    QUEUES_FIRST_COME = policy.is_fifo


@reads
async def placed_in_turn(ids: Sequence[str]) -> dict[str, bool]:
    """For each waiting backorder, whether every backorder ahead of it in its queue was ordered before it (what
    `queue_explanation` words); those not waiting are left out. One statement for any number of backorders."""
    return (await backorders_with_turns(ids))[1]


@reads
async def backorders_with_turns(ids: Sequence[str]) -> tuple[dict[str, m.Backorder], dict[str, bool]]:
    """`backorders_by_id` and `placed_in_turn` together (a customer's page explains each backorder's place in its
    queue), in one statement whatever the number of backorders, costing index probes, not a queue's length, when
    queues are in first-come order (bench/queue_turns.py)."""
    if not ids:
        return {}, {}
    rows = await (_turns_first_come if QUEUES_FIRST_COME else _turns_by_place)(list(ids))
    return ({row["id"]: mapping.backorder(mapping.backorder_row(row), []) for row in rows},
            {row["id"]: bool(row["in_turn"]) for row in rows if row["queue_position"] is not None})


_WAITING = "\"status\" IN ('WAITING', 'PARTIALLY_ALLOCATED')"  # as the queue-order index states it (migration 0027)
_ROWS = '"backorders"'  # the queue's rows themselves, for `_turns_first_come`'s probes (a pending range left out there)


async def _turns_first_come(ids: list[str]) -> list[dict[str, Any]]:
    # A queue in first-come order within each agent priority: ahead of a backorder are every waiting one of a higher
    # priority, and those of its own ordered before it or at the same time with a lower id (code point order, as
    # settling ranks). So one ordered at or after it is ahead of it exactly when it has a higher priority, or the
    # same priority, the same order time and a lower id. The first: for each SKU of the page, the latest order time
    # at each agent priority of its waiting queue (`lv` walks down the queue-order index, migration 0027, a probe per
    # priority and status: a queue has a few priorities); the second, an index probe per row.
    #
    # The page's rows are read through `backorders()`; the probes read the rows themselves, so that they reach the
    # index (through the views they read the whole queue: bench/README.md). With a range pending (`rg`, one a SKU at
    # most) the rows it covers are out of the queue as the views show it: it covers a SKU's waiting rows up to its
    # last in queue order, so the waiting rows after it are those of a lower priority, or of its priority ordered
    # after it, or at the same time with a higher id. A level above its priority is all covered (left out); at its
    # priority the latest uncovered row is found walking down from the latest, bounded below by its order time.
    dialect = t.Order._meta.db.capabilities.dialect
    keys = ", ".join((f"${n}" if dialect == "postgres" else f"?{n}") for n in range(1, len(ids) + 1))
    ranged = not nothing_pending()

    def waiting(of: str) -> str:
        return f'o.sku = {of}.sku AND o.status = {of}.status AND o.{_WAITING}'

    def after(of: str) -> str:  # `o` of the same priority and order time as `of` is not covered by `rg`
        if not ranged:
            return ""
        return (f' AND (rg.sku IS NULL OR {of}.priority_override <> rg.last_priority OR {of}.ordered_at <> '
                f'rg.last_ordered_at OR {_by_code_point("o.id")} > {_by_code_point("rg.last_id")})')
    # a probe per waiting status, each an equality: PostgreSQL bounds the index scan by the columns after `status`
    # only then (with `status IN (...)` it read every entry of the SKU)
    tied = " OR ".join(
        f'EXISTS (SELECT 1 FROM {_ROWS} o WHERE o.{_WAITING} AND o.sku = b.sku AND o.status = \'{status}\' '
        'AND o.priority_override = b.priority_override AND o.ordered_at = b.ordered_at '
        f'AND {_by_code_point("o.id")} < {_by_code_point("b.id")}{after("b")})'
        for status in ("WAITING", "PARTIALLY_ALLOCATED"))
    above = 'SELECT MAX(l.latest) FROM latest l WHERE l.sku = b.sku AND l.priority > b.priority_override'
    if ranged:
        ranges = ('rg AS (SELECT q.sku AS sku, q.last_priority AS last_priority, q.last_ordered_at AS last_ordered_at, '
                  'q.last_id AS last_id FROM "queue_serves" q WHERE q.folded_count < q.served_count), ')
        with_range = " LEFT JOIN rg ON rg.sku = lv.sku"
        of_range = " AND (rg.sku IS NULL OR lv.priority <= rg.last_priority)"
        past = "'-infinity'::timestamptz" if dialect == "postgres" else "''"
        floor = f' AND o.ordered_at >= CASE WHEN lv.priority = rg.last_priority THEN rg.last_ordered_at ELSE {past} END'
        latest_after = (' AND (rg.sku IS NULL OR lv.priority < rg.last_priority OR o.ordered_at > rg.last_ordered_at '
                        f'OR {_by_code_point("o.id")} > {_by_code_point("rg.last_id")})')
        page = f"{backorders()} b LEFT JOIN rg ON rg.sku = b.sku"
    else:
        ranges = with_range = of_range = floor = latest_after = ""
        page = f"{backorders()} b"
    return list(await t.Order._meta.db.execute_query_dict(
        f'WITH RECURSIVE {ranges}lv(sku, status, priority) AS ('
        f'SELECT s.sku, s.status, (SELECT o.priority_override FROM {_ROWS} o WHERE {waiting("s")} '
        'ORDER BY o.priority_override DESC LIMIT 1) FROM (SELECT DISTINCT p.sku AS sku, w.status AS status '
        f'FROM {backorders()} p, (SELECT \'WAITING\' AS status UNION ALL SELECT \'PARTIALLY_ALLOCATED\') AS w '
        f'WHERE p.id IN ({keys}) AND p.queue_position IS NOT NULL) AS s '
        f'UNION ALL SELECT lv.sku, lv.status, (SELECT o.priority_override FROM {_ROWS} o WHERE {waiting("lv")} '
        'AND o.priority_override < lv.priority ORDER BY o.priority_override DESC LIMIT 1) FROM lv '
        'WHERE lv.priority IS NOT NULL), '
        f'latest AS (SELECT lv.sku AS sku, lv.priority AS priority, (SELECT o.ordered_at FROM {_ROWS} o '
        f'WHERE {waiting("lv")} AND o.priority_override = lv.priority{floor}{latest_after} '
        f'ORDER BY o.ordered_at DESC LIMIT 1) AS latest FROM lv{with_range} WHERE lv.priority IS NOT NULL{of_range}) '
        f'SELECT b.*, CASE WHEN b.queue_position IS NULL OR {tied} '
        f'OR ({above}) >= b.ordered_at THEN 0 ELSE 1 END AS in_turn FROM {page} WHERE b.id IN ({keys})',
        ids))


async def _turns_by_place(ids: list[str]) -> list[dict[str, Any]]:
    # any order (a policy that weighs more than time): whether one ahead of it by its stored place was ordered at or
    # after it, reading those ahead until the first (all of them when there is none)
    return await _select(
        f'SELECT b.*, CASE WHEN b.queue_position IS NULL OR EXISTS (SELECT 1 FROM {backorders()} o '
        'WHERE o.sku = b.sku AND o.queue_position IS NOT NULL AND o.queue_position < b.queue_position '
        'AND o.ordered_at >= b.ordered_at) THEN 0 ELSE 1 END AS in_turn '
        f'FROM {backorders()} b WHERE b.id IN ({{keys}})', ids)


async def products_with_substitutes(skus: Sequence[str]) -> dict[str, m.Product]:
    """The products and the products they name as substitutes, in one statement (a page of backorders shows
    both: bench/portal_query.py)."""
    if not skus:
        return {}
    db = t.Order._meta.db
    skus = list(skus)
    if db.capabilities.dialect == "postgres":
        marks = ", ".join(f"${n}" for n in range(1, len(skus) + 1))
        named = f'SELECT jsonb_array_elements_text(s.substitutes::jsonb) FROM "products" s WHERE s.sku IN ({marks})'
    else:  # numbered parameters: the keys are given once and named twice
        marks = ", ".join(f"?{n}" for n in range(1, len(skus) + 1))
        named = f'SELECT j.value FROM "products" s, json_each(s.substitutes) j WHERE s.sku IN ({marks})'
    rows = await db.execute_query_dict(
        'SELECT sku, name, price, currency, backorder_policy, backorder_limit, release_date, substitutes, '
        'supplier_id, lead_time_days, allocation_policy, fair_share_minimum, customer_cap_per_receipt, version '
        f'FROM "products" WHERE sku IN ({marks}) OR sku IN ({named})', skus)
    return {r["sku"]: mapping.product(r) for r in rows}


@reads
async def backorders_by_id(ids: Sequence[str]) -> dict[str, m.Backorder]:
    if not ids:
        return {}
    rows = await _select(f'SELECT * FROM {backorders()} WHERE id IN ({{keys}})', list(ids))
    return {row["id"]: mapping.backorder(mapping.backorder_row(row), []) for row in rows}


@reads
async def history_by_backorder(ids: Sequence[str]) -> dict[str, list[m.HistoryEntry]]:
    out: dict[str, list[m.HistoryEntry]] = defaultdict(list)
    if not ids:
        return out
    for h in await _select('SELECT backorder_id, at, kind, old_value, new_value, cause, cause_data '
                           f'FROM {history()} WHERE backorder_id IN ({{keys}}) ORDER BY id', list(ids)):
        out[h["backorder_id"]].append(mapping.history_entry(h))
    return out


async def goodwill_by_backorder(ids: Sequence[str]) -> dict[str, list[Goodwill]]:
    """Each backorder's goodwill, oldest first: one query for all of them."""
    out: dict[str, list[Goodwill]] = defaultdict(list)
    if not ids:
        return out
    for r in await _select('SELECT id, backorder_id, at, agent, credit_amount, credit_currency, discount_code, note '
                           'FROM "goodwill" WHERE backorder_id IN ({keys}) ORDER BY at, id', list(ids)):
        out[r["backorder_id"]].append(mapping.goodwill(r))
    return out


async def purchase_orders_by_id(ids: Sequence[str]) -> dict[str, m.PurchaseOrder]:
    rows = await t.PurchaseOrder.filter(id__in=list(ids)).values()
    lines: dict[str, list[m.PurchaseOrderLine]] = defaultdict(list)
    for line in await t.PurchaseOrderLine.filter(purchase_order_id__in=[r["id"] for r in rows]).order_by("id").values():
        lines[line["purchase_order_id"]].append(mapping.purchase_order_line(line))
    return {r["id"]: mapping.purchase_order(r, lines[r["id"]]) for r in rows}


async def suppliers_by_id(ids: Sequence[str]) -> dict[str, m.Supplier]:
    return {r["id"]: mapping.supplier(r) for r in await t.Supplier.filter(id__in=list(ids)).values()}


# -- lists ------------------------------------------------------------------------------------
async def _page(query: Any, key: str, first: int, after: str | None, order: Sequence[str],
                count: bool = True, *, chosen_key: bool = False) -> Page:
    """A page of keys after `after`, and the number of all that match (only when `count`: else -1, for a reader
    that does not ask for it, and one statement fewer). `chosen_key`: the key is chosen by people (a SKU), paged in
    code point order on both dialects; an id is made by `new_id` (fixed width, lower-case hex, which every collation
    orders as its bytes), paged by the column as it is, so PostgreSQL's primary key index serves the page."""
    total = await query.count() if count else -1
    by_key = key
    if chosen_key:
        query, by_key = text_key(query, key)
    if after is not None:
        query = query.filter(**{f"{by_key}__gt" if order[0] == key else f"{by_key}__lt": after})
    ids = list(await query.order_by(*(("-" if o.startswith("-") else "") + by_key for o in order)).limit(first + 1)
               .values_list(key, flat=True))
    return Page(ids=[str(i) for i in ids[:first]], has_next=len(ids) > first, total=total)


@dataclass(frozen=True)
class BackorderFilter:
    sku: str | None = None
    statuses: Sequence[str] = ()
    customer_email: str | None = None
    channel: str | None = None
    order_id: str | None = None
    overdue: bool | None = None
    today: date | None = None


@reads
async def list_backorders(f: BackorderFilter, first: int, after: str | None) -> Page:
    """Oldest first (ids are time-ordered), so a page is stable while new backorders arrive."""
    db = t.Order._meta.db
    pg = db.capabilities.dialect == "postgres"
    where: list[str] = []
    params: list[Any] = []

    def cond(sql: str, *values: Any) -> None:  # `sql` with a `{}` per value
        marks = _marks(len(values), len(params) + 1).split(", ") if values else []
        where.append(sql.format(*marks))
        params.extend(values)

    for column, value in (("sku", f.sku), ("customer_email", (f.customer_email or "").strip().lower() or None)):
        if value:
            if len(value) > _max_length(column):  # no row can hold it (`lookups.exactly`)
                return Page(ids=[], has_next=False, total=0)
            cond(column + " = {}", value)
    if f.statuses:
        cond(f"status IN ({', '.join('{}' for _ in f.statuses)})", *f.statuses)
    if f.channel:
        cond("channel = {}", f.channel)
    if f.order_id:
        cond("order_id = {}", f.order_id)
    if f.overdue is not None and f.today is not None:
        # overdue: still open and its promised date has passed
        overdue = f"(status IN ({', '.join('{}' for _ in ACTIVE)}) AND promised_date < {{}})"
        cond(overdue if f.overdue else f"NOT {overdue}", *ACTIVE, f.today if pg else f.today.isoformat())
    filters = " AND ".join(where) or "1 = 1"
    [counted] = await db.execute_query_dict(f"SELECT COUNT(*) AS n FROM {backorders()} WHERE {filters}", params)
    if after is not None:
        cond("id > {}", after)
        filters = " AND ".join(where)
    ids = [str(r["id"]) for r in await db.execute_query_dict(
        f"SELECT id FROM {backorders()} WHERE {filters} ORDER BY id LIMIT {int(first) + 1}", params)]
    return Page(ids=ids[:first], has_next=len(ids) > first, total=int(counted["n"]))


def _max_length(column: str) -> int:
    return int(t.Backorder._meta.fields_map[column].max_length)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class OrderFilter:
    customer_email: str | None = None
    channel: str | None = None
    number: str | None = None
    placed_after: datetime | None = None
    placed_before: datetime | None = None
    has_backorders: bool | None = None


async def list_orders(f: OrderFilter, first: int, after: str | None, *, count: bool = True) -> Page:
    """Newest first (`count`: see `_page`)."""
    query = t.Order.all()
    if f.customer_email:
        query = query.filter(exactly(t.Order, "customer_email", f.customer_email.strip().lower()))
    if f.channel:
        query = query.filter(channel=f.channel)
    if f.number:
        query = query.filter(exactly(t.Order, "number", f.number.strip().upper()))
    if f.placed_after:
        query = query.filter(placed_at__gte=f.placed_after)
    if f.placed_before:
        query = query.filter(placed_at__lt=f.placed_before)
    if f.has_backorders is not None:
        # in the database, not a list of ids; which orders have backorders no pending served range changes
        with_backorders = Subquery(t.Backorder.all().values("order_id"))  # not derived: the table holds it
        query = query.filter(id__in=with_backorders) if f.has_backorders else query.exclude(id__in=with_backorders)
    return await _page(query, "id", first, after, ["-id"], count)


async def list_products(search: str | None, first: int, after: str | None) -> Page:
    query = t.Product.all()
    if search:
        query = query.filter(Q(name__icontains=search.strip()) | Q(sku__icontains=search.strip()))
    return await _page(query, "sku", first, after, ["sku"], chosen_key=True)


async def list_purchase_orders(statuses: Sequence[str], sku: str | None, first: int, after: str | None) -> Page:
    query = t.PurchaseOrder.all()
    if statuses:
        query = query.filter(status__in=list(statuses))
    if sku:
        ids = await t.PurchaseOrderLine.filter(exactly(t.PurchaseOrderLine, "sku", sku)).values_list(
            "purchase_order_id", flat=True)
        query = query.filter(id__in=list(ids))
    return await _page(query, "id", first, after, ["id"])


# -- the agent console's reads ------------------------------------------------------------------
async def search_customers(text: str, limit: int) -> list[m.Customer]:
    """Customers whose email or name contains `text`, or whose phone (on the customer or in their
    notification preferences) ends in its digits: "07700 900123" finds +447700900123. One statement."""
    text = text.strip().lower()
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text:
        return []
    matches = Q(email__icontains=text) | Q(name__icontains=text)
    if len(digits) >= 6:
        tail = digits[-9:]  # the national part: leading 0 or country code left aside
        by_preferences = Subquery(CustomerPreferences.filter(phone__endswith=tail).values("email"))
        matches = matches | Q(phone__endswith=tail) | Q(email__in=by_preferences)
    query, by_email = text_key(t.Customer.filter(matches), "email")
    rows = await query.order_by(by_email).limit(limit).values("email", "name", "phone", "tier")
    return [mapping.customer(r) for r in rows]


@reads
async def queues_by_sku(skus: Sequence[str]) -> dict[str, list[str]]:
    """The ids of each SKU's waiting backorders in queue order (position 1 first): one statement."""
    if not skus:
        return {}
    rows = await _select(f'SELECT sku, id FROM {backorders()} WHERE status IN ({_marks(len(ACTIVE))}) '
                         'AND queue_position IS NOT NULL AND sku IN ({keys}) ORDER BY sku, queue_position',
                         list(skus), *ACTIVE)
    queues: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        queues[row["sku"]].append(str(row["id"]))
    return dict(queues)
