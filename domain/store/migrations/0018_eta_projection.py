"""A SKU's stored projection (issue 15): `products.eta_projection` holds the steps of cumulative demand that every
stored ETA and queue position of its queue follows (`SkuInventory.kept_projection`), so a purchase order's change
re-projects only the slice it moves without first reading the whole queue to check that premise.

The premise must never outlive a change to the queue, whoever writes it (a use case, a new code path, a script,
a test): the database forgets it. Any insert or delete of a backorder, and any update of what the premise is
about (its SKU, units, status, ETA, place, priority, order time, id), empties the SKU's `eta_projection`; the
unit of work writes it again after its own writes when the domain has checked the queue follows it. PostgreSQL
does it once per statement (transition tables: a 100k-row receipt pays one small join, not a trigger per row;
transition tables take no column list, so there every update of a backorder forgets it); SQLite per row, only
for the columns named."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

COLUMNS = ('"id", "sku", "quantity", "allocated_quantity", "status", "eta_date", "eta_confidence", "eta_source", '
           '"eta_reference", "queue_position", "priority_override", "ordered_at"')
FORGET = 'UPDATE "products" SET "eta_projection" = NULL WHERE "eta_projection" IS NOT NULL AND "sku"'

SQLITE = [
    f'CREATE TRIGGER "backorders_forget_projection_insert" AFTER INSERT ON "backorders" '
    f'BEGIN {FORGET} = NEW."sku"; END',
    f'CREATE TRIGGER "backorders_forget_projection_delete" AFTER DELETE ON "backorders" '
    f'BEGIN {FORGET} = OLD."sku"; END',
    f'CREATE TRIGGER "backorders_forget_projection_update" AFTER UPDATE OF {COLUMNS} ON "backorders" '
    f'BEGIN {FORGET} IN (OLD."sku", NEW."sku"); END',
]
POSTGRES = [
    'CREATE FUNCTION "backorders_forget_projection"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
    f'{FORGET} IN (SELECT DISTINCT "sku" FROM "changed_backorders"); RETURN NULL; END $$',
    'CREATE FUNCTION "backorders_forget_projection_moved"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
    f'{FORGET} IN (SELECT "sku" FROM "changed_backorders" UNION SELECT "sku" FROM "backorders_before"); '
    'RETURN NULL; END $$',
    'CREATE TRIGGER "backorders_forget_projection_insert" AFTER INSERT ON "backorders" REFERENCING NEW TABLE AS '
    '"changed_backorders" FOR EACH STATEMENT EXECUTE FUNCTION "backorders_forget_projection"()',
    'CREATE TRIGGER "backorders_forget_projection_delete" AFTER DELETE ON "backorders" REFERENCING OLD TABLE AS '
    '"changed_backorders" FOR EACH STATEMENT EXECUTE FUNCTION "backorders_forget_projection"()',
    'CREATE TRIGGER "backorders_forget_projection_update" AFTER UPDATE ON "backorders" REFERENCING OLD TABLE AS '
    '"backorders_before" NEW TABLE AS "changed_backorders" FOR EACH STATEMENT EXECUTE FUNCTION '
    '"backorders_forget_projection_moved"()',
]
TRIGGERS = ("insert", "delete", "update")


async def forget_on_change(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    for statement in POSTGRES if client.capabilities.dialect == "postgres" else SQLITE:
        await client.execute_script(statement)


async def drop_triggers(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    postgres = client.capabilities.dialect == "postgres"
    for kind in TRIGGERS:
        await client.execute_script(f'DROP TRIGGER IF EXISTS "backorders_forget_projection_{kind}"'
                                    + (' ON "backorders"' if postgres else ""))
    if postgres:
        await client.execute_script('DROP FUNCTION IF EXISTS "backorders_forget_projection"()')
        await client.execute_script('DROP FUNCTION IF EXISTS "backorders_forget_projection_moved"()')


class Migration(migrations.Migration):
    dependencies = [("backorder", "0017_retired_locations")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Product",
            name="eta_projection",
            field=fields.TextField(null=True),
        ),
        ops.RunPython(forget_on_change, drop_triggers),
    ]
