"""The agent console as a newcomer meets it with the demo data, in a real browser: Find lists what is waiting at
once, no screen ever shows a value the page failed to fill in ("null", "undefined", "NaN", "[object Object]"),
and stock that arrives without a purchase order, or is counted wrong, is received or adjusted from the SKU's
queue at one of the shop's locations, with refusals beside their field."""

from __future__ import annotations

import re
from decimal import Decimal

from playwright.async_api import expect

from domain.model import Channel
from domain.services import CustomerDetails, LineRequest, ProductInput
from tests.browser.agent_support import confirm, refuses_none_beside_the_field, shop, sign_in

# what the page shows when it put a missing value, or an object, into the text
UNFILLED = re.compile(r"\b(null|undefined|NaN)\b|\[object \w+\]")


async def _no_unfilled_values(page, where: str) -> None:
    text = await page.locator("main").inner_text()
    found = UNFILLED.search(text)
    assert found is None, f"{where}: {found.group(0)!r} in {text[max(0, found.start() - 80):found.end() + 40]!r}"


async def test_every_screen_of_the_demo_shows_only_filled_in_values(api, page):
    from api.demo import load_demo

    await load_demo(api.desk)
    await sign_in(api, page)
    # Find lists the open backorders without a search
    rows = page.get_by_test_id("find-row")
    await expect(rows.first).to_be_visible()
    await expect(page.locator("#find-summary")).to_contain_text("backorders found")
    await _no_unfilled_values(page, "find")
    skus = sorted(set(await page.locator("[data-testid=find-row] td:nth-child(3)").all_inner_texts()))
    customers = sorted(set(await page.locator("[data-testid=find-row] td:nth-child(2)").all_inner_texts()))
    assert len(skus) >= 3 and len(customers) >= 3

    for sku in [*skus, "85123A"]:  # 85123A: the tour's product, with nobody waiting and no advice to order
        await page.goto(f"{api.base}/agent#queue/{sku}")
        await expect(page.get_by_test_id("queue-product")).to_contain_text(sku)
        await expect(page.get_by_test_id("queue-advice")).not_to_be_empty()
        await _no_unfilled_values(page, f"queue {sku}")
    for email in customers:
        await page.goto(f"{api.base}/agent#customer/{email}")
        await expect(page.get_by_test_id("customer-card")).to_contain_text(email)
        await _no_unfilled_values(page, f"customer {email}")

    # an order filled from stock: nothing backordered
    await page.goto(f"{api.base}/agent#new-order")
    form = page.locator("#order-form")
    await form.get_by_label("Customer email").fill("new.caller@example.com")
    await form.get_by_label("SKU (line 1)").fill("22699")
    await form.get_by_role("button", name="Review and place order").click()
    await confirm(page, "Place order")
    await expect(page.get_by_test_id("order-result")).to_contain_text("placed")
    await _no_unfilled_values(page, "new order from stock")

    for view, ready in [("numbers", page.get_by_test_id("kpis")), ("settings", page.get_by_test_id("location-row"))]:
        await page.goto(f"{api.base}/agent#{view}")
        await expect(ready.first).not_to_be_empty()
        await _no_unfilled_values(page, view)
    assert page.console_errors == []


async def test_stock_received_without_a_po_goes_to_the_queue_at_the_chosen_location(api, page):
    await shop(api)  # LAMP: 2 on hand at MAIN, Olga waiting for 1, Ann for 4
    await api.gql('mutation { upsertLocation(input: {code: "LEEDS", name: "Leeds store"}) { userErrors { message } } }')
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#queue/LAMP")
    await expect(page.locator("[data-testid=stock-row][data-location=MAIN]")).to_contain_text("Main")
    await page.get_by_role("button", name="Receive stock of LAMP").click()
    dialog = page.get_by_role("dialog")
    await refuses_none_beside_the_field(page, dialog, "Units arrived", "Receive", "[data-error-for=quantity]")
    await dialog.get_by_label("Units arrived").fill("3")
    await dialog.get_by_label("Location").select_option("LEEDS")
    await dialog.get_by_label("Note (optional)").fill("a customer's return")
    await confirm(page, "Receive")
    await expect(dialog).to_be_hidden()

    await expect(page.locator("[data-testid=stock-row][data-location=LEEDS]")).to_contain_text("Leeds store")
    await expect(page.get_by_test_id("on-hand")).to_have_text("5")
    await expect(page.get_by_test_id("queue-row")).to_have_count(1)  # Olga's unit came; Ann waits for 4 - 2
    product = (await api.gql('{ product(sku: "LAMP") { stock { location onHand } } }'))["data"]["product"]
    assert {"location": "LEEDS", "onHand": 3} in product["stock"]
    assert page.console_errors == []


