"""What is worth telling a customer, and what is true when it is told.

A digest is composed when its coalescing window closes. The window's events decide only *what changed*
(`WindowNews`: created, cancelled and by whose wish, substituted, shipped, allocated, the ETA and status
before the window); everything the message states (status, units set aside / waiting / cancelled /
substituted / shipped, queue position and whether all of those ahead were placed before it, ETA) is read from
the backorder as it is at that moment (`Now`).
`headline()` puts the two together: a backorder created and filled inside the window is "ready", never
"on backorder"; one created and cancelled by the customer, or whose ETA moved and moved back, says nothing.

Pure functions: the dispatcher loads the backorders and products, this module decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

# the domain events a customer's digest looks at
CUSTOMER_EVENTS = frozenset({
    "BackorderCreated", "BackorderAllocated", "BackorderStatusChanged", "EtaChanged", "BackorderCancelled",
    "BackorderShipped", "BackorderSubstituted", "SubstituteOffered", "GoodwillOffered",
})  # SubstituteDeclined and BackorderPreferencesChanged are the customer's own acts: nothing to tell them

ACTIVE = frozenset({"WAITING", "PARTIALLY_ALLOCATED", "ALLOCATED"})


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
    goodwill_texts: Mapping[str, str] = field(default_factory=dict)  # language -> the shop's own words


@dataclass
class WindowNews:
    """What happened to one backorder in the window (from its events; says nothing of the state now)."""

    backorder_id: str
    order_id: str
    sku: str
    created: bool = False
    status_before: str | None = None  # before the window's first status change (None: created, or unchanged)
    status_changed: bool = False
    eta_before: date | None = None  # before the window's first ETA change
    eta_changed: bool = False
    allocated: int = 0
    cancelled: int = 0
    cancel_wishes: set[str | None] = field(default_factory=set)  # "customer" | "shop" | "not_by" | None
    not_by: date | None = None  # the customer's "cancel if not by" date, when the desk cancelled by it
    shipped: int = 0
    substituted: int = 0
    substitute_sku: str | None = None
    substituted_automatically: bool = False  # under the customer's substitute consent
    offered_substitutes: list[str] = field(default_factory=list)
    goodwill: list[str] = field(default_factory=list)  # ids of the goodwill given in the window: told once, here


@dataclass(frozen=True)
class Now:
    """One backorder as it is when the message is composed."""

    status: str
    original_quantity: int
    allocated_quantity: int  # shipped ones included
    shipped_quantity: int
    cancelled_quantity: int
    substituted_quantity: int
    waiting_quantity: int
    queue_position: int | None
    eta: date | None
    eta_confidence: str | None
    promised_date: date | None
    preorder: bool = False  # the product is sold as a preorder (its stock comes on a release day)
    release_date: date | None = None  # a preorder's release day
    today: date | None = None  # the customer's day when the message is composed
    placed_in_turn: bool = False  # whether every one ahead of it in its queue was ordered before it
    fair_share: bool = False  # its product shares arriving stock out (the queue sentence says so)

    @property
    def held(self) -> int:
        """Set aside for the customer, not yet shipped."""
        return self.allocated_quantity - self.shipped_quantity

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class Item:
    """One backorder's line in a message: the news, and the state it is told in."""

    news: WindowNews
    now: Now
    headline: str
    long_delay: bool = False


def window_news(changes: list[Change]) -> dict[str, WindowNews]:
    """The window's events, per backorder, in the order they happened."""
    out: dict[str, WindowNews] = {}
    for c in sorted(changes, key=lambda c: c.occurred_at):  # stable: one transaction's events keep their order
        if c.kind not in CUSTOMER_EVENTS:
            continue
        n = out.get(c.backorder_id)
        if n is None:
            n = out[c.backorder_id] = WindowNews(backorder_id=c.backorder_id, order_id=c.order_id, sku=c.sku)
        d = c.data
        if c.kind == "BackorderCreated":
            n.created = True
        elif c.kind == "BackorderStatusChanged":
            if not n.status_changed and not n.created:
                n.status_before = str(d.get("old_status"))
            n.status_changed = True
        elif c.kind == "EtaChanged":
            if not n.eta_changed and not n.created:
                n.eta_before = _date(d.get("old_date"))
            n.eta_changed = True
        elif c.kind == "BackorderAllocated":
            n.allocated += int(d.get("quantity", 0))
        elif c.kind == "BackorderCancelled":
            n.cancelled += int(d.get("quantity", 0))
            by = d.get("cancelled_by")
            if d.get("not_by_date"):
                n.cancel_wishes.add("not_by")
                n.not_by = _date(d.get("not_by_date"))
            else:
                n.cancel_wishes.add("customer" if by == "customer" else d.get("requested_by"))
        elif c.kind == "BackorderShipped":
            n.shipped += int(d.get("quantity", 0))
        elif c.kind == "BackorderSubstituted":
            n.substituted += int(d.get("quantity", 0))
            n.substitute_sku = str(d.get("substitute_sku"))
            n.substituted_automatically = bool(d.get("automatic"))
        elif c.kind == "SubstituteOffered":
            sku = str(d.get("substitute_sku"))
            if sku not in n.offered_substitutes:
                n.offered_substitutes.append(sku)
        elif c.kind == "GoodwillOffered":
            n.goodwill.append(str(d.get("goodwill_id")))
    return out


