"""Products choose how scarce stock is shared: `allocation_policy` (PRIORITY, the old behaviour, or
FAIR_SHARE) with the fair-share minimum and the per-customer cap per receipt. Existing products get PRIORITY
(a database default: a NOT NULL column cannot be added to a table with rows without one)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("backorder", "0007_webhooks")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Product",
            name="allocation_policy",
            field=fields.CharField(default="PRIORITY", db_default="PRIORITY", max_length=16),
        ),
        ops.AddField(
            model_name="Product",
            name="fair_share_minimum",
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name="Product",
            name="customer_cap_per_receipt",
            field=fields.IntField(null=True),
        ),
    ]
