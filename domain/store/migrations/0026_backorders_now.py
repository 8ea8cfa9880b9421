"""The backorders and their history as every reader sees them (issue 15): a receipt at the head of a long queue may
record the range it served whole as one row of `queue_serves` (0019) and leave those backorders' rows as they were
until they are folded in, in chunks, afterwards. `backorders_now` and `backorder_history_now` are the rows with a
pending range applied: each backorder it covers as the fold will write it (`domain.model.head.fold`, that is
`serve` at the receipt's time: allocated whole from the receipt's location, ALLOCATED, ready the day it was
served unless its ETA was already set aside, out of the queue, the reason naming its place, a version on, updated
then), and the history entries the fold will write (STATUS, and ETA when its date moves). Every read of the store
goes through them (domain.store.current); writers lock the SKU, which folds its pending ranges first, and read
and write the tables.

Nothing pending is the common case: then the views are the table and an anti-join on the (empty) pending
serves. Only one range of a SKU is pending at a time (a second receipt locks the SKU, which folds the first).

The views name every column of `backorders`: a migration that adds one recreates them (a test compares the two).
Frozen here as of this migration."""

from tortoise import migrations
from tortoise.migrations import operations as ops

COLUMNS = ("id", "order_id", "order_line_id", "sku", "customer_email", "customer_tier", "channel", "ordered_at",
           "quantity", "original_quantity", "allocated_quantity", "shipped_quantity", "cancelled_quantity",
           "substituted_quantity", "reserved", "shipped_from", "status", "eta_date", "eta_confidence", "eta_source",
           "eta_reference", "promised_date", "priority_override", "priority_reason", "order_quantity",
           "allocation_reason", "queue_position", "demand_to", "cancel_if_not_by", "substitute_consent",
           "declined_substitutes", "created_at", "updated_at", "version")

HISTORY_COLUMNS = ("id", "backorder_id", "at", "kind", "old_value", "new_value", "cause", "cause_data")

# ids of the derived history entries: after every stored one, STATUS before ETA (reads order a backorder's by id)
DERIVED_STATUS_ID, DERIVED_ETA_ID = 9_000_000_000_000_000_000, 9_000_000_000_000_000_001

PENDING = '"folded_count" < "served_count"'
PENDING_INDEX = "queue_serves_pending"


