"""The customer's own choices as pure rules: when a "cancel if not by" date is past, which substitute their
consent lets the desk take for them, and what may be offered at all."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.preferences import (
    Candidate,
    SubstituteConsent,
    check_cancel_if_not_by,
    choose_substitute,
    offerable,
    past_deadline,
)

TODAY = date(2026, 3, 2)
C = SubstituteConsent


def test_a_date_already_passed_is_refused_and_today_is_fine():
    with pytest.raises(InvalidInput) as refused:
        check_cancel_if_not_by(TODAY - timedelta(days=1), TODAY)
    assert refused.value.field == "cancel_if_not_by"
    assert check_cancel_if_not_by(TODAY, TODAY) == TODAY
    assert check_cancel_if_not_by(None, TODAY) is None


def test_a_date_before_the_expected_one_would_cancel_at_once_so_it_is_refused():
    with pytest.raises(InvalidInput, match="expected on 2026-03-20"):
        check_cancel_if_not_by(date(2026, 3, 19), TODAY, eta=date(2026, 3, 20))
    assert check_cancel_if_not_by(date(2026, 3, 20), TODAY, eta=date(2026, 3, 20)) == date(2026, 3, 20)


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), UTC)


def test_past_the_deadline_when_expected_after_it_or_when_it_passed():
    latest = date(2026, 3, 10)
    assert not past_deadline(latest, date(2026, 3, 10), _noon(TODAY))  # expected on the day itself: in time
    assert past_deadline(latest, date(2026, 3, 11), _noon(TODAY))
    assert past_deadline(latest, None, _noon(date(2026, 3, 11)))  # the day went by while it waited
    assert not past_deadline(None, date(2030, 1, 1), _noon(TODAY))  # no date: never


def test_the_date_is_a_day_where_the_customer_is():
    latest = date(2026, 3, 10)
    # 16:00 in Los Angeles on their 10 March is already the 11th in UTC: still their date
    assert not past_deadline(latest, None, datetime(2026, 3, 11, 0, 0, tzinfo=UTC), "America/Los_Angeles")
    assert past_deadline(latest, None, datetime(2026, 3, 11, 7, 0, tzinfo=UTC), "America/Los_Angeles")  # PDT
    # units expected on the shop's 11th may still come within a Los Angeles 10th, not within a Tokyo one
    assert not past_deadline(latest, date(2026, 3, 11), datetime(2026, 3, 10, 12, tzinfo=UTC), "America/Los_Angeles")
    assert past_deadline(latest, date(2026, 3, 11), datetime(2026, 3, 10, 12, tzinfo=UTC), "Asia/Tokyo")
    # Tokyo's 10 March ends at 15:00 UTC
    assert not past_deadline(latest, None, datetime(2026, 3, 10, 14, 59, tzinfo=UTC), "Asia/Tokyo")
    assert past_deadline(latest, None, datetime(2026, 3, 10, 15, 0, tzinfo=UTC), "Asia/Tokyo")


@given(latest=st.dates(max_value=date(9998, 1, 1)), eta=st.none() | st.dates(),
       today=st.dates(max_value=date(9998, 1, 1)))
def test_past_deadline_in_utc_is_exactly_an_eta_or_a_today_after_the_date(latest, eta, today):
    assert past_deadline(latest, eta, _noon(today)) == (today > latest or (eta is not None and eta > latest))


def _candidate(sku: str, price: str, available: int = 5, currency: str = "EUR", released: bool = True) -> Candidate:
    return Candidate(sku, Decimal(price), currency, available, released)


def test_same_price_or_lower_takes_the_first_listed_that_costs_no_more():
    chosen = choose_substitute(C.SAME_PRICE_OR_LOWER, price=Decimal("10.00"), currency="EUR", needed=2,
                               listed=["DEAR", "SAME", "CHEAP"], declined=[],
                               candidates=[_candidate("DEAR", "12.00"), _candidate("SAME", "10.00"),
                                           _candidate("CHEAP", "8.00")])
    assert chosen == "SAME"


def test_any_listed_takes_a_dearer_one_but_never_one_declined_short_or_unreleased():
    candidates = [_candidate("DECLINED", "9.00"), _candidate("SHORT", "9.00", available=1),
                  _candidate("LATER", "9.00", released=False), _candidate("DEAR", "15.00")]
    listed = ["DECLINED", "SHORT", "LATER", "DEAR"]
    assert choose_substitute(C.ANY_LISTED, price=Decimal("10.00"), currency="EUR", needed=2, listed=listed,
                             declined=["DECLINED"], candidates=candidates) == "DEAR"
    assert choose_substitute(C.SAME_PRICE_OR_LOWER, price=Decimal("10.00"), currency="EUR", needed=2, listed=listed,
                             declined=["DECLINED"], candidates=candidates) is None


def test_prices_in_another_currency_are_not_compared_as_numbers():
    cheap_in_dollars = _candidate("USD", "1.00", currency="USD")
    assert choose_substitute(C.SAME_PRICE_OR_LOWER, price=Decimal("10.00"), currency="EUR", needed=1,
                             listed=["USD"], declined=[], candidates=[cheap_in_dollars]) is None


@pytest.mark.parametrize("consent", [C.NEVER, C.ASK])
def test_never_and_ask_take_nothing_by_themselves(consent):
    assert choose_substitute(consent, price=Decimal("10.00"), currency="EUR", needed=1, listed=["A"], declined=[],
                             candidates=[_candidate("A", "1.00")]) is None


@given(consent=st.sampled_from(list(C)), price=st.decimals("0", "100", places=2),
       needed=st.integers(0, 5), declined=st.sets(st.sampled_from("ABCD")),
       offers=st.lists(st.tuples(st.sampled_from("ABCD"), st.decimals("0", "100", places=2), st.integers(0, 6),
                                 st.booleans(), st.sampled_from(["EUR", "USD"])), max_size=6))
def test_whatever_is_chosen_is_listed_undeclined_released_enough_and_consented(consent, price, needed, declined,
                                                                                offers):
    candidates = [Candidate(sku, p, cur, available, released) for sku, p, available, released, cur in offers]
    listed = list(dict.fromkeys(sku for sku, *_ in offers))
    chosen = choose_substitute(consent, price=price, currency="EUR", needed=needed, listed=listed,
                               declined=declined, candidates=candidates)
    if chosen is None:
        return
    winner = {c.sku: c for c in candidates}[chosen]
    assert consent.automatic and needed > 0
    assert chosen in listed and chosen not in declined and winner.released and winner.available >= needed
    if consent is C.SAME_PRICE_OR_LOWER:
        assert winner.currency == "EUR" and winner.price <= price


def test_nothing_is_offered_to_a_customer_who_wants_no_substitutes_and_never_one_declined():
    assert offerable(C.NEVER, ["A", "B"], []) == []
    assert offerable(C.ASK, ["A", "B"], ["A"]) == ["B"]
    assert offerable(C.ANY_LISTED, ["A", "B"], []) == ["A", "B"]
