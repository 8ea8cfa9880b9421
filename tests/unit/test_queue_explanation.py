"""A waiting backorder explains its place in words its customer can read, in their language: the ordinal as
the language writes it (Babel's ordinal categories), how many orders placed before it wait, and the fair-share
rule when the product shares stock."""

from __future__ import annotations

import pytest

from notifications.wording import ordinal, queue_explanation


@pytest.mark.parametrize(("n", "written"), [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"),
                                            (12, "12th"), (13, "13th"), (21, "21st"), (22, "22nd"), (101, "101st"),
                                            (1200, "1,200th")])
def test_english_ordinals(n, written):
    assert ordinal(n, "en") == written


def test_ordinals_in_every_language():
    assert [ordinal(n, "de") for n in (1, 3)] == ["1.", "3."]
    assert [ordinal(n, "fr") for n in (1, 3)] == ["1er", "3e"]
    assert [ordinal(n, "es") for n in (1, 3)] == ["1.º", "3.º"]


def test_the_issues_example_and_its_neighbours():
    assert queue_explanation(3, True, fair_share=False) == (
        "You are 3rd in line: 2 orders placed before yours are waiting.")
    assert queue_explanation(2, True, fair_share=False) == (
        "You are 2nd in line: 1 order placed before yours is waiting.")
    assert queue_explanation(1, True, fair_share=False) == "You are next in line: no order is waiting before yours."


def test_when_the_shops_rules_moved_orders_ahead_it_says_how_many_wait_ahead_never_why():
    words = queue_explanation(4, False, fair_share=False)
    assert words == "You are 4th in line: 3 orders are waiting ahead of yours."
    assert "priority" not in words.lower() and "vip" not in words.lower()


def test_a_fair_share_product_says_stock_is_shared():
    assert queue_explanation(2, True, fair_share=True).endswith(
        "Arriving stock is shared out: every waiting order gets a share first.")


@pytest.mark.parametrize(("language", "expected"), [
    ("de", "Sie sind 3. in der Reihe: 2 vor Ihrer aufgegebene Bestellungen warten."),
    ("fr", "Vous êtes 3e dans la file : 2 commandes passées avant la vôtre attendent."),
    ("es", "Usted es el 3.º en la cola: 2 pedidos realizados antes que el suyo están esperando."),
])
def test_every_language_has_its_own_words(language, expected):
    assert queue_explanation(3, True, fair_share=False, language=language) == expected
    assert queue_explanation(1, True, fair_share=True, language=language) != queue_explanation(1, True, fair_share=True)
