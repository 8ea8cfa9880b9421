"""Suppliers' delivery records (one row per purchase order line received: promised dates as first
promised and as last moved, the receipt date, delay and lead time in days), and a purchase order's date as
first promised. Existing purchase orders keep a null first date: their first promise was never kept."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('backorder', '0010_event_log_unindexed')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SupplierDelivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('purchase_order_id', fields.CharField(db_index=True, max_length=32)),
                ('purchase_order_number', fields.CharField(max_length=64)),
                ('supplier_id', fields.CharField(max_length=32)),
                ('sku', fields.CharField(max_length=64)),
                ('quantity', fields.IntField()),
                ('ordered_on', fields.DateField(null=True)),
                ('first_promised', fields.DateField()),
                ('last_promised', fields.DateField()),
                ('received_on', fields.DateField()),
                ('delay_days', fields.IntField()),
                ('delay_from_first_days', fields.IntField()),
                ('lead_days', fields.IntField(null=True)),
            ],
            options={'table': 'supplier_deliveries', 'app': 'backorder', 'indexes': [Index(fields=['supplier_id', 'sku']), Index(fields=['received_on', 'supplier_id'])], 'pk_attr': 'id', 'table_description': "One purchase order line received (a partial receipt is a row of its own): what suppliers' delay"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='PurchaseOrder',
            name='first_expected_date',
            field=fields.DateField(null=True),
        ),
    ]