async def test_a_count_is_adjusted_with_a_reason_and_refused_without_one(api, page):
    await shop(api)
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#queue/LAMP")
    await page.get_by_role("button", name="Count or adjust stock of LAMP").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Change in units on hand").fill("-1")
    await confirm(page, "Adjust")
    await expect(dialog.get_by_text("Reason: this is needed.")).to_be_visible()
    await dialog.get_by_label("Reason").fill("one broken in the stock room")
    await confirm(page, "Adjust")  # both units on the shelf are Olga's and Ann's: the desk refuses, and says so
    await expect(dialog.locator("[data-error-for=delta]")).to_contain_text("2 units are allocated to orders")
    await expect(dialog.get_by_label("Change in units on hand")).to_have_attribute("aria-invalid", "true")
    assert (await api.gql('{ product(sku: "LAMP") { onHand } }'))["data"]["product"]["onHand"] == 2
    await dialog.get_by_label("Change in units on hand").fill("1")
    await dialog.get_by_label("Reason").fill("found one behind the shelf")
    await confirm(page, "Adjust")
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("on-hand")).to_have_text("3")
    await expect(page.get_by_test_id("queue-row")).to_have_count(1)  # the found unit completes Olga's
    assert page.console_errors == []


async def test_a_new_orders_line_says_what_the_sku_is_and_what_will_be_backordered(api, page):
    await shop(api)  # LAMP: none available (both on the shelf are set aside); LAMP-ALT: 10
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#new-order")
    form = page.locator("#order-form")
    sku, about = form.get_by_label("SKU (line 1)"), form.get_by_test_id("line-product")
    await sku.fill("lamp")  # part of a SKU or name: the choices offered under the field
    await expect(page.locator("#product-options option")).to_have_count(2)
    await expect(page.locator("#product-options option[value=LAMP-ALT]")).to_have_text("Brass desk lamp · 10 available")
    await expect(about).to_have_text("No product has the SKU lamp: choose one from the list.")  # not exact
    await sku.fill("LAMP")
    await form.get_by_label("Quantity").fill("5")
    await expect(about).to_have_text("Anglepoise lamp · £29.50 each · 0 available now · 5 to backorder")
    await expect(sku).to_have_attribute("aria-describedby", "line-product-0 line-error-0")
    await sku.fill("LAMP-ALT")
    await expect(about).to_have_text("Brass desk lamp · £34.00 each · 10 available now")
    await sku.fill("")
    await expect(about).to_be_empty()
    assert page.console_errors == []


async def test_the_numbers_are_live_while_they_are_on_screen(api, page):
    await shop(api)  # two open backorders
    await sign_in(api, page)
    await page.get_by_role("button", name="Numbers").click()
    await expect(page.get_by_test_id("numbers-live")).to_be_visible()
    await expect(page.get_by_test_id("kpi-open").locator(".value")).to_have_text("2")
    # an order from another channel backorders one more: the figure moves without a reload
    await api.desk.place_order(CustomerDetails("zoe@example.com", "Zoe"), Channel.MARKETPLACE, [LineRequest("LAMP", 1)])
    await expect(page.get_by_test_id("kpi-open").locator(".value")).to_have_text("3")
    await expect(page.get_by_test_id("numbers-note")).not_to_be_empty()
    # leaving the numbers ends their subscription; the queue's goes live in its place
    await page.goto(f"{api.base}/agent#queue/LAMP")
    await expect(page.get_by_test_id("queue-live")).to_be_visible()
    await expect(page.get_by_test_id("numbers-live")).to_be_hidden()
    assert page.console_errors == []


