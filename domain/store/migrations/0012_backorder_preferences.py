"""Customer-owned preferences (domain.preferences): each backorder's "cancel if not by" date, substitute consent
and declined substitutes, and the account's defaults for new backorders. Existing rows get ASK (a database
default: today's behaviour) and no date."""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("backorder", "0011_supplier_deliveries")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Backorder",
            name="cancel_if_not_by",
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name="Backorder",
            name="declined_substitutes",
            field=fields.JSONField(default=list, db_default="[]",
                                  encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads),
        ),
        ops.AddField(
            model_name="Backorder",
            name="substitute_consent",
            field=fields.CharField(default="ASK", db_default="ASK", max_length=24),
        ),
        ops.AddField(
            model_name="CustomerPreferences",
            name="cancel_if_not_by",
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name="CustomerPreferences",
            name="substitute_consent",
            field=fields.CharField(default="ASK", db_default="ASK", max_length=24),
        ),
    ]
