"""A backorder: the units an order line still waits for, its state machine and its history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum

from domain import events as ev
from domain.allocation import Claim
from domain.causes import Cause
from domain.errors import ErrorCode, InvalidState, SubstituteError
from domain.eta import Eta
from domain.model.customer import CustomerTier
from domain.model.order import Channel
from domain.preferences import BackorderPreferences, SubstituteConsent, customer_today, offerable


class BackorderStatus(str, Enum):
    WAITING = "WAITING"
    PARTIALLY_ALLOCATED = "PARTIALLY_ALLOCATED"
    ALLOCATED = "ALLOCATED"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"
    SUBSTITUTED = "SUBSTITUTED"


ACTIVE_STATUSES = frozenset(
    {BackorderStatus.WAITING, BackorderStatus.PARTIALLY_ALLOCATED, BackorderStatus.ALLOCATED}
)


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    kind: str  # STATUS | ETA | PRIORITY | QUANTITY | SUBSTITUTE (one declined) | PREFERENCE | GOODWILL
    old_value: str | None
    new_value: str | None
    cause: Cause


@dataclass
class Backorder:
    id: str
    order_id: str
    order_line_id: str
    sku: str
    customer_email: str
    customer_tier: CustomerTier
    channel: Channel
    ordered_at: datetime
    quantity: int  # units this backorder still owes the customer (cancelled/substituted units leave it)
    original_quantity: int
    allocated_quantity: int = 0  # of `quantity`, units set aside (shipped ones included)
    shipped_quantity: int = 0
    cancelled_quantity: int = 0
    substituted_quantity: int = 0
    reserved: dict[str, int] = field(default_factory=dict)  # allocated, not shipped, per location
    shipped_from: dict[str, int] = field(default_factory=dict)  # units shipped, per location
    status: BackorderStatus = BackorderStatus.WAITING
    eta: Eta | None = None
    promised_date: date | None = None
    priority_override: int = 0
    priority_reason: str | None = None
    order_quantity: int = 1
    allocation_reason: str | None = None
    queue_position: int | None = None  # 1-based place among those still waiting for units of the SKU
    # the SKU's demand index: the units waiting in the queue up to and including this one, plus the SKU's origin
    # (`SkuInventory.kept_projection`), so the backorders in a range of demand are an index range
    demand_to: int | None = None
    # the customer's own choices (domain.preferences): past this date while units still wait, it is cancelled
    cancel_if_not_by: date | None = None
    substitute_consent: SubstituteConsent = SubstituteConsent.ASK
    # the customer's time zone, where that date is a day (their notification preferences'; not a column: read
    # with the queue for the backorders that have a date, so a changed zone counts from the next settle)
    customer_timezone: str = "UTC"
    declined_substitutes: list[str] = field(default_factory=list)  # never offered again for this backorder
    history: list[HistoryEntry] = field(default_factory=list)
    new_history: list[HistoryEntry] = field(default_factory=list, repr=False)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0

    @property
    def waiting_quantity(self) -> int:
        return self.quantity - self.allocated_quantity

    @property
    def held_quantity(self) -> int:
        return self.allocated_quantity - self.shipped_quantity

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def claim(self) -> Claim:
        return Claim(
            backorder_id=self.id,
            ordered_at=self.ordered_at,
            waiting_quantity=self.waiting_quantity,
            tier=self.customer_tier.value,
            promised_date=self.promised_date,
            priority_override=self.priority_override,
            order_quantity=self.order_quantity,
            customer=self.customer_email,
        )

    def _record(self, at: datetime, kind: str, old: str | None, new: str | None, cause: Cause) -> None:
        entry = HistoryEntry(at, kind, old, new, cause)
        self.history.append(entry)
        self.new_history.append(entry)
        self.updated_at = at

    def _derive_status(self) -> BackorderStatus:
        if self.quantity == 0:
            return BackorderStatus.SUBSTITUTED if self.substituted_quantity else BackorderStatus.CANCELLED
        if self.shipped_quantity >= self.quantity:
            return BackorderStatus.SHIPPED
        if self.allocated_quantity >= self.quantity:
            return BackorderStatus.ALLOCATED
        if self.allocated_quantity > 0:
            return BackorderStatus.PARTIALLY_ALLOCATED
        return BackorderStatus.WAITING

    def _refresh_status(self, now: datetime, cause: Cause) -> ev.BackorderStatusChanged | None:
        new = self._derive_status()
        if new is self.status:
            return None
        old, self.status = self.status, new
        self._record(now, "STATUS", old.value, new.value, cause)
        return ev.BackorderStatusChanged(
            occurred_at=now, **self._ids(), old_status=old.value, new_status=new.value, cause=cause
        )

    def _ids(self) -> dict[str, str]:
        return {
            "backorder_id": self.id,
            "order_id": self.order_id,
            "sku": self.sku,
            "customer_email": self.customer_email,
        }

    def adopt_defaults(self, defaults: BackorderPreferences, now: datetime) -> None:
        """A new backorder starts with its customer's account defaults (a default date already passed where the
        customer is is not carried over: it would cancel the backorder the moment it is placed)."""
        latest = defaults.cancel_if_not_by
        self.customer_timezone = defaults.timezone
        self.cancel_if_not_by = latest if latest is not None and latest >= customer_today(now, defaults.timezone) \
            else None
        self.substitute_consent = defaults.substitutes

    def require_substitute_wanted(self, sku: str, *, offer: bool) -> None:
        """A declined substitute is neither offered nor taken again; a customer who wants none is offered none."""
        if sku in self.declined_substitutes:
            raise SubstituteError(f"{sku} was declined for this backorder", field="substitute_sku",
                                  code=ErrorCode.SUBSTITUTE_DECLINED)
        if offer and self.substitute_consent is SubstituteConsent.NEVER:
            raise SubstituteError("the customer wants no substitutes for this backorder", field="substitute_sku",
                                  code=ErrorCode.SUBSTITUTE_DECLINED)

    def offerable_substitutes(self, listed: list[str]) -> list[str]:
        """Of the product's listed substitutes, those this customer may be offered."""
        return offerable(self.substitute_consent, listed, self.declined_substitutes)

    def require_active(self) -> None:
        if not self.is_active:
            raise InvalidState(f"backorder is {self.status.value.lower()}", field="backorder_id")
