"""GraphiQL at /graphql in a real browser, in production mode: it loads with no request to another host,
runs a query with the token from its Headers tab, and receives a subscription's events over the websocket
(graphql-transport-ws)."""

from __future__ import annotations

import json
from decimal import Decimal

from playwright.async_api import expect

from domain.model import Channel
from domain.services import CustomerDetails, LineRequest, ProductInput

# GraphiQL's CodeMirror editors, in page order: query, variables, headers, result
QUERY, VARIABLES, HEADERS, RESULT = range(4)


async def set_editor(page, index: int, text: str) -> None:
    await page.evaluate("([i, text]) => document.querySelectorAll('.CodeMirror')[i].CodeMirror.setValue(text)",
                        [index, text])
    await page.wait_for_timeout(400)  # GraphiQL reads an edit (the operation's name, its kind) after a debounce


async def result(page) -> str:
    return await page.evaluate(f"() => document.querySelectorAll('.CodeMirror')[{RESULT}].CodeMirror.getValue()")


async def result_contains(page, text: str) -> None:
    try:
        await page.wait_for_function(
            "([i, text]) => document.querySelectorAll('.CodeMirror')[i].CodeMirror.getValue().includes(text)",
            arg=[RESULT, text], timeout=15000)
    except Exception:
        print("GraphiQL's result pane:", await result(page))
        raise


def record_requests(page) -> list[str]:
    """Every address the page asks for: documents, scripts, styles, fonts, fetches and websockets."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    page.on("websocket", lambda ws: seen.append(ws.url))
    return seen


def only_this_host(seen: list[str], base: str) -> None:
    host = base.split("://", 1)[1]
    foreign = [url for url in seen if not url.startswith(("data:", "blob:"))
               and url.split("://", 1)[1].split("/", 1)[0] != host]
    assert seen and not foreign, foreign


async def test_graphiql_queries_and_subscribes_with_no_request_to_another_host(api, page):
    await api.desk.upsert_product(ProductInput(sku="LAMP", name="Anglepoise lamp", price=Decimal("29.50"),
                                               currency="GBP"))
    seen = record_requests(page)
    await page.goto(f"{api.base}/graphql")
    await expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
    await set_editor(page, HEADERS, json.dumps({"Authorization": f"Bearer {api.token}"}))
    await set_editor(page, QUERY, '{ viewer { role } product(sku: "LAMP") { name } }')
    await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    await result_contains(page, "Anglepoise lamp")
    assert json.loads(await result(page))["data"]["viewer"]["role"] == "agent"

    # subscriptions run over the same address's websocket, authorised by the Headers tab
    await set_editor(page, QUERY, 'subscription { backorderUpdates(filter: {sku: "LAMP"}) { kind backorder { sku } } }')
    await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    await page.wait_for_timeout(500)  # the subscribe message is on its way before the event is committed
    await api.desk.place_order(CustomerDetails("ann@example.com", "Ann"), Channel.PHONE, [LineRequest("LAMP", 2)])
    await result_contains(page, '"kind": "CREATED"')

    assert any(url.startswith(api.base.replace("http", "ws")) for url in seen), seen
    assert any("/vendor/graphiql/" in url for url in seen), seen
    only_this_host(seen, api.base)
    assert page.console_errors == []


async def test_signed_in_at_the_console_graphiql_needs_no_headers(api, page):
    await page.goto(f"{api.base}/agent")
    await page.get_by_label("API token", exact=True).fill(api.tokens["agent"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("who")).to_contain_text("(agent)")
    await page.goto(f"{api.base}/graphql")
    await expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
    await set_editor(page, QUERY, "{ viewer { name role } }")
    await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    await result_contains(page, '"role": "agent"')
    assert page.console_errors == []
