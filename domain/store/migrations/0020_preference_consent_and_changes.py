"""A customer's own consent to each channel (domain.customers.ChannelConsent: an agent turns email or texts on only
with it on record) and every change to their notification preferences, by whom and when. No consent is assumed
for preferences saved before: it is recorded from the customer's next own save."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("backorder", "0019_queue_serves")]

    initial = False

    operations = [
        ops.AddField(
            model_name="CustomerPreferences",
            name="email_consent_at",
            field=fields.DatetimeField(null=True),
        ),
        ops.AddField(
            model_name="CustomerPreferences",
            name="sms_consent_at",
            field=fields.DatetimeField(null=True),
        ),
        ops.AddField(
            model_name="CustomerPreferences",
            name="sms_consent_phone",
            field=fields.CharField(max_length=20, null=True),
        ),
        ops.CreateModel(
            name="PreferenceChangeRecord",
            fields=[
                ("id", fields.IntField(primary_key=True)),
                ("email", fields.CharField(db_index=True, max_length=254)),
                ("at", fields.DatetimeField()),
                ("by", fields.CharField(max_length=254)),
                ("by_agent", fields.BooleanField()),
                ("field", fields.CharField(max_length=32)),
                ("old_value", fields.CharField(max_length=64, null=True)),
                ("new_value", fields.CharField(max_length=64, null=True)),
            ],
            options={"table": "preference_changes", "app": "backorder", "pk_attr": "id",
                     "table_description": "One field of a customer's notification preferences changed, by whom "
                                          "and when: append-only."},
            bases=["Model"],
        ),
    ]
