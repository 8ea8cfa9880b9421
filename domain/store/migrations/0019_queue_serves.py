"""The receipts at the head of long first-come-first-served queues, recorded as ranges of the queue they served
(issue 15): one row per receipt, folded into the served backorders' rows afterwards."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("backorder", "0018_eta_projection")]

    initial = False

    operations = [
        ops.CreateModel(
            name="QueueServe",
            fields=[
                ("id", fields.BigIntField(primary_key=True)),
                ("sku", fields.CharField(db_index=True, max_length=64)),
                ("location", fields.CharField(max_length=32)),
                ("served_at", fields.DatetimeField()),
                ("cause", fields.CharField(max_length=32)),
                ("cause_data", fields.TextField()),
                ("waiting_count", fields.IntField()),
                ("served_count", fields.IntField()),
                ("served_units", fields.IntField()),
                ("last_priority", fields.IntField()),
                ("last_ordered_at", fields.DatetimeField()),
                ("last_id", fields.CharField(max_length=32)),
                ("folded_count", fields.IntField(default=0)),
            ],
            options={"table": "queue_serves", "app": "backorder", "pk_attr": "id",
                     "table_description": "A receipt at the head of a long first-come-first-served queue, "
                                          "recorded as the range it served."},
            bases=["Model"],
        ),
    ]