async def test_a_dropped_live_connection_comes_back_and_catches_up(api, page):
    await shop(api)
    connections = []

    async def through(ws):  # every websocket of the page goes through here, so the test can drop one
        connections.append(ws)
        ws.connect_to_server()

    await page.route_web_socket(re.compile(r"/graphql$"), through)
    await sign_in(api, page)
    await page.get_by_role("button", name="Numbers").click()
    await expect(page.get_by_test_id("numbers-live")).to_be_visible()
    await connections[-1].close()  # the network drops it
    await expect(page.locator("#connection")).to_have_text("Live updates paused: reconnecting…")
    await expect(page.get_by_test_id("numbers-live")).to_be_hidden()
    # a change while it is down is not streamed to the page: the reconnection re-reads the figures
    await api.desk.place_order(CustomerDetails("zoe@example.com", "Zoe"), Channel.PHONE, [LineRequest("LAMP", 1)])
    await expect(page.get_by_test_id("numbers-live")).to_be_visible()
    await expect(page.locator("#connection")).to_be_hidden()
    await expect(page.get_by_test_id("kpi-open").locator(".value")).to_have_text("3")
    assert len(connections) == 2
    assert [e for e in page.console_errors if "WebSocket" not in e] == []


async def test_an_agent_orders_any_quantity_from_the_skus_supplier(api, page):
    await shop(api)
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#queue/LAMP")
    await expect(page.get_by_test_id("po-row")).to_have_count(1)
    await page.get_by_role("button", name="New purchase order to Lumen Ltd").click()
    dialog = page.get_by_role("dialog")
    await refuses_none_beside_the_field(page, dialog, "Units to order", "Create purchase order",
                                        "[data-error-for~=lines]")
    await dialog.get_by_label("Units to order").fill("40")
    await dialog.get_by_label("Expected date").fill("2026-03-05")
    await confirm(page, "Create purchase order")
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("po-row")).to_have_count(2)
    # the first in the queue now expects the earlier PO's units
    await expect(page.get_by_test_id("queue-row").first.get_by_test_id("eta")).to_contain_text("5 Mar 2026")
    pos = (await api.gql('{ purchaseOrders(filter: {sku: "LAMP"}) { nodes { number lines { quantity } } } }'))
    assert sorted(n["lines"][0]["quantity"] for n in pos["data"]["purchaseOrders"]["nodes"]) == [5, 40]
    assert all(n["number"] for n in pos["data"]["purchaseOrders"]["nodes"])
    assert page.console_errors == []


async def test_sku_fields_offer_products_by_name(api, page):
    await shop(api)
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#queue")
    sku = page.locator("#queue").get_by_label("SKU", exact=True)
    await sku.fill("anglepoise")  # the name a caller says, not the SKU
    await expect(page.locator("#product-options option")).to_have_count(1)
    await expect(page.locator("#product-options option[value=LAMP]")).to_have_text("Anglepoise lamp · 0 available")
    await sku.fill("LAMP")  # chosen from the list
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("queue-product")).to_contain_text("LAMP · Anglepoise lamp")
    assert page.console_errors == []


