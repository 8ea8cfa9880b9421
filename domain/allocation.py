"""Who gets arriving stock: the priority policy and the pure allocate() over the waiting queue.

The default policy is first come, first served by order time. A shop can weigh in customer tier,
urgency (how close the promised date is) and order size, as retail allocation practice does; an
agent's explicit priority override always comes first. Every allocation says why it was made.

A product may instead share scarce stock fairly (FAIR_SHARE): each waiting backorder first gets up to a
minimum, the rest goes in queue order, and no customer gets more than a cap from one receipt while another
customer's backorder still waits for units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum

DEFAULT_TIER_SCORES: Mapping[str, float] = {"STANDARD": 0.0, "VIP": 1.0}


@dataclass(frozen=True)
class Claim:
    """What the allocator needs to know about one waiting backorder."""

    backorder_id: str
    ordered_at: datetime
    waiting_quantity: int
    tier: str = "STANDARD"
    promised_date: date | None = None
    priority_override: int = 0
    order_quantity: int = 1
    customer: str = ""  # who the backorder is for (the per-customer cap counts units by it)


class AllocationPolicy(str, Enum):
    """How one product's arriving stock is handed to its queue."""

    PRIORITY = "PRIORITY"  # strictly in queue order: the first waits for nothing before the second gets a unit
    FAIR_SHARE = "FAIR_SHARE"  # each waiting backorder first gets up to a minimum, the rest in queue order


@dataclass(frozen=True)
class ShareRule:
    """A product's allocation policy with its settings.

    `minimum`: under FAIR_SHARE, the units each waiting backorder gets before anyone gets more; None means an
    equal share of what arrives (units // backorders waiting, at least 1).
    `customer_cap`: under FAIR_SHARE, at most this many units of one receipt per customer, as long as
    another customer's backorder still waits for units (never units left on the shelf while someone waits).
    """

    policy: AllocationPolicy = AllocationPolicy.PRIORITY
    minimum: int | None = None
    customer_cap: int | None = None


BY_PRIORITY = ShareRule()


@dataclass(frozen=True)
class PriorityPolicy:
    """Weights of the priority score. All zero means pure first come, first served.

    score = tier_weight * tier_score
          + urgency_weight * urgency          (1 when overdue or due today, 1/(1+days) before)
          + size_weight * size                (1/order_quantity: a positive weight favours small orders,
                                               so more customers are completed; negative favours large)
    Higher score first; an agent's priority override outranks any score; ties keep order time.
    """

    tier_weight: float = 0.0
    urgency_weight: float = 0.0
    size_weight: float = 0.0
    tier_scores: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TIER_SCORES))

    @property
    def is_fifo(self) -> bool:
        return self.tier_weight == 0 and self.urgency_weight == 0 and self.size_weight == 0

    def components(self, claim: Claim, today: date) -> dict[str, float]:
        parts: dict[str, float] = {}
        if self.tier_weight:
            parts["tier"] = self.tier_weight * self.tier_scores.get(claim.tier, 0.0)
        if self.urgency_weight and claim.promised_date is not None:
            days_left = (claim.promised_date - today).days
            parts["urgency"] = self.urgency_weight * (1.0 if days_left <= 0 else 1.0 / (1 + days_left))
        if self.size_weight:
            parts["size"] = self.size_weight * (1.0 / max(1, claim.order_quantity))
        return parts

    def score(self, claim: Claim, today: date) -> float:
        return round(sum(self.components(claim, today).values()), 9)

    def sort_key(self, claim: Claim, today: date) -> tuple[int, float, datetime, str]:
        return (-claim.priority_override, -self.score(claim, today), claim.ordered_at, claim.backorder_id)


FIRST_COME_FIRST_SERVED = PriorityPolicy()


@dataclass(frozen=True)
class Allocation:
    backorder_id: str
    quantity: int
    rank: int
    reason: str


def rank(claims: Iterable[Claim], policy: PriorityPolicy, today: date) -> list[Claim]:
    """The queue in the order it is served."""
    if policy.is_fifo:  # every score is 0: the same order as sort_key, without computing it per claim
        return sorted(claims, key=lambda c: (-c.priority_override, c.ordered_at, c.backorder_id))
    return sorted(claims, key=lambda c: policy.sort_key(c, today))