def _sql(postgres: bool) -> list[str]:
    if postgres:
        last_id = 'b."id" COLLATE "C" <= q."last_id" COLLATE "C"'
        served_day = '(q."served_at" AT TIME ZONE \'UTC\')::date'
        ordered = 'to_char(b."ordered_at" AT TIME ZONE \'UTC\', \'YYYY-MM-DD HH24:MI:SS\')'
        reserved = ('(b."reserved"::jsonb || jsonb_build_object(b."serve_location", '
                    'COALESCE((b."reserved"::jsonb ->> b."serve_location")::int, 0) '
                    '+ b."quantity" - b."allocated_quantity"))')
        eta_text, day_text = 'b."eta_date"::text', 'b."served_day"::text'
        text = "::text"
    else:
        last_id = 'b."id" <= q."last_id"'
        served_day = 'substr(q."served_at", 1, 10)'
        ordered = 'substr(b."ordered_at", 1, 19)'
        reserved = ('json_set(b."reserved", \'$."\' || b."serve_location" || \'"\', '
                    'COALESCE(json_extract(b."reserved", \'$."\' || b."serve_location" || \'"\'), 0) '
                    '+ b."quantity" - b."allocated_quantity")')
        eta_text, day_text = 'b."eta_date"', 'b."served_day"'
        text = ""
    # the backorders a pending range covers: still waiting, at or before its last in queue order (priority highest
    # first, then order time, then id), as `ServeRecord.covers` says
    covers = ('b."sku" = q."sku" AND q."folded_count" < q."served_count" '
              'AND b."status" IN (\'WAITING\', \'PARTIALLY_ALLOCATED\') '
              'AND (b."priority_override" > q."last_priority" OR (b."priority_override" = q."last_priority" AND '
              '(b."ordered_at" < q."last_ordered_at" OR (b."ordered_at" = q."last_ordered_at" AND '
              f'{last_id}))))')
    kept_eta = 'b."eta_source" = \'ALLOCATED\''  # set aside already: `serve` keeps it
    derived = {
        "allocated_quantity": 'b."quantity"',
        "reserved": reserved,
        "status": "'ALLOCATED'",
        "eta_date": f'CASE WHEN {kept_eta} THEN b."eta_date" ELSE b."served_day" END',
        "eta_confidence": f'CASE WHEN {kept_eta} THEN b."eta_confidence" ELSE \'HIGH\' END',
        "eta_source": "'ALLOCATED'",
        "eta_reference": f'CASE WHEN {kept_eta} THEN b."eta_reference" ELSE NULL END',
        # `domain.allocation.explain` for a first-come-first-served queue
        "allocation_reason": (
            f"'queue position ' || b.\"serve_place\"{text} || ' of ' || b.\"serve_of\"{text} || "
            "CASE WHEN b.\"priority_override\" = 0 THEN '; first come, first served' ELSE '; agent priority ' || "
            "CASE WHEN b.\"priority_override\" > 0 THEN '+' ELSE '' END || "
            f"b.\"priority_override\"{text} END || '; ordered ' || {ordered} || ' UTC'"),
        "queue_position": "NULL",
        "updated_at": 'b."served_at"',
        "version": 'b."version" + 1',
    }
    plain = ", ".join(f'b."{c}"' for c in COLUMNS)
    served = ", ".join(f'{derived[c]} AS "{c}"' if c in derived else f'b."{c}"' for c in COLUMNS)
    # the place each had in the queue when served is its place as the queue was last settled: `serve` numbers the
    # waiting backorders in queue order from 1, as settling places them (no window over the range: a filter on the
    # view then reaches the rows by index, as on the table)
    pending = (f'SELECT {plain}, q."location" AS "serve_location", q."served_at" AS "served_at", '
               f'{served_day} AS "served_day", q."waiting_count" AS "serve_of", q."cause" AS "serve_cause", '
               'q."cause_data" AS "serve_cause_data", b."queue_position" AS "serve_place" '
               f'FROM "queue_serves" AS q JOIN "backorders" AS b ON {covers}')
    # nothing pending (the common case): the table itself, decided once per statement (a one-time filter), so
    # filters and orders on its columns use its indexes; else the rows no range covers, and those it covers derived
    anything = f'(SELECT 1 FROM "queue_serves" AS p WHERE {PENDING})'
    backorders = (
        'CREATE VIEW "backorders_now" AS '
        f'SELECT {plain} FROM "backorders" AS b WHERE NOT EXISTS {anything} '
        f'UNION ALL SELECT {plain} FROM "backorders" AS b WHERE EXISTS {anything} AND NOT EXISTS '
        f'(SELECT 1 FROM "queue_serves" AS q WHERE {covers}) '
        f'UNION ALL SELECT {served} FROM ({pending}) AS b')
    history_plain = ", ".join(f'h."{c}"' for c in HISTORY_COLUMNS)
    # the ETA entry: `serve` writes one when the ETA moves to the day served (not set aside already) and its date
    # changes (none before, or another day)
    history = (
        'CREATE VIEW "backorder_history_now" AS '
        f'SELECT {history_plain} FROM "backorder_history" AS h '
        f'UNION ALL SELECT {DERIVED_STATUS_ID}, b."id", b."served_at", \'STATUS\', b."status", \'ALLOCATED\', '
        f'b."serve_cause", b."serve_cause_data" FROM ({pending}) AS b '
        f'UNION ALL SELECT {DERIVED_ETA_ID}, b."id", b."served_at", \'ETA\', {eta_text}, {day_text}, '
        f'b."serve_cause", b."serve_cause_data" FROM ({pending}) AS b '
        f'WHERE (b."eta_source" IS NULL OR NOT ({kept_eta})) AND (b."eta_date" IS NULL OR {eta_text} <> {day_text})')
    return [backorders, history]


async def create_views(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    # the receipts not yet folded, found by an index of those alone (the table keeps every receipt)
    await client.execute_script(
        f'CREATE INDEX IF NOT EXISTS "{PENDING_INDEX}" ON "queue_serves" ("sku") WHERE {PENDING}')
    for statement in _sql(client.capabilities.dialect == "postgres"):
        await client.execute_script(statement)


async def drop_views(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    await client.execute_script('DROP VIEW IF EXISTS "backorder_history_now"')
    await client.execute_script('DROP VIEW IF EXISTS "backorders_now"')
    await client.execute_script(f'DROP INDEX IF EXISTS "{PENDING_INDEX}"')


class Migration(migrations.Migration):
    dependencies = [("backorder", "0025_outbox_withholds_secrets")]

    initial = False

    operations = [ops.RunPython(create_views, drop_views)]
