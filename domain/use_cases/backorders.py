"""Backorder use cases: cancel, substitutes offered and accepted, an agent's reprioritisation (and its preview).
"""

from __future__ import annotations

from domain import events as ev
from domain.causes import Actor, Cause, CauseKind, RequestedBy
from domain.commands import AllocationPreviewLine
from domain.errors import ErrorCode, InvalidState, SubstituteError
from domain.limits import MAX_TEXT_LENGTH, check_text
from domain.model import Backorder, Behind, OrderLine, SkuInventory, check_sku, new_id
from domain.ports import UnitOfWork
from domain.pricing import substitute_price
from domain.use_cases.shared import Deps, get_backorder, in_queue, save, watch


async def cancel_backorder(deps: Deps, backorder_id: str, quantity: int | None = None, *, by: str = "customer",
                           reason: str = "", requested_by: RequestedBy | None = None) -> Backorder:
    """`by`: "customer" (their own cancel) or the agent's name; an agent says whether the customer asked
    (`requested_by`), so the customer is told "as you asked" or "we had to", never a guess."""
    now = deps.clock.now()
    reason = check_text(reason, "reason", max_length=MAX_TEXT_LENGTH, multiline=True, what="a reason")
    async with deps.uow() as uow:
        backorder = await get_backorder(uow, backorder_id)
        # behind a receipt's range still pending, the cancel does not wait for its fold (`lock_skus`)
        await uow.lock_skus([backorder.sku], behind={backorder.sku: Behind(backorder_id)})
        inventory = await uow.inventory(backorder.sku)
        backorder = in_queue(inventory, backorder_id)
        inventory.cancel(backorder, quantity, now, by=by, reason=reason.strip(), requested_by=requested_by)
        inventory.settle(now, Cause(kind=CauseKind.QUEUE_CANCELLATION, reference=backorder.sku))
        await save(uow, inventory)
        await uow.commit()
        return backorder


async def accept_substitute(deps: Deps, backorder_id: str, substitute_sku: str) -> tuple[Backorder, OrderLine]:
    now = deps.clock.now()
    substitute_sku = check_sku(substitute_sku, "substitute_sku")
    async with deps.uow() as uow:
        backorder = await get_backorder(uow, backorder_id)
        product = await uow.get_product(backorder.sku)
        if product is None or substitute_sku not in product.substitutes:
            raise SubstituteError(f"{substitute_sku} is not a substitute for {backorder.sku}",
                                  field="substitute_sku", code=ErrorCode.NOT_A_SUBSTITUTE)
        await uow.lock_skus(sorted({backorder.sku, substitute_sku}))
        original = await uow.inventory(backorder.sku)
        backorder = in_queue(original, backorder_id)
        if backorder.waiting_quantity == 0:
            raise InvalidState("nothing is waiting on this backorder: it is fully allocated",
                               field="backorder_id")
        backorder.require_substitute_wanted(substitute_sku, offer=False)
        replacement = await uow.inventory(substitute_sku)
        order = await uow.get_order(backorder.order_id)
        assert order is not None
        # priced in the order line's currency: converted at the shop's rate when the substitute is priced in
        # another, refused (NO_EXCHANGE_RATE) when there is no rate (domain.pricing states the rule)
        ordered_price = order.line(backorder.order_line_id).unit_price
        offered_price = replacement.product.price
        rate = (await uow.get_exchange_rate(offered_price.currency, ordered_price.currency)
                if offered_price.currency != ordered_price.currency else None)
        price = substitute_price(ordered_price, offered_price, {rate.pair: rate} if rate else {})
        line = OrderLine(id=new_id(), order_id=order.id, sku=substitute_sku,
                         quantity=backorder.waiting_quantity, unit_price=price.converted,
                         substitute_for=backorder.id, list_price=offered_price if price.rate else None,
                         exchange_rate=price.rate)
        replacement.reserve_for_substitute(line, now.date())
        original.substitute_out(backorder, now, substitute_sku, line.id)
        order.lines.append(line)
        await uow.save_order(order)
        original.settle(now, Cause(kind=CauseKind.QUEUE_SUBSTITUTE, reference=substitute_sku))
        replacement.settle(now, Cause(kind=CauseKind.SUBSTITUTE_TAKEN, reference=backorder.sku))
        await save(uow, original)
        await save(uow, replacement)
        await uow.commit()
        return backorder, line


async def reprioritize_backorder(deps: Deps, backorder_id: str, priority: int, reason: str, agent: str) -> Backorder:
    async with deps.uow() as uow:
        inventory, backorder, _ = await _reprioritization(deps, uow, backorder_id, priority, reason, agent)
        await save(uow, inventory)
        await uow.commit()
        return backorder


async def preview_reprioritization(deps: Deps, backorder_id: str, priority: int,
                                   agent: str = "preview") -> list[AllocationPreviewLine]:
    """What reprioritize_backorder would do, without writing anything (as preview_receipt)."""
    async with deps.uow() as uow:
        inventory, _, lines = await _reprioritization(deps, uow, backorder_id, priority, "preview", agent,
                                                           preview=True)
        inventory.check_invariants()
        return lines  # no commit: nothing is saved and no event leaves


async def offer_substitute(deps: Deps, backorder_id: str, substitute_sku: str, agent: str) -> Backorder:
    """An agent suggests an alternative to a waiting customer; the customer decides (accept_substitute)."""
    now = deps.clock.now()
    substitute_sku = check_sku(substitute_sku, "substitute_sku")
    async with deps.uow() as uow:
        # under the SKU's lock, as the other writers about a backorder: else offered on a backorder a receipt or a
        # cancel had just closed
        await uow.lock_skus([(await get_backorder(uow, backorder_id)).sku])
        backorder = await get_backorder(uow, backorder_id)
        backorder.require_active()
        if backorder.waiting_quantity == 0:
            raise InvalidState("nothing is waiting on this backorder: it is fully allocated", field="backorder_id")
        product = await uow.get_product(backorder.sku)
        if product is None or substitute_sku not in product.substitutes:
            raise SubstituteError(f"{substitute_sku} is not listed as a substitute for {backorder.sku}",
                                  field="substitute_sku", code=ErrorCode.NOT_A_SUBSTITUTE)
        backorder.require_substitute_wanted(substitute_sku, offer=True)
        uow.add_events([ev.SubstituteOffered(occurred_at=now, backorder_id=backorder.id,
                                             order_id=backorder.order_id, sku=backorder.sku,
                                             customer_email=backorder.customer_email,
                                             substitute_sku=substitute_sku)])
        await uow.commit()
        return backorder


async def _reprioritization(deps: Deps, uow: UnitOfWork, backorder_id: str, priority: int, reason: str, agent: str,
                            preview: bool = False) -> tuple[SkuInventory, Backorder, list[AllocationPreviewLine]]:
    """An agent's override of the queue: the one change both reprioritize_backorder and its preview run."""
    now = deps.clock.now()
    backorder = await get_backorder(uow, backorder_id)
    # behind a receipt's range still pending, before and after, it does not wait for its fold (`lock_skus`)
    await uow.lock_skus([backorder.sku], behind={backorder.sku: Behind(backorder_id, priority)})
    inventory = await uow.inventory(backorder.sku)
    backorder = in_queue(inventory, backorder_id)
    lines = watch(inventory, now.date(), preview)
    inventory.reprioritize(backorder, priority, reason, agent, now)
    inventory.settle(now, Cause(kind=CauseKind.QUEUE_REPRIORITIZED, actor=Actor.AGENT, agent=agent))
    return inventory, backorder, lines()
