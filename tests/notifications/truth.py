"""What a message to a customer must say, checked against the backorders as they are when it goes: the
example's own shop the truth properties build (test_digest_truth.py: a digest composed at its window's end;
test_send_time_truth.py: every message worded when it is sent), and the readers of an email's items."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar

from domain.allocation import AllocationPolicy
from domain.model import Backorder, Channel
from domain.services import CustomerDetails, LineRequest, ProductInput
from domain.store import queries as q
from notifications import wording
from notifications.i18n import format_day

ACTIVE = ("WAITING", "PARTIALLY_ALLOCATED", "ALLOCATED")


@dataclass
class Example:
    """One example's shop inside a database the examples share: P{n}, a lamp from a supplier of its own with a
    purchase order of 3 due in 8 days, S{n} its substitute (50 on the shelf), and its customers' orders. It
    reads only what reaches its own customers."""

    shop: Any
    n: int
    po: str
    orders: list[Any] = field(default_factory=list)
    letter: ClassVar[str] = "c"  # of its customers' addresses: c{n}-0@example.com, ...

    @property
    def sku(self) -> str:
        return f"P{self.n}"

    def email(self, who: int) -> str:
        return f"{self.letter}{self.n}-{who}@example.com"

    async def backorders(self) -> list[Backorder]:
        ids = [line.backorder_id for o in self.orders for line in o.lines if line.backorder_id]
        found = await q.backorders_by_id(ids)
        return [found[i] for i in ids if i in found]


async def desk_change(world: Example, op: tuple[Any, ...], backorders: list[Backorder]) -> bool:
    """The desk's changes both properties draw, applied to the example: ("order", who, units) by customer `who`,
    ("receive", units), ("substitute", index) taken for a backorder, ("po_date", days from today) for the
    purchase order, ("ship", index) of an order's allocated units. False when `op` is none of these (each
    property applies its own); a DomainError is the desk refusing it."""
    desk = world.shop.desk
    match op:
        case ("order", who, quantity):
            world.orders.append(await desk.place_order(
                CustomerDetails(world.email(who), "Ann"), Channel.ONLINE, [LineRequest(world.sku, quantity)]))
        case ("receive", quantity):
            await desk.receive_stock(world.sku, quantity)
        case ("substitute", index):
            if backorders:
                await desk.accept_substitute(backorders[index % len(backorders)].id, f"S{world.n}")
        case ("po_date", days):
            await desk.update_purchase_order(world.po, expected_date=world.shop.clock.today() + timedelta(days=days))
        case ("ship", index):
            if world.orders:
                await desk.ship_allocated(world.orders[index % len(world.orders)].id)
        case _:
            return False
    return True


async def example_catalogue(shop: Any, n: int, po_number: str,
                            share: tuple[int | None, int | None] | None = None) -> str:
    """Example n's products and purchase order (see `Example`); `share`: hand out arriving stock by fair share,
    with this (minimum, customer cap), instead of strictly in queue order. Returns the purchase order's id."""
    desk = shop.desk
    supplier = await desk.upsert_supplier(None, f"Supplier {n}", 20)
    await desk.upsert_product(ProductInput(sku=f"S{n}", name=f"Brass lamp {n}", price=Decimal("34"), currency="GBP"))
    minimum, cap = share or (None, None)
    await desk.upsert_product(ProductInput(
        sku=f"P{n}", name=f"Anglepoise lamp {n}", price=Decimal("29.50"), currency="GBP", substitutes=(f"S{n}",),
        supplier_id=supplier.id, allocation_policy=AllocationPolicy.FAIR_SHARE if share else AllocationPolicy.PRIORITY,
        fair_share_minimum=minimum, customer_cap_per_receipt=cap))
    await desk.receive_stock(f"S{n}", 50)
    po = await desk.create_purchase_order(supplier.id, shop.clock.today() + timedelta(days=8),
                                          [LineRequest(f"P{n}", 3)], number=po_number)
    return str(po.id)


FACT = re.compile(r"^(\d+) (shipped|set aside for you|still on backorder|replaced by .+|cancelled)$")
SMS_FACT = re.compile(r"^(\d+) (shipped|ready|waiting(?:, exp\. (.+))?|replaced(?:, you pay (.+))?|cancelled)$")


def expected_facts(b: Backorder) -> dict[str, int]:
    """What a message must state of `b` now: each of its quantities that is not nought, by the words for it."""
    active = b.status.value in ACTIVE
    numbers = {"shipped": b.shipped_quantity, "set aside for you": b.held_quantity if active else 0,
               "still on backorder": b.waiting_quantity if active else 0, "replaced": b.substituted_quantity,
               "cancelled": b.cancelled_quantity}
    return {k: v for k, v in numbers.items() if v}


