from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('backorder', '0002_portal_access')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Digest',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('email', fields.CharField(db_index=True, max_length=254)),
                ('status', fields.CharField(default='PENDING', db_index=True, max_length=12)),
                ('due_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('messages', fields.IntField(default=0)),
            ],
            options={'table': 'digests', 'app': 'backorder', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EmailSuppression',
            fields=[
                ('email', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=254)),
                ('reason', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'email_suppressions', 'app': 'backorder', 'pk_attr': 'email', 'table_description': 'Addresses we must not email: unsubscribed, or a permanent failure (mailbox does not exist).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotificationEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('email', fields.CharField(db_index=True, max_length=254)),
                ('backorder_id', fields.CharField(max_length=32)),
                ('order_id', fields.CharField(max_length=32)),
                ('sku', fields.CharField(max_length=64)),
                ('kind', fields.CharField(max_length=40)),
                ('data', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('digest_id', fields.CharField(null=True, db_index=True, max_length=32)),
            ],
            options={'table': 'notification_events', 'app': 'backorder', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('idempotency_key', fields.CharField(unique=True, max_length=128)),
                ('kind', fields.CharField(max_length=24)),
                ('channel', fields.CharField(max_length=8)),
                ('recipient', fields.CharField(max_length=254)),
                ('customer_email', fields.CharField(null=True, db_index=True, max_length=254)),
                ('subject', fields.CharField(null=True, max_length=300)),
                ('body_text', fields.TextField(unique=False)),
                ('body_html', fields.TextField(null=True, unique=False)),
                ('headers', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharField(default='QUEUED', db_index=True, max_length=12)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('provider_id', fields.CharField(null=True, db_index=True, max_length=128)),
                ('delivery_status', fields.CharField(null=True, max_length=24)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox_messages', 'app': 'backorder', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProductSubscription',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('sku', fields.CharField(db_index=True, max_length=64)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('phone', fields.CharField(null=True, max_length=20)),
                ('status', fields.CharField(max_length=12)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('notified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'product_subscriptions', 'app': 'backorder', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SmsConsent',
            fields=[
                ('phone', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=20)),
                ('opted_out', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('source', fields.CharField(max_length=32)),
            ],
            options={'table': 'sms_consent', 'app': 'backorder', 'pk_attr': 'phone'},
            bases=['Model'],
        ),
    ]
