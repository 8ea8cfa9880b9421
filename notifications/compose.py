"""What is worth telling a customer: the net effect of the changes to their backorders in a window.

Pure functions. Several changes to one backorder within the coalescing window collapse to one line
(an ETA moved and moved back says nothing; a status that returns to where it was says nothing); ETA
moves smaller than the threshold are not news; an ETA that slips past the long-delay limit offers the
customer their options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

# the domain events a customer hears about
CUSTOMER_EVENTS = frozenset({
    "BackorderCreated", "BackorderStatusChanged", "EtaChanged", "BackorderCancelled", "BackorderShipped",
    "BackorderSubstituted", "SubstituteOffered",
})


@dataclass(frozen=True)
class Change:
    kind: str
    backorder_id: str
    order_id: str
    sku: str
    occurred_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class Rules:
    eta_threshold_days: int = 1
    long_delay_days: int = 14
    goodwill_code: str | None = None
    goodwill_text: str | None = None


@dataclass
class BackorderNews:
    """What happened to one backorder, net, in this window."""

    backorder_id: str
    order_id: str
    sku: str
    created: dict[str, Any] | None = None
    old_eta: date | None = None
    new_eta: date | None = None
    eta_moved: bool = False
    old_status: str | None = None
    new_status: str | None = None
    cancelled_quantity: int = 0
    cancelled_by: str | None = None
    shipped_quantity: int = 0
    substitute_sku: str | None = None
    offered_substitutes: list[str] = field(default_factory=list)
    long_delay: bool = False

    @property
    def headline(self) -> str:
        """The single most important thing, for subjects and SMS."""
        if self.created:
            return "created"
        if self.new_status in ("CANCELLED", "SHIPPED", "SUBSTITUTED", "ALLOCATED", "PARTIALLY_ALLOCATED"):
            return self.new_status.lower()
        if self.cancelled_quantity:
            return "partly_cancelled"
        if self.long_delay:
            return "long_delay"
        if self.eta_moved:
            return "eta_later" if (self.old_eta and self.new_eta and self.new_eta > self.old_eta) else "eta_earlier"
        if self.offered_substitutes:
            return "substitute_offered"
        return "update"


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def net_news(changes: list[Change], rules: Rules,
             promised: dict[str, date | None] | None = None) -> list[BackorderNews]:
    """Collapse a customer's changes into per-backorder news, dropping what cancelled out."""
    promised = promised or {}
    by_backorder: dict[str, list[Change]] = {}
    for change in sorted(changes, key=lambda c: c.occurred_at):
        if change.kind in CUSTOMER_EVENTS:
            by_backorder.setdefault(change.backorder_id, []).append(change)
    news: list[BackorderNews] = []
    for backorder_id, items in by_backorder.items():
        first = items[0]
        n = BackorderNews(backorder_id=backorder_id, order_id=first.order_id, sku=first.sku)
        etas = [c for c in items if c.kind == "EtaChanged"]
        statuses = [c for c in items if c.kind == "BackorderStatusChanged"]
        for c in items:
            if c.kind == "BackorderCreated":
                n.created = dict(c.data)
            elif c.kind == "BackorderCancelled":
                n.cancelled_quantity += int(c.data.get("quantity", 0))
                n.cancelled_by = str(c.data.get("cancelled_by") or "shop")
            elif c.kind == "BackorderShipped":
                n.shipped_quantity += int(c.data.get("quantity", 0))
            elif c.kind == "BackorderSubstituted":
                n.substitute_sku = str(c.data.get("substitute_sku"))
            elif c.kind == "SubstituteOffered":
                sku = str(c.data.get("substitute_sku"))
                if sku not in n.offered_substitutes:
                    n.offered_substitutes.append(sku)
        if etas:
            n.old_eta = _date(etas[0].data.get("old_date"))
            n.new_eta = _date(etas[-1].data.get("new_date"))
            if n.created:
                n.created["eta_date"] = n.new_eta.isoformat() if n.new_eta else n.created.get("eta_date")
            elif n.old_eta and n.new_eta:
                n.eta_moved = abs((n.new_eta - n.old_eta).days) >= rules.eta_threshold_days
            else:
                n.eta_moved = n.old_eta != n.new_eta
        if statuses:
            n.old_status = str(statuses[0].data.get("old_status"))
            n.new_status = str(statuses[-1].data.get("new_status"))
            if n.old_status == n.new_status:
                n.old_status = n.new_status = None
        limit_from = promised.get(backorder_id)
        eta_now = n.new_eta or _date((n.created or {}).get("eta_date"))
        if (limit_from and eta_now and (eta_now - limit_from).days > rules.long_delay_days
                and n.new_status not in ("CANCELLED", "SHIPPED", "SUBSTITUTED", "ALLOCATED")):
            n.long_delay = n.eta_moved or bool(n.created)
        if n.created and n.new_status == "CANCELLED":
            continue  # backordered and cancelled within the window: nothing the customer needs to hear
        if n.created or n.eta_moved or n.new_status or n.cancelled_quantity or n.shipped_quantity \
                or n.substitute_sku or n.offered_substitutes or n.long_delay:
            news.append(n)
    return news
