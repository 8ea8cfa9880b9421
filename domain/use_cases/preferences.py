"""Customer-owned preferences (issue 13): a backorder's "cancel if not by" date and substitute consent, declining
a substitute, and taking a substitute for a customer who consented in advance; and how a customer is told
(`set_notification_preferences`, by them or by an agent on their word, within their recorded consent). The
automatic cancel itself is the aggregate's (`SkuInventory.settle`), so every use case that moves an ETA applies it
under the SKU's lock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from domain import events as ev
from domain.causes import Actor, Cause, CauseKind
from domain.customers import AUDITED, NotificationPreferences, agent_may_change, preference_changes
from domain.errors import ErrorCode, InvalidInput, NotFound, SubstituteError
from domain.model import Backorder, Behind, Order, OrderLine, SkuInventory, check_email, check_sku, new_id
from domain.ports import UnitOfWork
from domain.preferences import (
    KEEP,
    Candidate,
    Keep,
    SubstituteConsent,
    check_cancel_if_not_by,
    choose_substitute,
    customer_today,
)
from domain.pricing import PriceComparison, compare_prices
from domain.use_cases.shared import Deps, get_backorder, in_queue, save


async def set_backorder_preferences(deps: Deps, backorder_id: str, *, cancel_if_not_by: date | None | Keep = KEEP,
                                    substitutes: SubstituteConsent | None = None,
                                    by: str = "customer") -> Backorder:
    """Set what the customer chose for one backorder (`KEEP`/None: leave as it is; a None date clears it). A
    consent to take substitutes is acted on at once when one is in stock."""
    now = deps.clock.now()
    if isinstance(cancel_if_not_by, Keep) and substitutes is None:
        raise InvalidInput("nothing to change: give a latest date or a choice about substitutes", field="changes")
    if substitutes is not None and not isinstance(substitutes, SubstituteConsent):
        raise InvalidInput("substitutes is one of NEVER, ASK, SAME_PRICE_OR_LOWER, ANY_LISTED", field="substitutes")
    async with deps.uow() as uow:
        backorder = await get_backorder(uow, backorder_id)
        backorder.require_active()
        product = await uow.get_product(backorder.sku)
        extra = product.substitutes if product is not None and substitutes and substitutes.automatic else []
        locked = {backorder.sku, *extra}
        # behind a receipt's range still pending, it does not wait for its fold (`lock_skus`)
        await uow.lock_skus(sorted(locked), behind={backorder.sku: Behind(backorder_id)})
        original = await uow.inventory(backorder.sku)
        backorder = in_queue(original, backorder_id)
        latest = backorder.cancel_if_not_by
        if not isinstance(cancel_if_not_by, Keep):
            # the date is the customer's: "already passed" and, from now on, the cancel are judged in their zone
            backorder.customer_timezone = (await uow.backorder_defaults(backorder.customer_email)).timezone
            waiting_eta = backorder.eta.date if backorder.eta and backorder.waiting_quantity else None
            latest = check_cancel_if_not_by(cancel_if_not_by, customer_today(now, backorder.customer_timezone),
                                            waiting_eta)
        original.set_preferences(backorder, latest, substitutes or backorder.substitute_consent, now, by=by)
        replacement = await take_consented_substitute(uow, original, backorder, now, locked)
        original.settle(now, Cause(kind=CauseKind.QUEUE_SUBSTITUTE, reference=replacement.sku) if replacement
                        else Cause(kind=CauseKind.PREFERENCES_CHANGED))
        await save(uow, original)
        if replacement is not None:
            await save(uow, replacement)
        await uow.commit()
        return backorder


async def decline_substitute(deps: Deps, backorder_id: str, substitute_sku: str, *, by: str = "customer") -> Backorder:
    """The customer (or an agent for them) says no to a substitute: never offered again for this backorder."""
    now = deps.clock.now()
    substitute_sku = check_sku(substitute_sku, "substitute_sku")
    async with deps.uow() as uow:
        backorder = await get_backorder(uow, backorder_id)
        backorder.require_active()
        product = await uow.get_product(backorder.sku)
        if product is None or substitute_sku not in product.substitutes:
            raise SubstituteError(f"{substitute_sku} is not a substitute for {backorder.sku}",
                                  field="substitute_sku", code=ErrorCode.NOT_A_SUBSTITUTE)
        await uow.lock_skus([backorder.sku])
        inventory = await uow.inventory(backorder.sku)
        backorder = in_queue(inventory, backorder_id)
        inventory.decline_substitute(backorder, substitute_sku, now, by=by)
        await save(uow, inventory)
        await uow.commit()
        return backorder


async def take_consented_substitute(uow: UnitOfWork, original: SkuInventory, backorder: Backorder,
                                    now: datetime, locked: set[str], order: Order | None = None,
                                    ) -> SkuInventory | None:
    """If the customer consented in advance and a listed substitute can fill every waiting unit now, take it
    for them (as accept_substitute does) and return the substitute's aggregate, settled; else None. The
    caller holds the lock of the backorder's SKU (`locked`: every SKU it holds) and settles `original`; given
    the `order` (being placed), the caller saves it too."""
    if not backorder.substitute_consent.automatic or not backorder.is_active or backorder.waiting_quantity == 0:
        return None
    product = original.product
    if not set(product.substitutes) <= locked:  # the list changed since it was read to lock: lock the rest too
        locked |= set(product.substitutes)
        await uow.lock_skus(sorted(locked))
    candidates: list[Candidate] = []
    prices: dict[str, PriceComparison] = {}
    today = now.date()
    target = order if order is not None else await uow.get_order(backorder.order_id)
    assert target is not None
    # what they pay for the item (their order line's price, in the order's currency), not the catalogue's price
    # today: the shop may have changed it since they ordered
    ordered = target.line(backorder.order_line_id).unit_price
    await uow.load_inventories(product.substitutes)
    for sku in product.substitutes:
        if sku in backorder.declined_substitutes:
            continue
        try:
            other = await uow.inventory(sku)
        except NotFound:  # a listed substitute since removed from the catalogue: not a candidate
            continue
        # compared, and taken, only in the order's currency (domain.pricing): one priced in another currency with
        # no shop rate cannot be said in it, so it is no candidate (an order never mixes currencies)
        offered = other.product.price
        rate = (await uow.get_exchange_rate(offered.currency, ordered.currency)
                if offered.currency != ordered.currency else None)
        price = compare_prices(ordered, offered, {rate.pair: rate} if rate else {})
        if price is None:
            continue
        prices[sku] = price
        candidates.append(Candidate(sku, price.converted.amount, price.converted.currency,
                                    other.available_to_promise, released=not other.product.is_preorder(today)))
    chosen = choose_substitute(backorder.substitute_consent, price=ordered.amount,
                               currency=ordered.currency, needed=backorder.waiting_quantity,
                               listed=product.substitutes, declined=backorder.declined_substitutes,
                               candidates=candidates)
    if chosen is None:
        return None
    replacement = await uow.inventory(chosen)
    _substitute(target, original, replacement, backorder, now, prices[chosen])
    if order is None:
        await uow.save_order(target)
    replacement.settle(now, Cause(kind=CauseKind.SUBSTITUTE_TAKEN, reference=backorder.sku))
    return replacement


def _substitute(order: Order, original: SkuInventory, replacement: SkuInventory, backorder: Backorder,
                now: datetime, price: PriceComparison) -> None:
    line = OrderLine(id=new_id(), order_id=order.id, sku=replacement.sku, quantity=backorder.waiting_quantity,
                     unit_price=price.converted, substitute_for=backorder.id,
                     list_price=price.substitute if price.rate else None, exchange_rate=price.rate)
    replacement.reserve_for_substitute(line, now.date())
    original.substitute_out(backorder, now, replacement.sku, line.id, actor=Actor.SYSTEM)
    order.lines.append(line)


async def substitute_new_backorders(uow: UnitOfWork, order: Order, inventories: list[SkuInventory],
                                    new: list[Backorder], now: datetime, locked: set[str]) -> list[SkuInventory]:
    """At placement, after the order's SKUs are settled: a new backorder whose customer consents in advance takes
    a substitute in stock at once. Returns the substitutes' aggregates it changed (the caller saves them)."""
    by_sku = {inventory.sku: inventory for inventory in inventories}
    changed: list[SkuInventory] = []
    for backorder in new:
        original = by_sku[backorder.sku]
        replacement = await take_consented_substitute(uow, original, backorder, now, locked, order)
        if replacement is not None:
            original.settle(now, Cause(kind=CauseKind.QUEUE_SUBSTITUTE, reference=replacement.sku))
            changed.append(replacement)
    return changed


