"""History causes become data (domain.causes.Cause as JSON in `cause_data`).

Rows written before were sentences; those whose sentence has a known shape are read into a structured cause
here, once, so customers keep reading them in their own words (the patterns are the shapes the code of the
time wrote, and are frozen with this migration). Anything else stays LEGACY: staff read the sentence, and
customers a neutral phrase for the entry's kind."""

import json
import re

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

_LEGACY: list[tuple[str, dict[str, object]]] = [
    (r"order (?P<reference>\S+) placed: (?P<quantity>\d+) of (?P<of_quantity>\d+) backordered",
     {"kind": "ORDER_PLACED"}),
    (r"(?P<quantity>\d+) cancelled by customer(: (?P<reason>.*))?",
     {"kind": "CANCELLED", "actor": "customer", "requested_by": "customer"}),
    (r"(?P<quantity>\d+) cancelled by (?P<agent>[^:]+)(: (?P<reason>.*))?", {"kind": "CANCELLED", "actor": "agent"}),
    (r"(?P<quantity>\d+) replaced by substitute (?P<reference>\S+)", {"kind": "SUBSTITUTED", "actor": "customer"}),
    (r"shipment (?P<reference>\S+)", {"kind": "SHIPPED", "actor": "agent"}),
    (r"(?P<quantity>\d+) received at (?P<reference>\S+)", {"kind": "STOCK_RECEIVED", "actor": "agent"}),
    (r"purchase order (?P<reference>.+) received", {"kind": "PO_RECEIVED", "actor": "agent"}),
    (r"purchase order (?P<reference>\S+) expected (?P<new>\d{4}-\d{2}-\d{2})", {"kind": "PO_CREATED", "actor": "agent"}),
    (r"purchase order (?P<reference>\S+): (.+; )?cancelled", {"kind": "PO_CANCELLED", "actor": "agent"}),
    (r"purchase order (?P<reference>\S+): (.+; )?date (?P<old>\d{4}-\d{2}-\d{2}) -> (?P<new>\d{4}-\d{2}-\d{2})(; .+)?",
     {"kind": "PO_CHANGED", "actor": "agent"}),
    (r"purchase order (?P<reference>\S+): .+", {"kind": "PO_CHANGED", "actor": "agent"}),
    (r"supplier (?P<reference>.+): lead time (?P<quantity>\d+) days", {"kind": "SUPPLIER_LEAD_TIME", "actor": "agent"}),
    (r"stock adjusted: (?P<reason>.*)", {"kind": "STOCK_ADJUSTED", "actor": "agent"}),
    (r"product (?P<reference>\S+) changed", {"kind": "PRODUCT_CHANGED", "actor": "agent"}),
    (r"a backorder ahead was cancelled \((?P<reference>.*)\)", {"kind": "QUEUE_CANCELLATION"}),
    (r"a backorder ahead took substitute (?P<reference>.+)", {"kind": "QUEUE_SUBSTITUTE"}),
    (r"substitute for (?P<reference>.+)", {"kind": "SUBSTITUTE_TAKEN"}),
    (r"queue reprioritised by (?P<agent>.+)", {"kind": "QUEUE_REPRIORITIZED", "actor": "agent"}),
    (r"order (?P<reference>\S+) placed", {"kind": "QUEUE_ORDER_PLACED"}),
    (r"order (?P<reference>\S+) shipped", {"kind": "ORDER_SHIPPED", "actor": "agent"}),
    (r"the expected delivery date passed", {"kind": "ETA_OVERDUE"}),
    (r"(?P<agent>[^:]+): (?P<reason>.+)", {"kind": "REPRIORITIZED", "actor": "agent"}),  # PRIORITY rows only
]
_PATTERNS = [(re.compile(pattern, re.S), base) for pattern, base in _LEGACY]


def legacy_cause(kind: str, text: str) -> dict[str, object]:
    """The structured cause of a sentence written before causes were data (LEGACY when its shape is unknown)."""
    for pattern, base in _PATTERNS:
        if base["kind"] == "REPRIORITIZED" and kind != "PRIORITY":
            continue
        found = pattern.fullmatch(text.strip())
        if found:
            data = dict(base)
            for name, value in found.groupdict().items():
                if value is not None and name in ("quantity", "of_quantity"):
                    data[name] = int(value)
                elif value:
                    data[name] = value
            return data
    return {"kind": "LEGACY", "text": text}


async def structure_old_causes(apps: object, schema_editor: object) -> None:
    client = schema_editor.client  # type: ignore[attr-defined]
    marks = ("$1", "$2") if client.capabilities.dialect == "postgres" else ("?", "?")
    rows = await client.execute_query_dict('SELECT id, kind, cause FROM "backorder_history" WHERE cause_data IS NULL')
    updates = [[json.dumps(legacy_cause(row["kind"], row["cause"] or ""), separators=(",", ":")), row["id"]]
               for row in rows]
    for start in range(0, len(updates), 5000):  # one statement, many rows: a shop's history can be long
        await client.execute_many(f'UPDATE "backorder_history" SET cause_data = {marks[0]} WHERE id = {marks[1]}',
                                  updates[start:start + 5000])


class Migration(migrations.Migration):
    dependencies = [("backorder", "0003_notification_outbox")]

    initial = False

    operations = [
        ops.AddField(
            model_name="BackorderHistory",
            name="cause_data",
            field=fields.TextField(null=True, unique=False),
        ),
        ops.RunPython(structure_old_causes, ops.RunPython.noop),
    ]