def cancel_wish(news: WindowNews) -> str | None:
    """Whose wish the window's cancels were: "customer" only if every one was theirs, "shop" if any was the
    shop's, None when an agent did not say (the customer is then told neither); "not_by" when the desk cancelled
    by the customer's own "cancel if not by" date; "auto" for a substitute taken under their consent."""
    if news.substituted_automatically and not news.cancel_wishes:
        return "auto"
    if news.cancel_wishes == {"not_by"}:
        return "not_by"
    if news.cancel_wishes == {"customer"}:
        return "customer"
    if "shop" in news.cancel_wishes:
        return "shop"
    return None


def headline(news: WindowNews, now: Now, rules: Rules) -> str | None:
    """The one thing to say about this backorder now, or None when the window's net effect is nothing."""
    moved_status = news.created or (news.status_changed and news.status_before != now.status)
    if moved_status:
        if now.status == "CANCELLED":
            if news.created and cancel_wish(news) == "customer":
                return None  # backordered and cancelled by the customer within the window: nothing new to them
            return "cancelled"
        if now.status == "SUBSTITUTED":
            return "substituted"
        if now.status == "SHIPPED":
            return "shipped"
        if now.status == "ALLOCATED":
            if now.preorder and now.release_date and now.today and now.release_date > now.today:
                return "preorder_reserved"  # set aside, but nothing ships before the release day
            return "released" if now.preorder else "allocated"
        if now.status == "PARTIALLY_ALLOCATED":
            return "partially_allocated"
        if news.created:
            return "created"
    if news.cancelled:
        return "partly_cancelled"
    if news.substituted:
        return "partly_substituted"
    if news.shipped:
        return "partly_shipped"
    if news.allocated and now.status == "PARTIALLY_ALLOCATED":
        return "partially_allocated"
    if now.active and now.waiting_quantity and news.eta_changed and eta_moved(news, now, rules):
        return "eta_later" if (news.eta_before and now.eta and now.eta > news.eta_before) else "eta_earlier"
    if now.active and now.waiting_quantity and news.offered_substitutes:
        return "substitute_offered"
    if news.goodwill:  # with any other headline it is told beside it (its own lines in the item)
        return "goodwill"
    return None


def eta_moved(news: WindowNews, now: Now, rules: Rules) -> bool:
    """From before the window to now, by at least the threshold (moved and back is no move)."""
    if news.eta_before is None or now.eta is None:
        return news.eta_before != now.eta
    return abs((now.eta - news.eta_before).days) >= rules.eta_threshold_days


def long_delay(news: WindowNews, now: Now, head: str, rules: Rules) -> bool:
    """The ETA now lies more than the limit beyond the first date promised, and this window is when it got
    there (the backorder is new, or its ETA moved): the message offers the customer their options."""
    if not (now.active and now.waiting_quantity and now.eta and now.promised_date):
        return False
    if head not in ("created", "eta_later", "partially_allocated", "partly_cancelled", "substitute_offered"):
        return False
    return (now.eta - now.promised_date).days > rules.long_delay_days and (news.created or news.eta_changed)


def compose(changes: list[Change], now: dict[str, Now], rules: Rules) -> list[Item]:
    """The items of a digest: the backorders the window changed with something to say, each told as it is now
    (a backorder no longer found says nothing)."""
    items = []
    for backorder_id, news in window_news(changes).items():
        state = now.get(backorder_id)
        if state is None:
            continue
        head = headline(news, state, rules)
        if head is None:
            continue
        delayed = long_delay(news, state, head, rules)
        items.append(Item(news=news, now=state, headline="long_delay" if delayed and head == "eta_later" else head,
                          long_delay=delayed))
    return items


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
