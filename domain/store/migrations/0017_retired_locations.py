"""A location the shop retired while history still refers to it is kept, marked retired (domain.locations): it is
then unknown to every input and not listed, and setting it up again brings it back."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("backorder", "0016_goodwill")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Location",
            name="retired_at",
            field=fields.DatetimeField(null=True),
        ),
    ]
