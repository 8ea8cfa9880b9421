"""The agent console in a real browser, getting in and who may do what: sign-in with a token that becomes an
HttpOnly session the page never keeps, a revoked token ending its session, admins listing, creating and
revoking tokens (and agents not), and the whole console from the keyboard without one request to another
host."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.agent_support import confirm, shop, sign_in
from tests.browser.portal_support import assert_hidden_is_hidden
from tests.browser.shop import DOCS, UPDATE_SCREENSHOTS
from tests.browser.test_graphiql import only_this_host, record_requests


async def test_sign_in_exchanges_the_token_for_an_httponly_session_the_page_never_keeps(api, page):
    await page.goto(f"{api.base}/agent")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await assert_hidden_is_hidden(page)  # a fresh visit shows no console tabs (the nav is display:flex)
    await page.get_by_label("API token", exact=True).fill("bd_not-a-real-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#sign-in-error")).to_have_text(re.compile("not valid"))
    await sign_in(api, page)
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["bd_staff"]["httpOnly"] and cookies["bd_staff"]["sameSite"] == "Strict"
    assert api.tokens["agent"] not in cookies["bd_staff"]["value"]
    kept = await page.evaluate("""() => JSON.stringify([document.documentElement.outerHTML,
        Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])""")
    assert api.tokens["agent"] not in kept and "bd_staff" not in kept
    # the session works for the API (and for GraphiQL's page, which shares it) until sign-out
    session = cookies["bd_staff"]["value"]
    asked = await api.client.post(f"{api.base}/graphql", json={"query": "{ viewer { role } }"},
                                  headers={"Cookie": f"bd_staff={session}"})
    assert asked.json()["data"]["viewer"]["role"] == "agent"
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await assert_hidden_is_hidden(page)
    asked = await api.client.post(f"{api.base}/graphql", json={"query": "{ viewer { role } }"},
                                  headers={"Cookie": f"bd_staff={session}"})
    assert asked.json()["data"] is None
    assert page.console_errors == []


async def test_a_revoked_token_ends_its_console_session(api, page):
    await sign_in(api, page)
    tokens = await api.gql("{ apiTokens { id name } }", token="admin")
    agent = next(t for t in tokens["data"]["apiTokens"] if t["name"] == "test agent")
    await api.gql("mutation($id: ID!) { revokeApiToken(input: {id: $id}) { revokedId } }", {"id": agent["id"]},
                  token="admin")
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_admins_list_create_and_revoke_tokens_and_agents_cannot(api, page, browser, tmp_path):
    await sign_in(api, page, "admin")
    await expect(page.get_by_role("button", name="Tokens")).to_be_visible()
    await page.get_by_role("button", name="Tokens").click()
    await expect(page.get_by_test_id("token-row")).to_have_count(2)
    await page.locator("#token-form").get_by_label("Name").fill("night shift")
    await page.get_by_role("button", name="Create token").click()
    await confirm(page, "Create")
    secret = await page.get_by_test_id("secret").input_value()
    assert secret.startswith("bd_")
    await expect(page.get_by_test_id("token-row")).to_have_count(3)
    shots = DOCS if UPDATE_SCREENSHOTS else tmp_path
    await page.screenshot(path=str(shots / "agent-tokens.png"), full_page=True)
    await page.get_by_role("button", name="Revoke night shift").click()
    await confirm(page, "Revoke")
    await expect(page.get_by_test_id("token-row")).to_have_count(2)
    refused = await api.gql("{ viewer { role } }", token=secret, expect_errors=True)
    assert refused["data"] is None
    # an agent has no Tokens view, and /admin sends an agent to Find
    agent_page = await (await browser.new_context()).new_page()
    await sign_in(api, agent_page)
    await expect(agent_page.get_by_role("button", name="Tokens")).to_be_hidden()
    await agent_page.goto(f"{api.base}/admin#tokens")
    await expect(agent_page.get_by_role("heading", name="Find an order or backorder")).to_be_visible()


async def test_the_console_works_from_the_keyboard_and_asks_only_this_host(api, page, tmp_path):
    await shop(api)
    seen = record_requests(page)
    await page.goto(f"{api.base}/agent")
    await expect(page.get_by_label("API token", exact=True)).to_be_focused()  # the sign-in form takes focus
    await page.keyboard.type(api.tokens["agent"])
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("who")).to_contain_text("(agent)")
    await page.keyboard.press("/")
    await expect(page.get_by_label("Order number, email, phone or name")).to_be_focused()
    await page.keyboard.type("ann@example.com")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("find-row")).to_have_count(1)
    shots = DOCS if UPDATE_SCREENSHOTS else tmp_path
    await page.screenshot(path=str(shots / "agent-find.png"), full_page=True)
    await page.keyboard.press("Alt+2")
    await expect(page.get_by_role("heading", name="SKU queue")).to_be_focused()
    await page.keyboard.press("Tab")
    await page.keyboard.type("LAMP")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("queue-row")).to_have_count(2)
    # every action is a button reached by Tab; its dialog takes focus and Escape closes it
    cancel = page.get_by_test_id("queue-row").first.get_by_role("button", name="Cancel")
    await cancel.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("dialog").get_by_label(re.compile("Units to cancel"))).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_be_hidden()
    await page.keyboard.press("Alt+5")
    await expect(page.get_by_test_id("chart-backorders")).to_be_visible()
    only_this_host(seen, api.base)
    assert any(url.startswith(api.base.replace("http", "ws")) for url in seen), "the queue did not go live"
    assert page.console_errors == []