async def test_an_agent_takes_a_substitute_on_the_customers_word(api, page):
    await shop(api)  # Ann waits for 4 LAMP (£29.50); LAMP-ALT (£34.00) has 10 in stock
    await api.desk.upsert_product(ProductInput(sku="LAMP-EU", name="Lampe de bureau", price=Decimal("31.00"),
                                               currency="EUR"))
    await api.desk.receive_stock("LAMP-EU", 10)
    await api.desk.upsert_product(ProductInput(sku="LAMP", name="Anglepoise lamp", price=Decimal("29.50"),
                                               currency="GBP", substitutes=("LAMP-ALT", "LAMP-EU")))
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#queue/LAMP")
    ann = page.locator("[data-testid=queue-row][data-customer='ann@example.com']")
    await ann.get_by_role("button", name="Take substitute").click()
    dialog = page.get_by_role("dialog")
    choice = dialog.get_by_label("Substitute")
    await expect(choice.locator("option")).to_have_text([
        "LAMP-ALT · Brass desk lamp · £4.50 more each",
        "LAMP-EU · Lampe de bureau · no exchange rate to compare its price: set one under Locations & rates"])
    await choice.select_option("LAMP-EU")  # priced in euros and the shop has no rate: refused, beside the field
    await confirm(page, "Take it")
    await expect(dialog.locator("[data-error-for=substituteSku]")).to_have_attribute("data-code", "NO_EXCHANGE_RATE")
    await choice.select_option("LAMP-ALT")
    await confirm(page, "Take it")
    await expect(dialog).to_be_hidden()
    await expect(ann).to_have_count(0)  # no longer waiting
    lines = '{ orders(filter: {customerEmail: "ann@example.com"}) { nodes { lines { sku quantity } } } }'
    orders = await api.gql(lines)
    assert {"sku": "LAMP-ALT", "quantity": 4} in orders["data"]["orders"]["nodes"][0]["lines"]
    assert page.console_errors == []


async def test_an_agent_sets_how_an_order_ships_on_the_customers_word(api, page):
    ids = await shop(api)
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#customer/ann@example.com")
    order = page.locator(f"[data-testid=customer-order][data-number='{ids['ann']}']")
    await order.get_by_role("button", name="Ship complete instead").click()
    await expect(page.get_by_role("dialog")).to_contain_text("Nothing ships until every unit")
    await confirm(page, "Ship complete")
    await expect(order).to_contain_text("ship complete")
    await expect(order.get_by_test_id("shipping-preference")).to_have_text("Ship what is ready instead")
    shipped = await api.gql('{ orders(filter: {customerEmail: "ann@example.com"}) { nodes { shipComplete } } }')
    assert shipped["data"]["orders"]["nodes"] == [{"shipComplete": True}]
    assert page.console_errors == []


async def test_a_search_that_finds_nothing_shows_nothing_else(api, page):
    await shop(api)
    await sign_in(api, page)
    await expect(page.get_by_test_id("find-row")).to_have_count(2)  # the open backorders, listed on arrival
    await page.get_by_label("Order number, email, phone or name").fill("zzz")
    await page.keyboard.press("Enter")
    await expect(page.locator("#find-error")).to_have_text("No order number or customer matches zzz.")
    await expect(page.get_by_test_id("find-row")).to_have_count(0)  # not the earlier list, as if it were zzz's
    await expect(page.locator("#find-summary")).to_be_empty()
    assert page.console_errors == []


async def test_a_new_callers_first_order_is_one_step_from_the_customer_view(api, page):
    await shop(api)
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#customer/new.caller@example.com")
    await expect(page.locator("#customer-error")).to_contain_text("No orders or messages for new.caller@example.com.")
    await page.get_by_role("button", name="Place an order for them").click()
    await expect(page.locator("#order-form").get_by_label("Customer email")).to_have_value("new.caller@example.com")
    await expect(page.locator("#order-form").get_by_label("Name")).to_be_focused()
    assert page.console_errors == []


async def test_a_lines_shipped_units_include_its_backorders(api, page):
    ids = await shop(api)  # Ann: 4 LAMP, all backordered
    await api.desk.receive_stock("LAMP", 10)  # Olga's last unit, then Ann's four
    await sign_in(api, page)
    await page.goto(f"{api.base}/agent#customer/ann@example.com")
    order = page.locator(f"[data-testid=customer-order][data-number='{ids['ann']}']")
    await order.get_by_role("button", name=re.compile("^Ship allocated")).click()
    await confirm(page, "Record shipment")
    await expect(order.get_by_test_id("status")).to_have_text("shipped")
    await expect(order.get_by_test_id("line-shipped")).to_have_text("4")  # not 0: all four came through the backorder
    assert page.console_errors == []
