"""Outbox rows remember the request that caused them (`request_id`, also in the log lines and the
response's X-Request-ID header): a message can be traced back to the request behind it."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("backorder", "0004_structured_causes")]

    initial = False

    operations = [
        ops.AddField(
            model_name="NotificationEvent",
            name="request_id",
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name="OutboxMessage",
            name="request_id",
            field=fields.CharField(null=True, max_length=255),
        ),
    ]
