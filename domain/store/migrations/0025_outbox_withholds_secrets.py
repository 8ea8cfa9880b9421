"""The outbox keeps no secret: rows written before kept the sign-in link's token (in its words and in what it is
about) and the unsubscribe token (in the words and the List-Unsubscribe header), and staff read those rows. Here
every `token=...` in them is withheld, once, and a waiting sign-in link keeps its link's id instead of the link
(the dispatcher makes the token again from it when it goes). The pattern and the mark are frozen with this
migration (domain.store.notify.WITHHELD is the same mark)."""

import json
import re

from tortoise import migrations
from tortoise.migrations import operations as ops

WITHHELD = "[withheld]"
_TOKEN = re.compile(r"(token=)[^&\s\"'<>;,]+")


def _withheld(text: str | None) -> str | None:
    return None if text is None else _TOKEN.sub(r"\g<1>" + WITHHELD, text)


def _about(about: object) -> object:
    if isinstance(about, str):
        about = json.loads(about)
    if isinstance(about, dict) and "link" in about:
        about = dict(about)
        token = str(about.pop("link")).partition("#token=")[2]
        if token.count(".") == 2:
            about["link_id"] = token.split(".")[0]
    return about


async def withhold_secrets(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    postgres = client.capabilities.dialect == "postgres"
    marks = ["$1", "$2", "$3", "$4::text::jsonb", "$5::text::jsonb", "$6"] if postgres else ["?"] * 6
    rows = await client.execute_query_dict(
        'SELECT id, subject, body_text, body_html, headers, about FROM "outbox_messages" '
        "WHERE body_text LIKE '%token=%' OR body_html LIKE '%token=%' OR subject LIKE '%token=%' "
        "OR CAST(headers AS TEXT) LIKE '%token=%' OR CAST(about AS TEXT) LIKE '%\"link\"%'")
    updates = []
    for row in rows:
        headers = row["headers"]
        if isinstance(headers, str):
            headers = json.loads(headers)
        about = _about(row["about"])
        updates.append([_withheld(row["subject"]), _withheld(row["body_text"]), _withheld(row["body_html"]),
                        json.dumps({k: _withheld(v) for k, v in (headers or {}).items()}),
                        None if about is None else json.dumps(about), row["id"]])
    for start in range(0, len(updates), 5000):
        await client.execute_many(
            f'UPDATE "outbox_messages" SET subject = {marks[0]}, body_text = {marks[1]}, body_html = {marks[2]}, '
            f"headers = {marks[3]}, about = {marks[4]} WHERE id = {marks[5]}", updates[start:start + 5000])


async def nothing(apps: object, schema_editor: object) -> None:
    """A withheld secret cannot be put back."""


class Migration(migrations.Migration):
    dependencies = [("backorder", "0024_subscriber_language")]

    initial = False

    operations = [ops.RunPython(withhold_secrets, nothing)]
