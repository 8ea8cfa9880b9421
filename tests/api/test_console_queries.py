"""No N+1 in the agent console's own reads: its SKU queue and customer documents, exactly as the page sends them
(read from frontend/agent/documents.js), cost the same number of SQL statements for 3 waiting backorders as for 15,
substitutes with their prices and stock, preferences, purchase orders and locations included."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from tests.api import support as s
from tests.api.statements import statements

DOCUMENTS = Path(__file__).resolve().parents[2] / "frontend" / "agent" / "documents.js"


def console_document(name: str) -> str:
    """A document of agent/documents.js with the fragments it interpolates (`${NAME}`) written out."""
    source = DOCUMENTS.read_text(encoding="utf-8")
    constants = dict(re.findall(r"export const (\w+) = `(.*?)`;", source, re.S))
    text = constants[name]
    while "${" in text:
        text = re.sub(r"\$\{(\w+)\}", lambda m: constants[m.group(1)], text)
    return text


async def _cost(api, document: str, variables: dict) -> tuple[dict, list[str]]:
    """The answer and the statements the request sent (the background loops' are not counted)."""
    with statements() as sent:
        body = await api.gql(document, variables)
    return body, sent


async def _waiting(api, count: int, start: int) -> None:
    for i in range(start, start + count):
        await s.order(api.desk, f"caller{i}@example.com", ("LAMP", 2), ("CUP", 1))


async def _shop(api) -> None:
    await s.product(api.desk, "ALT", stock=100, price="12.00")
    await s.product(api.desk, "ALT2", stock=1, price="9.00")
    await s.product(api.desk, "CUP", stock=100)
    await s.product(api.desk, "LAMP", stock=1, substitutes=["ALT", "ALT2"])
    await s.purchase_order(api.desk, date(2026, 3, 20), ("LAMP", 4))
    await api.gql("{ viewer { name } }")  # the token's first use of the day writes its last_used_at, once


async def test_the_consoles_queue_costs_the_same_for_3_waiting_as_for_15(api):
    # given: LAMP with substitutes and a PO on the way, 3 customers waiting
    await _shop(api)
    await _waiting(api, 3, 0)
    document = console_document("QUEUE_QUERY")

    # when: the console opens LAMP's queue, then again with 12 more waiting
    small, few = await _cost(api, document, {"sku": "LAMP"})
    await _waiting(api, 12, 3)
    large, many = await _cost(api, document, {"sku": "LAMP"})

    # then: every row is there with its substitutes priced, and the cost did not grow with the rows
    assert len(small["data"]["product"]["queue"]) == 3 and len(large["data"]["product"]["queue"]) == 15
    assert all(len(b["substitutes"]) == 2 and b["substitutes"][0]["priceDifference"]
               for b in large["data"]["product"]["queue"])
    assert large["data"]["locations"] and large["data"]["purchaseOrders"]["nodes"]
    assert len(many) == len(few), (len(few), len(many), many)


async def test_the_consoles_customer_view_costs_the_same_for_1_order_as_for_8(api):
    await _shop(api)
    await s.order(api.desk, "ann@example.com", ("LAMP", 2), ("CUP", 1))
    document = console_document("CUSTOMER_QUERY")

    small, few = await _cost(api, document, {"email": "ann@example.com"})
    for _ in range(7):
        await s.order(api.desk, "ann@example.com", ("LAMP", 1), ("CUP", 1))
    large, many = await _cost(api, document, {"email": "ann@example.com"})

    assert small["data"]["orders"]["totalCount"] == 1 and large["data"]["orders"]["totalCount"] == 8
    lamp_lines = [line for o in large["data"]["orders"]["nodes"] for line in o["lines"] if line["sku"] == "LAMP"]
    assert all(line["backorder"]["substitutes"] for line in lamp_lines)
    assert len(many) == len(few), (len(few), len(many), many)
