"""The queue-order index orders its ids in code point order on PostgreSQL (issue 15), as every reader of the queue
orders them (`"id" COLLATE "C"`, domain.store.ordering): built on the database's collation, it ordered a queue's
ties otherwise, so a probe for a queue's first or last backorder (`ORDER BY "ordered_at", "id" COLLATE "C" LIMIT 1`)
could not take the index's order and sorted what it read. When the planner took the SKU's backorders for one row (a
launch product's queue, grown since the table was last analysed), it read the SKU's whole queue to sort it: an order
behind 100k waiting took 176 ms against 10 ms behind none (`python -m bench.place_order postgres`). SQLite's ids
compare by their bytes, code point order already: its index is left as it is."""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEX = "backorders_waiting_queue"
WAITING_ROWS = "\"status\" IN ('WAITING', 'PARTIALLY_ALLOCATED')"  # as domain.store.uow states it


async def _rebuilt(client: object, id_column: str) -> None:
    if client.capabilities.dialect != "postgres":  # type: ignore[attr-defined]
        return
    await client.execute_script(  # type: ignore[attr-defined]
        f'DROP INDEX IF EXISTS "{INDEX}"; CREATE INDEX "{INDEX}" ON "backorders" ("sku", "status", '
        f'"priority_override", "ordered_at", {id_column}) WHERE {WAITING_ROWS}')


async def in_code_point_order(apps: object, schema_editor: object) -> None:
    await _rebuilt(schema_editor.client, '"id" COLLATE "C"')  # type: ignore[attr-defined]


async def in_the_databases_order(apps: object, schema_editor: object) -> None:
    await _rebuilt(schema_editor.client, '"id"')  # type: ignore[attr-defined]


class Migration(migrations.Migration):
    dependencies = [("backorder", "0030_queue_serves_told_through")]

    initial = False

    operations = [ops.RunPython(in_code_point_order, in_the_databases_order)]
