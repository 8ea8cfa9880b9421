"""Locations become a table the shop maintains (only its codes are accepted where a location is input), seeded
with the default location MAIN and every location that already holds stock or is a purchase order's
destination, so nothing that worked before is refused after. The shop's exchange rates get a table; order lines
keep the substitute's own price and the rate it was converted at; order lines and backorders record the units
shipped per location (null on rows shipped before: not known, and not invented here)."""

from datetime import UTC, datetime

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

DEFAULT_LOCATION = "MAIN"  # frozen with this migration: domain.model.DEFAULT_LOCATION at the time


async def seed_locations(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    marks = "$1, $2, $3, $4" if client.capabilities.dialect == "postgres" else "?, ?, ?, ?"
    codes = {DEFAULT_LOCATION}
    for table in ("stock_levels", "purchase_orders"):
        rows = await client.execute_query_dict(f'SELECT DISTINCT location FROM "{table}"')
        codes |= {row["location"] for row in rows if row["location"]}
    now = datetime.now(UTC)
    await client.execute_many(
        f'INSERT INTO "locations" (code, name, created_at, updated_at) VALUES ({marks})',
        [[code, "Main warehouse" if code == DEFAULT_LOCATION else "", now, now] for code in sorted(codes)],
    )


class Migration(migrations.Migration):
    dependencies = [("backorder", "0012_backorder_preferences")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Location",
            fields=[
                ("code", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ("name", fields.CharField(default="", max_length=200)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "locations", "app": "backorder", "pk_attr": "code"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ExchangeRate",
            fields=[
                ("id", fields.IntField(primary_key=True, unique=True, db_index=True)),
                ("from_currency", fields.CharField(max_length=3)),
                ("to_currency", fields.CharField(max_length=3)),
                ("rate", fields.DecimalField(max_digits=18, decimal_places=8)),
                ("as_of", fields.DateField()),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "exchange_rates", "app": "backorder", "pk_attr": "id",
                     "unique_together": (("from_currency", "to_currency"),)},
            bases=["Model"],
        ),
        ops.AddField(model_name="OrderLine", name="shipped_from", field=fields.JSONField(null=True)),
        ops.AddField(model_name="OrderLine", name="list_price",
                     field=fields.DecimalField(max_digits=12, decimal_places=2, null=True)),
        ops.AddField(model_name="OrderLine", name="list_currency", field=fields.CharField(max_length=3, null=True)),
        ops.AddField(model_name="OrderLine", name="exchange_rate",
                     field=fields.DecimalField(max_digits=18, decimal_places=8, null=True)),
        ops.AddField(model_name="OrderLine", name="exchange_rate_date", field=fields.DateField(null=True)),
        ops.AddField(model_name="Backorder", name="shipped_from", field=fields.JSONField(null=True)),
        ops.RunPython(seed_locations, ops.RunPython.noop),
    ]
