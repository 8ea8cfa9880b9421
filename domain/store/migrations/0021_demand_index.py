"""The queue's demand index (issue 15): `backorders.demand_to`, each waiting backorder's cumulative demand in queue
order plus the SKU's origin (recorded with its projection in `products.eta_projection`), indexed by SKU, so the
backorders whose ETA a purchase order's change can move are an index range, not a window over the whole queue;
and the ones with a "cancel if not by" date an index range too.

The projection now promises the index as well: the triggers that forget it watch `demand_to` too, and every
projection recorded before the index is forgotten. PostgreSQL's update trigger now forgets it only when one of the
columns it is about changed, as SQLite's does (it forgot it on any update: a customer's "cancel if not by" date or
a note cost the next purchase order change a whole settle): still once per statement, the rows before and after
compared on those columns (EXCEPT both ways, so an id changed counts too)."""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

FORGET = 'UPDATE "products" SET "eta_projection" = NULL WHERE "eta_projection" IS NOT NULL AND "sku"'
BEFORE = ('"id", "sku", "quantity", "allocated_quantity", "status", "eta_date", "eta_confidence", "eta_source", '
          '"eta_reference", "queue_position", "priority_override", "ordered_at"')


COLUMNS = f'{BEFORE}, "demand_to"'
MOVED = (f'SELECT "sku" FROM (SELECT {COLUMNS} FROM "changed_backorders" EXCEPT SELECT {COLUMNS} FROM '
         f'"backorders_before") AS "after" UNION SELECT "sku" FROM (SELECT {COLUMNS} FROM "backorders_before" EXCEPT '
         f'SELECT {COLUMNS} FROM "changed_backorders") AS "before"')
POSTGRES = ('CREATE OR REPLACE FUNCTION "backorders_forget_projection_moved"() RETURNS trigger LANGUAGE plpgsql AS '
            f'$$ BEGIN {FORGET} IN ({MOVED}); RETURN NULL; END $$')
POSTGRES_BEFORE = ('CREATE OR REPLACE FUNCTION "backorders_forget_projection_moved"() RETURNS trigger LANGUAGE plpgsql '
                   f'AS $$ BEGIN {FORGET} IN (SELECT "sku" FROM "changed_backorders" UNION SELECT "sku" FROM '
                   '"backorders_before"); RETURN NULL; END $$')


def _update_trigger(columns: str) -> str:
    return (f'CREATE TRIGGER "backorders_forget_projection_update" AFTER UPDATE OF {columns} ON "backorders" '
            f'BEGIN {FORGET} IN (OLD."sku", NEW."sku"); END')


async def watch_the_index(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    if client.capabilities.dialect == "postgres":
        await client.execute_script(POSTGRES)
    else:
        await client.execute_script('DROP TRIGGER IF EXISTS "backorders_forget_projection_update"')
        await client.execute_script(_update_trigger(COLUMNS))
    await client.execute_script('UPDATE "products" SET "eta_projection" = NULL')


async def unwatch_the_index(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    if client.capabilities.dialect == "postgres":
        await client.execute_script(POSTGRES_BEFORE)
    else:
        await client.execute_script('DROP TRIGGER IF EXISTS "backorders_forget_projection_update"')
        await client.execute_script(_update_trigger(BEFORE))
    await client.execute_script('UPDATE "products" SET "eta_projection" = NULL')


class Migration(migrations.Migration):
    dependencies = [("backorder", "0020_preference_consent_and_changes")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Backorder",
            name="demand_to",
            field=fields.BigIntField(null=True),
        ),
        ops.AddIndex(
            model_name="Backorder",
            index=Index(fields=["sku", "demand_to"]),
        ),
        ops.AddIndex(
            model_name="Backorder",
            index=Index(fields=["sku", "cancel_if_not_by"]),
        ),
        ops.RunPython(watch_the_index, unwatch_the_index),
    ]