QUEUE = re.compile(r"You are (?:next|(\d+)(?:st|nd|rd|th)) in line: (no|\d+) orders? (?:is |are )?(?:waiting )?"
                   r"(placed before yours|before yours|ahead of yours)(?: is| are)?(?: waiting)?\.")
SHARED = " Arriving stock is shared out: every waiting order gets a share first."


def _placed_before(b: Backorder, queue: list[Backorder]) -> int:
    """Of those ahead of `b` in its queue now, how many were ordered before it (counted here, not by the store)."""
    assert b.queue_position is not None
    return sum(1 for o in queue if o.sku == b.sku and o.queue_position is not None
               and o.queue_position < b.queue_position and o.ordered_at < b.ordered_at)


def check_email(text: str, by_order: dict[str, Backorder], before: dict[str, str],
                 fair_share: bool = False) -> list[str]:
    """Every item of the email against its backorder now; returns the order numbers it spoke of."""
    seen = []
    queue = list(by_order.values())
    for block in text.split("\n* ")[1:]:
        lines = [line.strip() for line in block.split("\n\n")[0].splitlines()]
        number = re.fullmatch(r".+ \(order (\S+)\)", lines[0]).group(1)  # type: ignore[union-attr]
        b = by_order[number]
        seen.append(number)
        status, waiting = b.status.value, (b.waiting_quantity if b.status.value in ACTIVE else 0)
        facts: dict[str, int] = {}
        queue_sentence = eta = None
        for line in lines[2:]:
            if line.startswith("Now: "):
                for fact in line.removeprefix("Now: ").removesuffix(".").split("; "):
                    count, what = FACT.fullmatch(fact).groups()  # type: ignore[union-attr]
                    facts["replaced" if what.startswith("replaced") else what] = int(count)
            elif line.startswith("You are "):
                queue_sentence = line
            elif found := re.fullmatch(r"Expected: (.+?)( \(.+\))?\.", line):
                eta = found.group(1)
        assert facts == expected_facts(b), (number, status, lines)
        # the portal's queueExplanation, from the queue as it is when the digest is sent: the place now, and how
        # many of those ahead now were ordered before it
        if waiting and b.queue_position:
            placed_before = _placed_before(b, queue)
            in_turn = placed_before == b.queue_position - 1
            assert queue_sentence == wording.queue_explanation(b.queue_position, in_turn,
                                                               fair_share=fair_share, language="en"), (number, lines)
            # and read back apart from the wording module: a fair-share queue says so, nothing else does ...
            assert queue_sentence.endswith(SHARED) == fair_share, (number, queue_sentence)
            found = QUEUE.fullmatch(queue_sentence.removesuffix(SHARED))
            assert found, queue_sentence
            assert (int(found.group(1)) if found.group(1) else 1) == b.queue_position, (number, lines)
            assert (0 if found.group(2) == "no" else int(found.group(2))) == b.queue_position - 1, (number, lines)
            # ... and "placed before yours" only when every order ahead was placed before it (one moved ahead by
            # an agent was not): otherwise "ahead of yours"
            if found.group(3) == "placed before yours":
                assert placed_before == b.queue_position - 1, (number, queue_sentence)
            elif found.group(3) == "ahead of yours":
                assert placed_before < b.queue_position - 1, (number, queue_sentence)
        else:
            assert queue_sentence is None, (number, lines)
        assert eta == (format_day(b.eta.date, "en") if waiting and b.eta else None), (number, lines)
        sentence = lines[1]
        said = {k for k, v in wording.HEADLINES.items() if sentence.startswith(v.split("{")[0])}
        assert said, sentence
        if status != before.get(b.id) and status in ("CANCELLED", "SHIPPED", "SUBSTITUTED", "ALLOCATED"):
            assert said & {"CANCELLED": {"cancelled", "cancelled_customer", "cancelled_shop"},
                           "SHIPPED": {"shipped"}, "SUBSTITUTED": {"substituted"},
                           "ALLOCATED": {"allocated", "released"}}[status], (status, sentence)
        if "created" in said or "eta_later" in said or "eta_earlier" in said:
            assert waiting, (status, sentence)  # never "on backorder" or a new date when nothing waits
        if said <= {"allocated", "released"}:
            assert status == "ALLOCATED", (status, sentence)
        if said <= {"shipped"}:
            assert status == "SHIPPED", (status, sentence)
    return seen
