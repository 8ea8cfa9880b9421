"""Why something changed, as data: what kind of change, who did it, how many units, and the references
(order or purchase order number, substitute SKU, shipment, agent, reason) each reader may or may not see.

The domain records causes and never words them: every audience's wording (staff, customer) in every
language lives in `notifications.wording`, so rewording a cause cannot silently change what customers read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any


class Actor(str, Enum):
    CUSTOMER = "customer"  # the customer, in the portal
    AGENT = "agent"  # someone of the shop, through the API
    SYSTEM = "system"  # the desk itself: allocation, projection, time passing


class CauseKind(str, Enum):
    ORDER_PLACED = "ORDER_PLACED"  # this backorder's own order: quantity of of_quantity backordered
    CANCELLED = "CANCELLED"  # quantity of this backorder cancelled (actor, requested_by, agent, reason)
    SUBSTITUTED = "SUBSTITUTED"  # quantity replaced by the substitute `reference` (a SKU)
    SHIPPED = "SHIPPED"  # shipment `reference`
    STOCK_RECEIVED = "STOCK_RECEIVED"  # quantity received at location `reference`
    STOCK_ADJUSTED = "STOCK_ADJUSTED"  # a stock count corrected (reason)
    PO_CREATED = "PO_CREATED"  # purchase order `reference` expected on `new`
    PO_CHANGED = "PO_CHANGED"  # purchase order `reference`: date `old` -> `new` and/or `lines` changed
    PO_CANCELLED = "PO_CANCELLED"  # purchase order `reference` cancelled
    PO_RECEIVED = "PO_RECEIVED"  # purchase order `reference` received
    SUPPLIER_LEAD_TIME = "SUPPLIER_LEAD_TIME"  # supplier `reference`: lead time `quantity` days
    PRODUCT_CHANGED = "PRODUCT_CHANGED"  # product `reference` changed
    QUEUE_CANCELLATION = "QUEUE_CANCELLATION"  # another backorder of the SKU was cancelled
    QUEUE_SUBSTITUTE = "QUEUE_SUBSTITUTE"  # another backorder of the SKU took substitute `reference`
    SUBSTITUTE_TAKEN = "SUBSTITUTE_TAKEN"  # this SKU's stock went to a substitute for `reference` (a SKU)
    QUEUE_REPRIORITIZED = "QUEUE_REPRIORITIZED"  # the queue was reordered by `agent`
    REPRIORITIZED = "REPRIORITIZED"  # this backorder's priority set by `agent` (reason)
    QUEUE_ORDER_PLACED = "QUEUE_ORDER_PLACED"  # another order (`reference`) placed for the SKU
    ORDER_SHIPPED = "ORDER_SHIPPED"  # order `reference` shipped
    ETA_OVERDUE = "ETA_OVERDUE"  # the expected delivery date passed without delivery
    NOT_BY_DATE = "NOT_BY_DATE"  # quantity cancelled by the desk: expected `new` (None: the date passed), after
    #                              the customer's "cancel if not by" date `old`
    SUBSTITUTE_DECLINED = "SUBSTITUTE_DECLINED"  # substitute `reference` declined (actor, agent)
    PREFERENCES_CHANGED = "PREFERENCES_CHANGED"  # "cancel if not by" `new` (None: cleared), consent `reference`
    GOODWILL = "GOODWILL"  # an agent gave goodwill: credit `new` ("12.50 EUR"), discount code `reference` (agent)
    LEGACY = "LEGACY"  # recorded before causes were data: only the staff text of the time (`text`)


class RequestedBy(str, Enum):
    """On whose initiative a cancel happened (an agent may cancel at the customer's request)."""

    CUSTOMER = "customer"
    SHOP = "shop"


@dataclass(frozen=True, kw_only=True)
class Cause:
    kind: CauseKind
    actor: Actor = Actor.SYSTEM
    quantity: int | None = None
    of_quantity: int | None = None
    reference: str | None = None  # an order or PO number, a SKU, a shipment id, a location, a supplier
    agent: str | None = None  # who of the shop acted (staff only)
    reason: str | None = None  # in the agent's words (staff only)
    requested_by: RequestedBy | None = None  # a cancel: the customer's wish or the shop's decision; None: unknown
    old: str | None = None  # a value before (e.g. a PO's date, ISO 8601)
    new: str | None = None  # and after
    lines: tuple[tuple[str, int | None, int], ...] = ()  # a PO change: (sku, old quantity or None if new, new)
    text: str | None = None  # LEGACY only

    def to_dict(self) -> dict[str, Any]:
        # worked out once per cause: a receipt serving 100k backorders shares one cause among 300k events
        # and 200k history rows (it was a tenth of the receipt's time); a copy, so no reader changes another's
        cached: dict[str, Any] | None = self.__dict__.get("_as_dict")
        if cached is None:
            cached = self._to_dict()
            object.__setattr__(self, "_as_dict", cached)
        return dict(cached)

    def _to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value}
        if self.actor is not Actor.SYSTEM:
            out["actor"] = self.actor.value
        if self.requested_by is not None:
            out["requested_by"] = self.requested_by.value
        for name in ("quantity", "of_quantity", "reference", "agent", "reason", "old", "new", "text"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.lines:
            out["lines"] = [list(line) for line in self.lines]
        return out

    @staticmethod
    def from_dict(data: dict[str, Any] | str | None) -> Cause:
        """Read a cause back; a plain string (an event or history row from before causes were data) is LEGACY."""
        if data is None:
            return Cause(kind=CauseKind.LEGACY, text="")
        if isinstance(data, str):
            return Cause(kind=CauseKind.LEGACY, text=data)
        try:
            kind = CauseKind(data["kind"])
        except (KeyError, ValueError):
            return Cause(kind=CauseKind.LEGACY, text=str(data.get("text") or data.get("kind") or ""))
        requested = data.get("requested_by")
        return Cause(
            kind=kind, actor=Actor(data.get("actor", Actor.SYSTEM.value)),
            quantity=data.get("quantity"), of_quantity=data.get("of_quantity"), reference=data.get("reference"),
            agent=data.get("agent"), reason=data.get("reason"),
            requested_by=RequestedBy(requested) if requested else None,
            old=data.get("old"), new=data.get("new"), text=data.get("text"),
            lines=tuple((str(s), None if o is None else int(o), int(n)) for s, o, n in data.get("lines") or ()),
        )

    # -- the causes the use cases record ---------------------------------------------------------
    @staticmethod
    def order_placed(number: str, backordered: int, ordered: int) -> Cause:
        return Cause(kind=CauseKind.ORDER_PLACED, quantity=backordered, of_quantity=ordered, reference=number)

    @staticmethod
    def cancelled(quantity: int, by: str, reason: str, requested_by: RequestedBy | None) -> Cause:
        """`by` is "customer" for the customer's own cancel, else the agent's name."""
        if by == Actor.CUSTOMER.value:
            return Cause(kind=CauseKind.CANCELLED, actor=Actor.CUSTOMER, quantity=quantity, reason=reason or None,
                         requested_by=RequestedBy.CUSTOMER)
        return Cause(kind=CauseKind.CANCELLED, actor=Actor.AGENT, quantity=quantity, agent=by,
                     reason=reason or None, requested_by=requested_by)

    @staticmethod
    def po_date(number: str, old: date, new: date) -> Cause:
        return Cause(kind=CauseKind.PO_CHANGED, actor=Actor.AGENT, reference=number, old=old.isoformat(),
                     new=new.isoformat())

    @staticmethod
    def not_by_date(quantity: int, cancel_if_not_by: date, eta: date | None) -> Cause:
        """The customer's own rule cancelled it: their wish, carried out by the desk."""
        return Cause(kind=CauseKind.NOT_BY_DATE, quantity=quantity, requested_by=RequestedBy.CUSTOMER,
                     old=cancel_if_not_by.isoformat(), new=eta.isoformat() if eta else None)

    @staticmethod
    def by(who: str) -> tuple[Actor, str | None]:
        """`who` is "customer" for the customer in the portal, else the agent's name."""
        return (Actor.CUSTOMER, None) if who == Actor.CUSTOMER.value else (Actor.AGENT, who)

    @staticmethod
    def legacy(text: str) -> Cause:
        return Cause(kind=CauseKind.LEGACY, text=text)
