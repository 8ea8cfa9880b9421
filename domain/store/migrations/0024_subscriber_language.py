"""A product subscription records the language its subscriber reads, given or negotiated from the request when
they subscribed: a phone number alone has none, and its opt-in question, back-in-stock text and STOP/HELP replies
were all English. Subscriptions made before are English, as they were told."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("backorder", "0023_staged_receipts")]

    initial = False

    operations = [
        ops.AddField(
            model_name="ProductSubscription",
            name="language",
            field=fields.CharField(max_length=8, default="en", db_default="en"),
        ),
    ]
