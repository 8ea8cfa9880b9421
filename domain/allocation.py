"""Who gets arriving stock: the priority policy and the pure allocate() over the waiting queue.

The default policy is first come, first served by order time. A shop can weigh in customer tier,
urgency (how close the promised date is) and order size, as retail allocation practice does; an
agent's explicit priority override always comes first. Every allocation says why it was made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

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
    why.append(f"ordered {claim.ordered_at.strftime('%Y-%m-%d %H:%M:%S')} UTC")
    if policy.is_fifo and not claim.priority_override:
        why.insert(1, "first come, first served")
    return "; ".join(why)


def allocate(supply: int, claims: Sequence[Claim], policy: PriorityPolicy, today: date) -> list[Allocation]:
    """Hand `supply` units to the queue strictly in priority order.

    Each claim gets min(what it waits for, what is left); nobody later in the queue gets a unit while
    someone earlier still waits. Never more than `supply` in total, never more than a claim asks.
    """
    if supply < 0:
        raise ValueError("supply cannot be negative")
    ordered = rank((c for c in claims if c.waiting_quantity > 0), policy, today)
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
