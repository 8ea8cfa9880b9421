"""Outbound webhooks: the endpoints staff register and their deliveries (outbox and delivery log)."""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

_json = {"encoder": functools.partial(dumps, separators=(",", ":")), "decoder": loads}


class Migration(migrations.Migration):
    dependencies = [("backorder", "0006_staff_sessions")]

    initial = False

    operations = [
        ops.CreateModel(
            name="WebhookEndpoint",
            fields=[
                ("id", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ("url", fields.CharField(max_length=2000)),
                ("description", fields.CharField(default="", max_length=500)),
                ("events", fields.JSONField(default=list, **_json)),
                ("secret", fields.CharField(max_length=100)),
                ("enabled", fields.BooleanField(default=True, db_index=True)),
                ("disabled_reason", fields.CharField(null=True, max_length=300)),
                ("failing_since", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "webhook_endpoints", "app": "backorder", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="WebhookDelivery",
            fields=[
                ("id", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ("endpoint_id", fields.CharField(db_index=True, max_length=32)),
                ("event_id", fields.CharField(db_index=True, max_length=40)),
                ("event_type", fields.CharField(max_length=40)),
                ("body", fields.TextField()),
                ("status", fields.CharField(default="QUEUED", db_index=True, max_length=12)),
                ("attempts", fields.IntField(default=0)),
                ("next_attempt_at", fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ("claimed_until", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("last_status_code", fields.IntField(null=True)),
                ("last_error", fields.TextField(null=True)),
                ("attempt_log", fields.JSONField(default=list, **_json)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("delivered_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("request_id", fields.CharField(null=True, max_length=64)),
            ],
            options={"table": "webhook_deliveries", "app": "backorder", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
