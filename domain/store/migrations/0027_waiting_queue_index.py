"""The queue-order index holds the waiting backorders only (issue 15): a receipt that serves 100k of them rewrites
their rows, and every updated row got a new entry in each index of `backorders` (its status is in this one, so no
update is in place); a row that stops waiting now leaves this index instead of getting one. The index stays the
queue's probes' (`TortoiseUnitOfWork._queue_ends`, `_next_in_line`, `waiting_head`): their statements name the
same predicate, which SQLite needs word for word to use a partial index. On PostgreSQL the table's pages keep
40% free (fillfactor 60) so the new version of an updated row can stay on its page. A partial index is not a
tortoise model index: created here, as 0022's is. Measured in bench/README.md ("Served rows written set-based")."""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEX = "backorders_waiting_queue"
WAITING_ROWS = "\"status\" IN ('WAITING', 'PARTIALLY_ALLOCATED')"  # as domain.store.uow states it


async def create_partial_index(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    await client.execute_script(
        f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "backorders" ("sku", "status", "priority_override", "ordered_at", '
        f'"id") WHERE {WAITING_ROWS}')
    if client.capabilities.dialect == "postgres":
        await client.execute_script('ALTER TABLE "backorders" SET (fillfactor = 60)')


async def drop_partial_index(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    await client.execute_script(f'DROP INDEX IF EXISTS "{INDEX}"')
    if client.capabilities.dialect == "postgres":
        await client.execute_script('ALTER TABLE "backorders" RESET (fillfactor)')


class Migration(migrations.Migration):
    dependencies = [("backorder", "0026_backorders_now")]

    initial = False

    operations = [
        ops.RemoveIndex(model_name="Backorder", name=None,
                        fields=["sku", "status", "priority_override", "ordered_at", "id"]),
        ops.RunPython(create_partial_index, drop_partial_index),
    ]
