"""The commands and results the use cases take and give: plain values, no behaviour."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from domain.allocation import AllocationPolicy
from domain.eta import Eta
from domain.model import BackorderPolicy, BackorderStatus, CustomerTier


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: int


@dataclass(frozen=True)
class CustomerDetails:
    email: str
    name: str = ""
    phone: str | None = None
    tier: CustomerTier | None = None


@dataclass(frozen=True)
class ProductInput:
    sku: str
    name: str
    price: Decimal
    currency: str = "EUR"
    backorder_policy: BackorderPolicy = BackorderPolicy.ALLOW
    backorder_limit: int | None = None
    release_date: date | None = None
    substitutes: Sequence[str] = ()
    supplier_id: str | None = None
    lead_time_days: int | None = None
    allocation_policy: AllocationPolicy = AllocationPolicy.PRIORITY
    fair_share_minimum: int | None = None
    customer_cap_per_receipt: int | None = None


@dataclass(frozen=True)
class AllocationPreviewLine:
    """What a receipt would do to one waiting backorder: the units it would give, and the status, queue position
    and ETA the backorder would then have."""

    backorder_id: str
    allocated_quantity: int
    status: BackorderStatus
    queue_position: int | None
    eta: Eta | None


@dataclass
class Shipment:
    id: str
    order_id: str
    units: int
    lines: dict[str, int] = field(default_factory=dict)  # order line id -> units
    locations: dict[str, int] = field(default_factory=dict)  # location -> units shipped from there
