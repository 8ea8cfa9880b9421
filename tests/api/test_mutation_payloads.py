"""A mutation's payload says what it wrote: the backorder and its order as a query right after would read them.
The request's DataLoaders cached the backorder when the ownership check read it, before the change, so a
cancelled or substituted line's total and the order's total in the payload were those from before."""

from __future__ import annotations

import pytest

from tests.api import support as s
from tests.api.test_preferences_api import Customer

ANN = "ann@example.com"
SEEN = ("status quantity cancelledQuantity substitutedQuantity "
        "order { total { amount } lines { sku lineTotal { amount } } }")
MUTATIONS = {
    "cancel one of two": ("cancelBackorder", "CancelBackorderInput", lambda b: {"id": b, "quantity": 1}),
    "cancel all": ("cancelBackorder", "CancelBackorderInput", lambda b: {"id": b}),
    "consent takes a substitute": ("setBackorderPreferences", "SetBackorderPreferencesInput",
                                   lambda b: {"backorderId": b, "substitutes": "ANY_LISTED"}),
    "accept a substitute": ("acceptSubstitute", "AcceptSubstituteInput",
                            lambda b: {"backorderId": b, "substituteSku": "CUP"}),
}


@pytest.mark.parametrize("case", list(MUTATIONS))
async def test_the_payloads_backorder_and_order_are_as_a_query_reads_them_after(api, case: str):
    name, input_type, make_input = MUTATIONS[case]
    await s.product(api.desk, "CUP", stock=10, price="12.00")
    await s.product(api.desk, "MUG", price="10.00", substitutes=["CUP"])
    [backorder] = s.backorder_ids(await s.order(api.desk, ANN, ("MUG", 2)))
    customer = await Customer(api).sign_in(ANN)
    try:
        before = (await customer.gql(f"query($id: ID!) {{ backorder(id: $id) {{ {SEEN} }} }}",
                                     {"id": backorder}))["data"]["backorder"]
        answer = (await customer.gql(
            f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ backorder {{ {SEEN} }} "
            f"userErrors {{ code }} }} }}", {"input": make_input(backorder)}))["data"][name]
        after = (await customer.gql(f"query($id: ID!) {{ backorder(id: $id) {{ {SEEN} }} }}",
                                    {"id": backorder}))["data"]["backorder"]
    finally:
        await customer.http.aclose()

    assert answer["userErrors"] == []
    assert after != before  # the mutation did change something the payload shows
    assert answer["backorder"] == after
