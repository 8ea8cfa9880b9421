"""A message is worded when it is sent, not when it is queued, so its row keeps what it is about: a digest's
windows (their events say what changed) and backorders, a back-in-stock message's subscription. A subscription
counts the returns to stock it was told of, so the next real return has a key of its own (a message dropped at
send time because the stock had gone again re-arms it)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("backorder", "0014_one_pending_digest")]

    initial = False

    operations = [
        ops.AddField(
            model_name="OutboxMessage",
            name="about",
            field=fields.JSONField(null=True),
        ),
        ops.AddField(
            model_name="ProductSubscription",
            name="returns_told",
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
