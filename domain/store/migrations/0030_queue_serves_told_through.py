"""A receipt recorded as a range is told a slice of its customers at a time (issue 15): each slice of the fan-out is a
transaction of its own, which writes those customers' parts and deliveries and moves `told_through` (the last customer
told, by email in code-point order; NULL: none yet) with them. A crash between slices leaves the customers after it
untold, whole, for the next round, which skips those told. One transaction told a 100k range (2.2-3.7 s), and on
SQLite every other request waited for it."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("backorder", "0029_place_origin")]

    initial = False

    operations = [
        ops.AddField(model_name="QueueServe", name="told_through", field=fields.TextField(null=True)),
    ]