def explain(claim: Claim, position: int, size: int, policy: PriorityPolicy, today: date) -> str:
    why = [f"queue position {position} of {size}"]
    if claim.priority_override:
        why.append(f"agent priority {claim.priority_override:+d}")
    parts = policy.components(claim, today)
    if parts:
        detail = " + ".join(f"{name} {value:.2f}" for name, value in parts.items())
        why.append(f"score {policy.score(claim, today):.2f} ({detail})")
    why.append(f"ordered {_to_the_second(claim.ordered_at)} UTC")
    if policy.is_fifo and not claim.priority_override:
        why.insert(1, "first come, first served")
    return "; ".join(why)


def _to_the_second(at: datetime) -> str:
    """`at` as YYYY-MM-DD HH:MM:SS. isoformat is 2.5x quicker than strftime, which a receipt calls for each of the
    backorders it serves (100k: 0.4 s more holding the interpreter's lock that the event loop waits for); the two
    differ only before the year 1000 (strftime does not pad the year)."""
    return at.isoformat(" ", "seconds")[:19] if at.year >= 1000 else at.strftime("%Y-%m-%d %H:%M:%S")


def allocate(supply: int, claims: Sequence[Claim], policy: PriorityPolicy, today: date,
             share: ShareRule = BY_PRIORITY) -> list[Allocation]:
    """Hand `supply` units to the queue: strictly in priority order, or shared fairly (`share`).

    PRIORITY: each claim gets min(what it waits for, what is left); nobody later in the queue gets a unit
    while someone earlier still waits. Never more than `supply` in total, never more than a claim asks.
    """
    if supply < 0:
        raise ValueError("supply cannot be negative")
    ordered = rank((c for c in claims if c.waiting_quantity > 0), policy, today)
    if share.policy is AllocationPolicy.FAIR_SHARE:
        return _fair_share(supply, ordered, policy, today, share)
    result: list[Allocation] = []
    left = supply
    for position, claim in enumerate(ordered, start=1):
        if left == 0:
            break
        take = min(left, claim.waiting_quantity)
        left -= take
        why = explain(claim, position, len(ordered), policy, today)
        result.append(Allocation(claim.backorder_id, take, position, why))
    return result


def fair_shares(supply: int, ordered: Sequence[Claim], share: ShareRule) -> dict[str, int]:
    """Units per backorder under FAIR_SHARE, for claims already in queue order.

    Three passes in queue order: (1) each gets up to the minimum, (2) the rest up to what each waits for,
    both within the per-customer cap; (3) only when every claim still waiting belongs to a customer at the
    cap, what is left goes on in queue order (the cap spreads stock across customers; it never leaves units
    on the shelf while someone waits).
    """
    return share_out(supply, [c.backorder_id for c in ordered], {c.backorder_id: c.waiting_quantity for c in ordered},
                     {c.backorder_id: c.customer for c in ordered}, share)


def share_out(supply: int, ordered: Sequence[str], waiting: Mapping[str, int], customers: Mapping[str, str],
              share: ShareRule) -> dict[str, int]:
    """`fair_shares` on plain values: backorder ids in queue order (each waiting for at least one unit), what each
    waits for and whose it is. The ETA projection shares every receipt still to come through this very function
    without building a Claim per backorder per receipt."""
    if not ordered or supply <= 0:
        return {}
    minimum = share.minimum if share.minimum is not None else max(1, supply // len(ordered))
    cap = share.customer_cap
    given: dict[str, int] = {}
    per_customer: dict[str, int] = {}
    left = supply
    for up_to_minimum, capped in ((True, True), (False, True), (False, False)):
        for key in ordered:
            if left == 0:
                break
            has = given.get(key, 0)
            wants = waiting[key]
            room = min((minimum if up_to_minimum else wants) - has, wants - has, left)
            if capped and cap is not None:
                room = min(room, cap - per_customer.get(customers[key], 0))
            if room > 0:
                given[key] = has + room
                per_customer[customers[key]] = per_customer.get(customers[key], 0) + room
                left -= room
    return given


def _fair_share(supply: int, ordered: list[Claim], policy: PriorityPolicy, today: date,
                share: ShareRule) -> list[Allocation]:
    shares = fair_shares(supply, ordered, share)
    minimum = share.minimum if share.minimum is not None else max(1, supply // max(1, len(ordered)))
    rule = f"fair share: up to {minimum} each of {len(ordered)} waiting first, the rest in queue order"
    if share.customer_cap is not None:
        rule += f", at most {share.customer_cap} a customer while others wait"
    result: list[Allocation] = []
    for position, claim in enumerate(ordered, start=1):
        units = shares.get(claim.backorder_id, 0)
        if units:
            why = explain(claim, position, len(ordered), policy, today)
            result.append(Allocation(claim.backorder_id, units, position, f"{rule}; {why}"))
    return result
