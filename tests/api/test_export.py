"""The agents' CSV download (`GET /export/{kind}.csv`) over real HTTP: an agent's token or console session gets
the rows streamed, with a header; a customer's session or no sign-in gets nothing; bad input is a 400."""

from __future__ import annotations

import csv
import io

import pytest

from domain.store.export import BACKORDER_COLUMNS, KPI_COLUMNS, ORDER_COLUMNS
from tests.api.customer_sessions import Customer
from tests.api.test_agent_api import console
from tests.api.test_planning_api import a_week_of_backorders

pytestmark = pytest.mark.db


async def download(api, path: str, token: str | None = "agent"):
    headers = {"Authorization": f"Bearer {api.tokens[token]}"} if token else {}
    return await api.client.get(f"{api.base}{path}", headers=headers)


def table(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_an_agent_downloads_the_backorders_as_csv(api):
    await a_week_of_backorders(api)

    response = await download(api, "/export/backorders.csv")
    rows = table(response)

    assert response.text.splitlines()[0].split(",") == list(BACKORDER_COLUMNS)
    assert "attachment" in response.headers["content-disposition"]
    assert sorted((r["customer_email"], r["status"], r["original_quantity"], r["promised_date"]) for r in rows) == [
        ("bob@example.com", "ALLOCATED", "2", "2026-03-12"), ("cy@example.com", "CANCELLED", "1", "2026-03-13")]
    assert all(r["order_number"].startswith("BD-") for r in rows)


async def test_order_lines_and_daily_kpis_download_too(api):
    await a_week_of_backorders(api)

    lines = table(await download(api, "/export/orders.csv"))
    assert list(lines[0]) == list(ORDER_COLUMNS)
    assert sorted((r["customer_email"], r["sku"], r["quantity"]) for r in lines) == [
        ("ann@example.com", "LAMP", "2"), ("ann@example.com", "PEN", "1"), ("bob@example.com", "LAMP", "3"),
        ("cy@example.com", "LAMP", "1")]
    assert table(await download(api, "/export/orders.csv?since=2026-03-03")) == [
        r for r in lines if r["customer_email"] == "cy@example.com"]

    kpis = table(await download(api, "/export/kpis.csv?since=2026-03-02"))  # the app's clock says 6 March
    assert list(kpis[0]) == list(KPI_COLUMNS)
    assert [r["day"] for r in kpis] == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"]
    assert (kpis[0]["order_lines"], kpis[0]["backordered_lines"], kpis[3]["backorders_served"]) == ("3", "1", "1")


async def test_the_console_session_downloads_from_our_own_pages(api):
    await a_week_of_backorders(api)
    browser = await console(api, api.tokens["agent"])
    try:
        assert len(table(await browser.http.get("/export/backorders.csv"))) == 2
        foreign = await browser.http.get("/export/backorders.csv", headers={"Sec-Fetch-Site": "cross-site"})
        assert foreign.status_code == 401
    finally:
        await browser.close()


async def test_customers_and_strangers_get_nothing(api):
    await a_week_of_backorders(api)
    assert (await download(api, "/export/backorders.csv", token=None)).status_code == 401
    ann = Customer(api)
    try:
        await ann.sign_in_with_link("ann@example.com")
        refused = await ann.http.get("/export/orders.csv")
        assert refused.status_code == 401 and "ann@example.com" not in refused.text
    finally:
        await ann.close()


@pytest.mark.parametrize("path", ["/export/customers.csv", "/export/orders.csv?since=yesterday",
                                  "/export/kpis.csv?since=2020-01-01"])
async def test_bad_input_is_a_400_saying_what_is_wrong(api, path):
    response = await download(api, path)
    assert response.status_code == 400 and response.text
