"""One rule for a phone number, wherever one is given: an order's customer and the customer's notification
preferences accept exactly the same numbers, and keep them in the same form. (They were two rules that
disagreed: the order took "+0123456789", which texts can never reach, and refused "+44 7700 900123".)"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.clock import FixedClock
from domain.customers import NotificationPreferences
from domain.errors import InvalidInput
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from tests.unit.fakes import InMemoryStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
phones = st.one_of(
    st.text(alphabet="+0123456789 -().", max_size=20),
    st.builds(lambda cc, rest, sep: f"+{cc}{sep}{rest}", st.integers(0, 999), st.text("0123456789", max_size=14),
              st.sampled_from(["", " ", "-", " ("])),
)


async def _order_phone(phone: str) -> str | None:
    desk = BackorderDesk(InMemoryStore(), FixedClock(NOW))
    await desk.upsert_product(ProductInput(sku="MUG", name="Mug", price=Decimal("10.00")))
    placed = await desk.place_order(CustomerDetails("ann@example.com", phone=phone), Channel.ONLINE,
                                    [LineRequest("MUG", 1)])
    return placed.customer.phone


def _preferences_phone(phone: str) -> str | None:
    prefs = NotificationPreferences(email="ann@example.com", phone=phone)
    prefs.validate()
    return prefs.phone


@settings(max_examples=150, deadline=None)
@given(phones)
async def test_an_order_and_the_preferences_take_the_same_numbers_in_the_same_form(phone: str) -> None:
    if not phone.strip():
        return  # no number at all: nothing to check
    outcomes = []
    for read in (_order_phone, _preferences_phone):
        try:
            value = read(phone)
            outcomes.append(("ok", await value if not isinstance(value, (str, type(None))) else value))
        except InvalidInput as error:
            outcomes.append(("refused", error.code))
    assert outcomes[0] == outcomes[1], (phone, outcomes)
