"""Stock use cases: receipts (and their preview), counts and safety stock, ETAs that time has made stale.
"""

from __future__ import annotations

from domain.causes import Actor, Cause, CauseKind
from domain.commands import AllocationPreviewLine
from domain.errors import InvalidInput
from domain.limits import MAX_TEXT_LENGTH, check_location, check_text
from domain.model import DEFAULT_LOCATION, Behind, SkuInventory, check_quantity, check_sku
from domain.ports import UnitOfWork
from domain.use_cases.reference_data import known_location
from domain.use_cases.shared import (
    Deps,
    fold_after,
    put_away_after,
    receive_at_head,
    save,
    settle,
    settle_aside,
    watch,
)


async def receive_stock(deps: Deps, sku: str, quantity: int, location: str = DEFAULT_LOCATION,
                        cause: str = "stock received") -> SkuInventory:
    """Units arrive and go to the queue. For a long first-come-first-served queue whose units reach more than
    `STAGE_CHUNK` backorders the receipt is staged: this transaction serves the first chunk and stages the rest,
    then each further chunk is a short transaction of its own (`put_away_staged`), all run before this returns, so
    the caller sees the whole receipt done; between them no transaction is open and other requests run. The
    aggregate returned is then the SKU as the last chunk left it, its queue not loaded, only counted (`ahead`)."""
    recorded: list[str] = []
    staged: list[str] = []
    async with deps.uow() as uow:
        inventory = await _receipt_at_head(deps, uow, sku, quantity, location, cause, recorded, staged)
        if inventory is None:
            inventory, _ = await _receipt(deps, uow, sku, quantity, location, cause)
        await save(uow, inventory)
        await uow.commit()
    fold_after(deps, recorded)
    if staged:
        await put_away_after(deps, staged)
        async with deps.uow() as uow:  # the SKU as the last chunk left it, its queue summarised (`ahead`)
            return await uow.queue_head(staged[0], 0) or inventory
    return inventory


async def preview_receipt(deps: Deps, sku: str, quantity: int,
                          location: str = DEFAULT_LOCATION) -> list[AllocationPreviewLine]:
    """What receive_stock would do, without writing anything: the same receipt on the same locked aggregate,
    then the unit of work rolls back instead of committing. One line per backorder that was waiting, in the
    order the queue was served."""
    async with deps.uow() as uow:
        inventory, lines = await _receipt(deps, uow, sku, quantity, location, "stock received", preview=True)
        inventory.check_invariants()
        return lines  # no commit: nothing is saved and no event leaves


async def refresh_stale_etas(deps: Deps) -> list[str]:
    """Time alone moves ETAs: when a purchase order's date passes without delivery, the backorders it
    covered would show a date in the past. Re-project those SKUs (now LOW confidence, not before today)
    and announce what moved. Time also passes customers' "cancel if not by" dates: those SKUs are settled too,
    and settling cancels what can no longer come in time (SkuInventory.settle). One short transaction per SKU,
    under its lock; safe to run from any number of workers. Returns the SKUs refreshed."""
    async with deps.uow() as uow:
        skus = await uow.skus_with_stale_etas(deps.clock.now())
    for sku in skus:
        async with deps.uow() as uow:
            await uow.lock_skus([sku])
            await settle(deps, uow, [sku], Cause(kind=CauseKind.ETA_OVERDUE))
            await uow.commit()
    return skus


async def adjust_stock(deps: Deps, sku: str, delta: int, reason: str, location: str = DEFAULT_LOCATION,
                       safety_stock: int | None = None) -> SkuInventory:
    now = deps.clock.now()
    sku = check_sku(sku)
    async with deps.uow() as uow:
        location = await known_location(uow, location)
        # a range a receipt left pending is not folded first: the adjustment changes the stock, and its settle hands
        # units only to backorders waiting after the range (never below what is allocated: `adjust` refuses)
        await uow.lock_skus([sku], behind={sku: Behind(None)})
        inventory = await uow.inventory(sku)
        if delta:
            inventory.adjust(location, delta, now, reason)
        if safety_stock is not None:
            inventory.set_safety_stock(location, safety_stock)
        if not delta and safety_stock is None:
            raise InvalidInput("nothing to adjust: give a delta or a safety stock", field="delta")
        inventory.settle(now, Cause(kind=CauseKind.STOCK_ADJUSTED, actor=Actor.AGENT, reason=reason))
        await save(uow, inventory)
        await uow.commit()
        return inventory


async def _receipt(deps: Deps, uow: UnitOfWork, sku: str, quantity: int, location: str, note: str,
                   preview: bool = False) -> tuple[SkuInventory, list[AllocationPreviewLine]]:
    """Units arrive and go to the queue: the one receipt both receive_stock and preview_receipt run."""
    now = deps.clock.now()
    sku, location, received = await _checked(uow, sku, quantity, location, note)
    inventory = await uow.inventory(sku)
    lines = watch(inventory, now.date(), preview)
    inventory.receive(location, quantity, now, received)
    await settle_aside(inventory, now, received)
    return inventory, lines()


async def _receipt_at_head(deps: Deps, uow: UnitOfWork, sku: str, quantity: int, location: str,
                           note: str, recorded: list[str], staged: list[str]) -> SkuInventory | None:
    """The same receipt for a long first-come-first-served queue: the store reads only the backorders the units
    reach (`waiting_head`), the domain decides for them what settling the whole queue would (`serve_head`), and
    only those still waiting afterwards are loaded and settled. None when it does not apply: then `_receipt`."""
    now = deps.clock.now()
    sku, location, received = await _checked(uow, sku, quantity, location, note)
    return await receive_at_head(uow, sku, location, quantity, now, received, recorded, staged)


async def _checked(uow: UnitOfWork, sku: str, quantity: int, location: str, note: str) -> tuple[str, str, Cause]:
    """A receipt's input checked, the SKU locked; its cause."""
    sku = check_sku(sku)
    check_quantity(quantity)
    location = check_location(location)
    note = check_text(note, "note", max_length=MAX_TEXT_LENGTH, multiline=True, what="a note") or "stock received"
    location = await known_location(uow, location)
    await uow.lock_skus([sku])
    received = Cause(kind=CauseKind.STOCK_RECEIVED, actor=Actor.AGENT, quantity=quantity,
                     reference=location.strip().upper(), reason=note)
    return sku, location, received
