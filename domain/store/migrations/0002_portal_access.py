from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('backorder', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AppSecret',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('value', fields.CharField(max_length=128)),
            ],
            options={'table': 'app_secrets', 'app': 'backorder', 'pk_attr': 'name'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomerPreferences',
            fields=[
                ('email', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=254)),
                ('by_email', fields.BooleanField(default=True)),
                ('by_sms', fields.BooleanField(default=False)),
                ('phone', fields.CharField(null=True, max_length=20)),
                ('quiet_hours_start', fields.CharField(null=True, max_length=5)),
                ('quiet_hours_end', fields.CharField(null=True, max_length=5)),
                ('timezone', fields.CharField(default='UTC', max_length=64)),
                ('language', fields.CharField(default='en', max_length=8)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'customer_preferences', 'app': 'backorder', 'pk_attr': 'email'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PortalLink',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('email', fields.CharField(db_index=True, max_length=254)),
                ('order_id', fields.CharField(null=True, max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(max_length=100)),
            ],
            options={'table': 'portal_links', 'app': 'backorder', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PortalSession',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('email', fields.CharField(db_index=True, max_length=254)),
                ('order_id', fields.CharField(null=True, max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'portal_sessions', 'app': 'backorder', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
