from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('backorder', '0008_allocation_policy')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='Backorder',
            name=None,
            fields=['sku', 'status'],
        ),
        ops.AddIndex(
            model_name='Backorder',
            index=Index(fields=['sku', 'status', 'priority_override', 'ordered_at', 'id']),
        ),
        ops.AddField(
            model_name='Product',
            name='waiting_count',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Product',
            name='waiting_units',
            field=fields.IntField(null=True),
        ),
    ]
