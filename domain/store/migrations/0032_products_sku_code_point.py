"""The product list pages SKUs in code point order (`queries._page`, `chosen_key`: `WHERE "sku" COLLATE "C" > $1
ORDER BY "sku" COLLATE "C" LIMIT n`), which the primary key's index, in the database's collation, cannot serve on
PostgreSQL: every page of the agent console's product list read and sorted the whole catalogue (a sequential scan of
5,000 products for a page of 20). An index of the SKUs in code point order serves it. SQLite compares text by its
bytes, code point order already: nothing to add there."""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEX = "products_sku_code_point"


async def create_index(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    if client.capabilities.dialect == "postgres":
        await client.execute_script(f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "products" ("sku" COLLATE "C")')


async def drop_index(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    if client.capabilities.dialect == "postgres":
        await client.execute_script(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    dependencies = [("backorder", "0031_waiting_queue_index_code_point")]

    initial = False

    operations = [ops.RunPython(create_index, drop_index)]
