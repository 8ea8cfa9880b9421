"""A receipt recorded as a range is told after its commit (issue 15): the outbox's customer parts and digests and the
webhook deliveries are written by a fan-out in a transaction of its own, which marks the range `told`; in the
receipt's transaction they read the whole range back (10-12.7 s at 100k). The row keeps what the fan-out needs and
the folded rows forget: the first backorder's key and `partly` (the covered backorders that had units already).
Ranges recorded before were told in their receipt's transaction: marked told. The untold ones are found by a partial
index (every fan-out round asks), created here as 0027's is."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

INDEX = "queue_serves_untold"


async def mark_told(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    await client.execute_script('UPDATE "queue_serves" SET "told" = TRUE')
    await client.execute_script(f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "queue_serves" ("id") WHERE NOT "told"')


async def drop_index(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    await client.execute_script(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    dependencies = [("backorder", "0027_waiting_queue_index")]

    initial = False

    operations = [
        ops.AddField(model_name="QueueServe", name="first_priority", field=fields.IntField(null=True)),
        ops.AddField(model_name="QueueServe", name="first_ordered_at", field=fields.DatetimeField(null=True)),
        ops.AddField(model_name="QueueServe", name="first_id", field=fields.CharField(max_length=32, null=True)),
        ops.AddField(model_name="QueueServe", name="partly", field=fields.TextField(default="[]", db_default="[]")),
        ops.AddField(model_name="QueueServe", name="told", field=fields.BooleanField(default=False, db_default=False)),
        ops.RunPython(mark_told, drop_index),
    ]
