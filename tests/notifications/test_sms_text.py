"""Every text we send fits in two SMS segments and stays GSM-7 when the words allow, however long the
product's and shop's names: names are cut, never the link or "Reply STOP to opt out"."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from notifications.compose import Item, Now, WindowNews
from notifications.render import (
    ItemView,
    gsm_text,
    is_gsm7,
    render_back_in_stock,
    render_digest,
    render_sms_opt_in,
    sms_segments,
)
from notifications.wording import SMS_HEADLINES

URL = "https://orders.lamp-and-co.example.com/"
STOP = "Reply STOP to opt out"
NAMES = {
    "ascii": "Anglepoise Type 75 Mini Desk Lamp with Extra Long Arm, Brass Finish, Limited Edition " * 2,
    "typographic": "Anglepoise® Type 75™ – “Mini” desk lamp… l’édition Łódź, brûlée & naïve ‘quotes’ " * 2,
    "ucs2": "台灯 Anglepoise 75 迷你 台灯 黄铜 限量版 台灯 " * 4,
}
SHOPS = {"short": "Lamp & Co", "long": "The Very Long Named Lighting Emporium & Sons of Greater Manchester Ltd " * 2}


def news_of_every_kind() -> list[Item]:
    """An item for every headline (and whose wish a cancel was), with units in every state."""
    news = WindowNews(backorder_id="b1", order_id="o1", sku="LAMP", eta_before=date(2026, 3, 10), eta_changed=True,
                      offered_substitutes=["LAMP-ALT"])
    now = Now(status="PARTIALLY_ALLOCATED", original_quantity=9, allocated_quantity=3, shipped_quantity=1,
              cancelled_quantity=2, substituted_quantity=1, waiting_quantity=3, queue_position=3,
              eta=date(2026, 4, 15), eta_confidence="LOW", promised_date=date(2026, 3, 10))
    items = []
    for head in SMS_HEADLINES:
        base = head.split("_customer")[0].split("_shop")[0].split("_not_by")[0].split("_auto")[0]
        for wish in ("customer", "shop", None, "not_by"):
            items.append(Item(news=replace(news, cancel_wishes={wish}, not_by=date(2026, 4, 1),
                                           substituted_automatically=head.endswith("_auto")),
                              now=now, headline=base, long_delay=head == "long_delay"))
    return items


def view(n: Item, product: str) -> ItemView:
    return ItemView(item=n, product=product, order_number="BO-1234", substitute="Brass desk lamp " * 5,
                    substitutes=("Brass desk lamp " * 5,))


def every_text(product: str, shop: str) -> list[str]:
    texts = []
    for n in news_of_every_kind():
        texts.append(render_digest([view(n, product)], name="Ann", language="en", shop_name=shop, portal_url=URL,
                                   short_url=URL, unsubscribe_url=URL + "unsubscribe").sms or "")
    texts.append(render_digest([view(n, product) for n in news_of_every_kind()[:3]], name="Ann", language="en",
                               shop_name=shop, portal_url=URL, short_url=URL,
                               unsubscribe_url=URL + "unsubscribe").sms or "")
    texts.append(render_back_in_stock(product=product, language="en", shop_name=shop, shop_url=URL,
                                      unsubscribe_url=URL + "unsubscribe").sms or "")
    texts.append(render_sms_opt_in(product=product, language="en", shop_name=shop))
    return texts


@pytest.mark.parametrize("shop", SHOPS.values(), ids=SHOPS.keys())
@pytest.mark.parametrize("product", NAMES.values(), ids=NAMES.keys())
def test_every_text_fits_two_segments_and_keeps_the_link_and_the_opt_out(product, shop):
    for text in every_text(product, shop):
        assert sms_segments(text) <= 2, text
        assert text.endswith(STOP), text
        assert URL in text or "reply YES" in text, text  # the opt-in question has no link, by design
        assert "…" not in text
        if is_gsm7(gsm_text(product)):
            assert is_gsm7(text), text  # one typographic character must not turn a text into UCS-2


def test_a_short_name_is_shown_whole_in_one_segment():
    created = Item(news=WindowNews(backorder_id="b1", order_id="o1", sku="LAMP", created=True),
                   now=Now(status="WAITING", original_quantity=2, allocated_quantity=0, shipped_quantity=0,
                           cancelled_quantity=0, substituted_quantity=0, waiting_quantity=2, queue_position=1,
                           eta=date(2026, 3, 10), eta_confidence="HIGH", promised_date=date(2026, 3, 10)),
                   headline="created")
    text = render_digest([view(created, "Anglepoise lamp")], name="Ann", language="en", shop_name="Lamp & Co",
                         portal_url=URL, short_url=URL, unsubscribe_url=URL + "unsubscribe").sms
    assert text == f"Lamp & Co: Anglepoise lamp: on backorder; 2 waiting, exp. 10 Mar. {URL} {STOP}"
    assert sms_segments(text) == 1


def test_typographic_characters_become_their_gsm_look_alikes():
    assert gsm_text("“Mini” – l’édition… Łódź") == '"Mini" - l\'édition... Lodz'
    assert gsm_text("Müller café") == "Müller café"  # in GSM-7 already
    assert not is_gsm7(gsm_text("台灯"))


@pytest.mark.parametrize(("body", "segments"), [
    ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
    ("€" * 80, 1), ("€" * 81, 2),  # an extension character takes two septets
    ("é" * 160, 1),  # é is in the GSM-7 alphabet
    ("台" * 70, 1), ("台" * 71, 2), ("台" * 134, 2), ("台" * 135, 3),
    ("`", 1),
])
def test_segments_are_counted_as_carriers_count_them(body, segments):
    assert sms_segments(body) == segments
