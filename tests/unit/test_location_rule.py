"""One rule for a location code: an order may name any location that stock can be received at, and is refused
for the same codes with the same field (place_line had a rule of its own that refused "A.1", which
receiving accepts)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.clock import FixedClock
from domain.errors import DomainError
from domain.model import Channel
from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
from tests.unit.fakes import InMemoryStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
codes = st.text(alphabet="aA1._-/ ", min_size=1, max_size=40)


async def _outcome(run) -> tuple[str, str | None]:
    try:
        await run
    except DomainError as error:
        return "refused", error.field
    return "ok", None


@settings(max_examples=150, deadline=None)
@given(codes)
async def test_an_order_names_the_locations_stock_is_received_at(code: str) -> None:
    if not code.strip():
        return  # an order without a location takes stock from any
    desk = BackorderDesk(InMemoryStore(), FixedClock(NOW))
    await desk.upsert_product(ProductInput(sku="MUG", name="Mug", price=Decimal("10.00")))
    received = await _outcome(desk.receive_stock("MUG", 1, code))
    ordered = await _outcome(desk.place_order(CustomerDetails("ann@example.com"), Channel.ONLINE,
                                              [LineRequest("MUG", 1)], location=code))
    assert received == ordered, (code, received, ordered)
