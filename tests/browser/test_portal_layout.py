"""The customer portal's layout in a real browser at the sizes customers use: the two answers to an offered
alternative ("Take … instead", "No thanks") stay together, side by side where there is room and one under the
other, aligned, where there is not; never one beside the offer and the other alone on the next line."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.portal_support import link_for

# (width, height, language): a desktop, a small laptop, a tablet in portrait, a phone; English and German
# (German's answers are the longest)
SIZES = [(1280, 900, "en-GB"), (1024, 768, "de-DE"), (800, 1000, "en-GB"), (600, 900, "de-DE"), (390, 844, "de-DE"),
         (390, 844, "en-GB")]


async def _answer_boxes(page) -> list[tuple[dict, dict, dict]]:
    offers = page.locator(".subs li")
    boxes = []
    for i in range(await offers.count()):
        offer = offers.nth(i)
        take, decline = offer.locator("button").nth(0), offer.locator("button").nth(1)
        boxes.append((await offer.bounding_box(), await take.bounding_box(), await decline.bounding_box()))
    return boxes


async def test_take_and_no_thanks_stay_together_at_every_width(api, browser):
    from api.demo import load_demo
    from domain.store.portal import get_preferences, save_preferences

    await load_demo(api.desk)
    for width, height, locale in SIZES:
        prefs = await get_preferences("ann.baker@example.com")
        prefs.language = locale[:2]
        await save_preferences(prefs)
        context = await browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        page = await context.new_page()
        await page.goto(await link_for(api, "ann.baker@example.com"))
        await expect(page.locator(".subs li").first).to_be_visible()
        boxes = await _answer_boxes(page)
        assert len(boxes) == 2, (width, locale)  # the demo offers Ann an alternative on two lines
        for offer, take, decline in boxes:
            where = (width, locale, take, decline)
            side_by_side = abs(take["y"] - decline["y"]) < 1 and decline["x"] > take["x"] + take["width"]
            stacked = abs(take["x"] - decline["x"]) < 1 and decline["y"] >= take["y"] + take["height"]
            assert side_by_side or stacked, where
            if width >= 800:
                assert side_by_side, where  # room enough: one beside the other
            for button in (take, decline):  # inside the offer, never past its edge
                assert offer["x"] <= button["x"], where
                assert button["x"] + button["width"] <= offer["x"] + offer["width"] + 1, where
        await context.close()
