"""Key figures of the backorder book."""

from __future__ import annotations

import strawberry


@strawberry.type(description="Key figures of the backorder book.")
class Kpis:
    open_backorders: int = strawberry.field(description=(
        "Backorders not yet shipped, cancelled or substituted: those waiting for stock (WAITING, "
        "PARTIALLY_ALLOCATED) and those whose units are held for shipping (ALLOCATED)."))
    units_waiting: int = strawberry.field(description="Units of open backorders not yet allocated.")
    units_allocated_not_shipped: int
    overdue_backorders: int
    skus_with_backorders: int
    orders: int
    orders_with_backorders: int
    fill_rate: float = strawberry.field(description="Share of ordered units allocated at placement, 0..1.")
    mean_wait_days: float | None = strawberry.field(description="Mean days from backorder to fully allocated.")
    age_buckets: list[AgeBucket] = strawberry.field(description=(
        "openBackorders and unitsWaiting by days since the backorder was made (the buckets add up to them)."))


@strawberry.type(description="Open backorders of one age range.")
class AgeBucket:
    label: str
    min_days: int
    max_days: int | None = strawberry.field(description="Null: no upper bound.")
    backorders: int
    units: int = strawberry.field(description="Units still waiting for stock.")
