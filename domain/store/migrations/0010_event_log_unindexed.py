"""The event log loses its indexes on backorder and order (issue 15): it is written far more than read, read in
commit order only, and keeping two random-key indexes up to date was two thirds of writing a big receipt's
300k event rows (bench/README.md)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("backorder", "0009_queue_tail")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="EventLog",
            name="backorder_id",
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AlterField(
            model_name="EventLog",
            name="order_id",
            field=fields.CharField(null=True, max_length=32),
        ),
    ]
