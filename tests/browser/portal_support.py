"""What the customer-portal browser tests share (tests/browser/test_portal_*.py): the shop they start from, a
sign-in link for a customer, global ids, the check that every `hidden` element is really out of sight (the
agent console's tests use it too), and the finder of English words left on a translated page."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import expect

from domain.services import CustomerDetails
from tests.browser.shop import lamp_shop

LINK = """mutation($email: String!) { customerPortalLink(input: {email: $email}) { url expiresAt
  userErrors { message code } } }"""


async def shop(api) -> dict[str, str]:
    """Given the lamp shop (tests/browser/shop.py): Ann's order is "mine", Olga's the other customer's."""
    po, other, mine = await lamp_shop(api, CustomerDetails("olga@example.com", "Olga"),
                                      CustomerDetails("ann@example.com", "Ann"))
    return {"po": po, "other_order": other.id, "mine": mine.number, "other_number": other.number}


async def link_for(api, email: str) -> str:
    data = await api.gql(LINK, {"email": email})
    assert data["data"]["customerPortalLink"]["userErrors"] == []
    return data["data"]["customerPortalLink"]["url"]


def _gid(kind: str, key: str) -> str:
    from api.ids import encode_id

    return encode_id(kind, key)


# Every element carrying `hidden` must really be out of sight: a stylesheet's `display` on a component (the
# header's `display:flex` once showed a signed-out visitor the last customer's email and account links)
# cannot bring one back. Checked on every screen below, for every such element, not a list of known ones.
HIDDEN_BUT_SHOWN = """() => [...document.querySelectorAll('[hidden]')]
    .filter((node) => node.checkVisibility()).map((node) => node.id || node.outerHTML.slice(0, 80))"""


async def assert_hidden_is_hidden(page) -> None:
    assert await page.evaluate(HIDDEN_BUT_SHOWN) == []


async def expect_no_account_in_header(page) -> None:
    header = page.locator("header.bar")
    for name in ("Orders", "Notifications", "Sign out"):
        await expect(header.get_by_role("button", name=name)).to_have_count(0)
    await expect(header.get_by_text("@")).to_have_count(0)
    await assert_hidden_is_hidden(page)


def _english_left(text: str) -> list[str]:
    import json

    catalogues = Path(__file__).resolve().parents[2] / "frontend" / "i18n"
    english, german = (json.loads((catalogues / f"{code}.json").read_text()) for code in ("en", "de"))
    shown = []
    for key, words in english.items():
        forms = words.values() if isinstance(words, dict) else [words]
        for form in forms:
            fixed = max(re.split(r"\{\w+\}", form), key=len).strip(" .:;,()")  # its longest literal part
            if len(fixed) > 3 and fixed != german[key] and fixed not in str(german[key]) and fixed in text:
                shown.append(f"{key}: {fixed}")
    return shown
