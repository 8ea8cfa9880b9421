"""The row mapping's kept results (domain/store/mapping.py): a price, a JSON list and a history cause are worked
out once per text, and what is kept must be what working it out anew gives, and never shared in a way a caller
could change: equal to a fresh mapping for any amount, any list, any cause; a list handed out is the caller's."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import model as m
from domain.causes import Cause
from domain.store import mapping

AMOUNTS = st.one_of(st.decimals(min_value=-10**9, max_value=10**9, allow_nan=False, places=3),
                    st.integers(-10**6, 10**6), st.decimals(min_value=0, max_value=10**6, places=2).map(str))


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(AMOUNTS, st.sampled_from(["GBP", "EUR"]))
def test_a_kept_price_is_the_price_worked_out_anew(amount: object, currency: str) -> None:
    fresh = m.Money(Decimal(amount).quantize(Decimal("0.01")), currency)  # type: ignore[arg-type]
    assert mapping.money(amount, currency) == fresh
    assert mapping.money(amount, currency) == fresh  # the kept one, the second time
    assert str(mapping.money(amount, currency).amount) == str(fresh.amount)  # written alike: -0.00 stays -0.00


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(st.lists(st.text(max_size=6), max_size=4))
def test_a_json_list_is_parsed_alike_and_each_caller_gets_its_own(values: list[str]) -> None:
    text = json.dumps(values)
    first = mapping.json_list(text)
    first.append("changed by a caller")
    assert mapping.json_list(text) == values  # the kept parse is untouched
    assert mapping.json_list(None) == [] and mapping.json_list(values) == values


def test_a_kept_cause_is_the_cause_read_anew() -> None:
    placed = Cause.order_placed("BD-1", 2, 3)
    text = json.dumps(placed.to_dict())
    assert mapping.history_cause("order placed", text) == Cause.from_dict(json.loads(text)) == placed
    assert mapping.history_cause("order placed", text) == placed  # the kept one
    assert mapping.history_cause("an old text", None) == Cause.legacy("an old text")
