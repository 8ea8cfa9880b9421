"""An agent gives a waiting customer goodwill: a credit in the order's currency and/or a discount code, with a
note. Kept in its own table, recorded in the backorder's history (GOODWILL, the agent as actor) and announced by
a GoodwillOffered event (live updates, webhooks, the customer's digest). Under the SKU's lock, as every writer of
a backorder's history: without it, a gesture checked the backorder was active, a cancel (or the receipt that
served it) committed, and the gesture was then recorded on a closed backorder, after its end in its history."""

from __future__ import annotations

from decimal import Decimal

from domain import events as ev
from domain.causes import Actor, Cause, CauseKind
from domain.goodwill import Goodwill, check_credit, check_discount_code, check_note, require_something
from domain.model import Backorder, HistoryEntry, new_id
from domain.use_cases.shared import Deps, get_backorder


async def offer_goodwill(deps: Deps, backorder_id: str, *, credit_amount: Decimal | str | None,
                         credit_currency: str | None, discount_code: str | None, note: str,
                         agent: str) -> tuple[Backorder, Goodwill]:
    """Every input is checked before anything is written; a refusal writes nothing."""
    now = deps.clock.now()
    code = check_discount_code(discount_code)
    text = check_note(note)
    require_something(credit_amount, code)
    async with deps.uow() as uow:
        sku = (await get_backorder(uow, backorder_id)).sku
        await uow.lock_skus([sku])
        backorder = await get_backorder(uow, backorder_id)  # as the SKU's last writer left it
        backorder.require_active()
        credit = None
        if credit_amount is not None:
            order = await uow.get_order(backorder.order_id)
            assert order is not None
            paid = order.line(backorder.order_line_id).unit_price
            credit = check_credit(credit_amount, credit_currency or "", order_currency=paid.currency,
                                  most=paid.amount * backorder.original_quantity)
        goodwill = Goodwill(id=new_id(), backorder_id=backorder.id, at=now, agent=agent, credit=credit,
                            discount_code=code, note=text)
        credit_text = f"{credit.amount} {credit.currency}" if credit else None
        entry = HistoryEntry(now, "GOODWILL", None, credit_text or code, Cause(
            kind=CauseKind.GOODWILL, actor=Actor.AGENT, agent=agent, reference=code, new=credit_text))
        await uow.record_goodwill(backorder, goodwill, entry)
        uow.add_events([ev.GoodwillOffered(
            occurred_at=now, backorder_id=backorder.id, order_id=backorder.order_id, sku=backorder.sku,
            customer_email=backorder.customer_email, goodwill_id=goodwill.id,
            credit_amount=str(credit.amount) if credit else None, credit_currency=credit.currency if credit else None,
            discount_code=code, agent=agent)])
        await uow.commit()
        backorder.history.append(entry)
        return backorder, goodwill
