"""Goodwill an agent gives a waiting customer (a credit in the order's currency and/or a discount code, with the
agent's note): its own append-only table, read per backorder."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("backorder", "0015_messages_know_what_they_tell")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Goodwill",
            fields=[
                ("id", fields.CharField(primary_key=True, max_length=32)),
                ("backorder_id", fields.CharField(db_index=True, max_length=32)),
                ("at", fields.DatetimeField()),
                ("agent", fields.CharField(max_length=200)),
                ("credit_amount", fields.DecimalField(max_digits=12, decimal_places=2, null=True)),
                ("credit_currency", fields.CharField(max_length=3, null=True)),
                ("discount_code", fields.CharField(max_length=64, null=True)),
                ("note", fields.TextField()),
            ],
            options={"table": "goodwill", "app": "backorder", "pk_attr": "id",
                     "table_description": "What an agent gave a waiting customer (domain.goodwill): append-only, "
                                          "one row per gesture."},
            bases=["Model"],
        ),
    ]
