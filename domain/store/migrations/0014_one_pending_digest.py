"""At most one pending digest per customer, enforced by the database (a partial unique index): the recorder no
longer takes an advisory lock per customer to keep it so. A hot SKU's receipt serving tens of thousands of
customers took as many locks in one transaction and ran PostgreSQL out of its shared lock table ("out of
shared memory"), failing the receipt. A pending digest holds no events (it claims them only when it is sent),
so a duplicate, which the old locks never let happen, would be dropped here keeping the earliest due."""

from tortoise import migrations
from tortoise.migrations import operations as ops


async def one_pending_digest(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    await client.execute_script(
        'DELETE FROM "digests" WHERE "status" = \'PENDING\' AND EXISTS (SELECT 1 FROM "digests" AS "d" '
        'WHERE "d"."email" = "digests"."email" AND "d"."status" = \'PENDING\' AND ("d"."due_at" < "digests"."due_at" '
        'OR ("d"."due_at" = "digests"."due_at" AND "d"."id" < "digests"."id")))')
    await client.execute_script(
        'CREATE UNIQUE INDEX IF NOT EXISTS "digests_one_pending_per_email" ON "digests" ("email") '
        "WHERE \"status\" = 'PENDING'")


async def any_pending_digests(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    await client.execute_script('DROP INDEX IF EXISTS "digests_one_pending_per_email"')


class Migration(migrations.Migration):
    dependencies = [("backorder", "0013_locations_and_rates")]

    initial = False

    operations = [ops.RunPython(one_pending_digest, any_pending_digests)]
