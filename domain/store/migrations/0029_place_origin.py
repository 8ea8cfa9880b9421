"""Places relative to an origin (issue 15, step 6): `products.place_origin`, what the stored places of a SKU's waiting
backorders count from. The place a reader sees is `backorders.queue_position` less its SKU's origin, so a receipt
that serves the head of a long queue adds the count it served to the origin instead of rewriting the place of every
backorder behind it (the unit of work chooses the origin most rows already count from, as it does the demand
index's, `SkuInventory._index_demand`). A receipt recorded as a range (`queue_serves`) keeps the origin its rows
counted from when it was served (`queue_serves.place_origin`): the place a covered backorder's reason names is its
stored place less that one.

Readers see the places as shown: `backorders_placed` is the table with `queue_position` shown (what
`domain.store.current.backorders()` names when no served range is pending), and `backorders_now` (0026) is recreated
with its places shown the same way, and the place a pending range's reason names (`serve_place`) counted from
the range's recorded origin. The origin is a
scalar subquery per row of the SKU's product (its primary key): filters on the other columns still reach the
table's indexes through the views.

The views name every column of `backorders`: a migration that adds one recreates them, `backorders_placed` too
(tests/integration/test_backorders_now.py compares them).
Frozen here as of this migration."""

import importlib

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

_NOW = importlib.import_module("domain.store.migrations.0026_backorders_now")

STORED = 'b."queue_position"'
SHOWN = ('(b."queue_position" - COALESCE((SELECT o."place_origin" FROM "products" AS o WHERE o."sku" = b."sku"), '
         '0))')


def _shown(statement: str) -> str:
    """0026's view with each place shown: its columns (`b."queue_position"`, three selects) and the reason's."""
    serve_place = f'{STORED} AS "serve_place"'
    assert statement.count(serve_place) <= 1
    statement = statement.replace(serve_place, f'({STORED} - q."place_origin") AS "serve_place"')
    return statement.replace(f'{STORED},', f'{SHOWN} AS "queue_position",')


def _placed() -> str:
    columns = ", ".join(f'{SHOWN} AS "queue_position"' if c == "queue_position" else f'b."{c}"'
                        for c in _NOW.COLUMNS)
    return f'CREATE VIEW "backorders_placed" AS SELECT {columns} FROM "backorders" AS b'


async def show_places(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    backorders, _history = _NOW._sql(client.capabilities.dialect == "postgres")
    await client.execute_script('DROP VIEW IF EXISTS "backorders_now"')
    await client.execute_script(_shown(backorders))
    await client.execute_script(_placed())


async def store_places(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    backorders, _history = _NOW._sql(client.capabilities.dialect == "postgres")
    await client.execute_script('DROP VIEW IF EXISTS "backorders_placed"')
    await client.execute_script('DROP VIEW IF EXISTS "backorders_now"')
    await client.execute_script(backorders)


class Migration(migrations.Migration):
    dependencies = [("backorder", "0028_queue_serves_told")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Product",
            name="place_origin",
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name="QueueServe",
            name="place_origin",
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.RunPython(show_places, store_places),
    ]