async def apply_substitute_consents(deps: Deps, arrived: Sequence[str] | None = None) -> list[str]:
    """The worker's pass: every waiting backorder whose customer consented to a substitute in advance gets one
    when a listed substitute can fill it now (with `arrived`, stock of those SKUs just came: only the backorders
    whose product lists one of them). One short transaction each, under the locks of its SKU and the
    substitutes; safe with any number of workers (the second finds it no longer waiting). Returns the
    backorders substituted."""
    async with deps.uow() as uow:
        waiting = await uow.waiting_with_substitute_consent()
        listing: dict[str, list[str]] = {}
        for sku in dict.fromkeys(sku for _, sku in waiting):
            product = await uow.get_product(sku)
            listing[sku] = product.substitutes if product is not None else []
    wanted = set(arrived) if arrived is not None else None
    done: list[str] = []
    for backorder_id, sku in waiting:
        if not listing.get(sku) or (wanted is not None and not wanted & set(listing[sku])):
            continue
        async with deps.uow() as uow:
            product = await uow.get_product(sku)
            if product is None or not product.substitutes:
                continue
            locked = {sku, *product.substitutes}
            await uow.lock_skus(sorted(locked))
            original = await uow.inventory(sku)
            backorder = original.queue.get(backorder_id)
            if backorder is None:
                continue
            now = deps.clock.now()
            replacement = await take_consented_substitute(uow, original, backorder, now, locked)
            if replacement is None:
                continue
            original.settle(now, Cause(kind=CauseKind.QUEUE_SUBSTITUTE, reference=replacement.sku))
            await save(uow, original)
            await save(uow, replacement)
            await uow.commit()
            done.append(backorder_id)
    return done



