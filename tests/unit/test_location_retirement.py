"""When a location may be retired, and whether it is kept (domain.locations.retirement), over any use: never while
units are on hand or set aside there or a purchase order is bound for it, never the default location; otherwise
kept exactly when history refers to it. And through the desk (in memory): a retired location is unknown to every
input."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.clock import FixedClock
from domain.errors import DomainError, ErrorCode
from domain.locations import LocationInUse, LocationUse, retirement
from domain.services import BackorderDesk, ProductInput
from tests.unit.fakes import InMemoryStore

uses = st.builds(LocationUse, on_hand=st.integers(0, 3), set_aside=st.integers(0, 3),
                 open_purchase_orders=st.lists(st.sampled_from(["PO-1", "PO-2"]), max_size=2).map(tuple),
                 referenced=st.booleans())


@given(st.sampled_from(["MAIN", "LEEDS"]), uses)
def test_a_location_is_retired_only_when_empty_and_awaited_by_nothing_and_kept_when_history_refers_to_it(code, use):
    busy = code == "MAIN" or use.on_hand > 0 or use.set_aside > 0 or bool(use.open_purchase_orders)
    try:
        kept = retirement(code, use, "MAIN")
    except LocationInUse as refused:
        assert busy and refused.field == "code"
    else:
        assert not busy and kept == use.referenced


async def test_a_retired_location_is_unknown_to_every_input():
    desk = BackorderDesk(InMemoryStore(), FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)))
    await desk.upsert_product(ProductInput(sku="PEG", name="Peg", price=Decimal("1.00")))
    await desk.upsert_location("POPUP", "Pop-up shop")
    assert (await desk.retire_location("POPUP"))[1] is False  # nothing ever referred to it
    with pytest.raises(DomainError) as refused:
        await desk.receive_stock("PEG", 1, "POPUP")
    assert refused.value.code is ErrorCode.UNKNOWN_LOCATION
