"""Receipts put away in chunks (issue 15): a receipt for a long first-come-first-served queue serves it a few
hundred backorders a transaction, so no other writer (on SQLite: of any SKU) waits for the whole of it. What the
receipt has not yet handed out is staged: one row per such receipt (`staged_receipts`: where, how many units are
left, when and why they came, how many it has served), and at the location the units not yet put away
(`stock_levels.staged`: not on hand, so nobody else takes them, but counted by the ETA projection as supply
arriving now)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("backorder", "0022_dated_backorders_index")]

    initial = False

    operations = [
        ops.CreateModel(
            name="StagedReceipt",
            fields=[
                ("id", fields.BigIntField(primary_key=True)),
                ("sku", fields.CharField(db_index=True, max_length=64)),
                ("location", fields.CharField(max_length=32)),
                ("units", fields.IntField()),
                ("received_at", fields.DatetimeField()),
                ("cause", fields.CharField(max_length=32)),
                ("cause_data", fields.TextField()),
                ("waiting_count", fields.IntField()),
                ("served_count", fields.IntField(default=0)),
            ],
            options={"table": "staged_receipts", "app": "backorder", "pk_attr": "id",
                     "table_description": "A receipt for a long first-come-first-served queue still being put "
                                          "away, a chunk of backorders a transaction"},
            bases=["Model"],
        ),
        ops.AddField(
            model_name="StockLevel",
            name="staged",
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