# the preferences that are always set to a value: null is refused, not a way to clear them
_NEVER_NULL = ("by_email", "by_sms", "timezone", "language", "substitutes")


async def set_notification_preferences(deps: Deps, email: str, changes: Mapping[str, object], *, by: str,
                                       by_agent: bool) -> NotificationPreferences:
    """Change how a customer is told (only the fields in `changes`; None clears the phone, quiet hours or the
    default date), by the customer themselves or by an agent on their word (`by`: the agent's name). An agent
    may not turn on a channel the customer has not consented to (domain.customers); the customer's own save
    records or withdraws their consent. Every field changed is kept with who and when."""
    email = check_email(email, "customer_email")
    now = deps.clock.now()
    async with deps.uow() as uow:
        before, consent = await uow.notification_preferences(email)
        consent_before = consent
        after = dataclasses.replace(before)
        for name, value in changes.items():
            if name not in AUDITED:
                raise InvalidInput(f"{name} is not a notification preference", field=name)
            if value is None and name in _NEVER_NULL:
                raise InvalidInput(f"{name} cannot be null", field=name)
            if type(value) is str:  # not an enum's value (SubstituteConsent is a str too)
                value = value.strip() or None
            setattr(after, name, value)
        after.validate(now if "cancel_if_not_by" in changes else None)
        if by_agent:
            agent_may_change(before, after, consent)
        else:
            consent = consent.after_customer_saved(after, now)
        changes_made = preference_changes(before, after, now, by, by_agent)
        await uow.save_notification_preferences(after, consent, changes_made)
        if changes_made or consent != consent_before:
            uow.add_events([ev.NotificationPreferencesChanged(
                occurred_at=now, customer_email=email, fields=tuple(c.field for c in changes_made),
                changed_by=by, consent_changed=consent != consent_before)])
        await uow.commit()
        return after
