"""Catalogue use cases: products and suppliers.
"""

from __future__ import annotations

from domain import events as ev
from domain.causes import Actor, Cause, CauseKind
from domain.commands import ProductInput
from domain.errors import InvalidInput, not_found
from domain.limits import check_text
from domain.model import Money, Product, Supplier, check_sku, new_id
from domain.use_cases.shared import Deps, save, settle


async def upsert_product(deps: Deps, data: ProductInput) -> Product:
    now = deps.clock.now()
    sku = check_sku(data.sku)
    substitutes = [check_sku(s, "substitutes") for s in data.substitutes]
    async with deps.uow() as uow:
        await uow.lock_skus([sku])
        existing = await uow.get_product(sku)
        if data.supplier_id is not None and await uow.get_supplier(data.supplier_id) is None:
            raise not_found("supplier", data.supplier_id, field="supplier_id")
        for s in substitutes:
            if s != sku and await uow.get_product(s) is None:
                raise not_found("product", s, field="substitutes")
        product = Product(
            sku=sku,
            name=data.name.strip(),
            price=Money.of(data.price, data.currency),
            backorder_policy=data.backorder_policy,
            backorder_limit=data.backorder_limit,
            release_date=data.release_date,
            substitutes=substitutes,
            supplier_id=data.supplier_id,
            lead_time_days=data.lead_time_days,
            allocation_policy=data.allocation_policy,
            fair_share_minimum=data.fair_share_minimum,
            customer_cap_per_receipt=data.customer_cap_per_receipt,
            version=existing.version if existing else 0,
        )
        product.validate()
        await uow.save_product(product)
        uow.add_events([ev.ProductChanged(occurred_at=now, sku=sku)])
        if existing is not None:
            inventory = await uow.inventory(sku)
            inventory.settle(now, Cause(kind=CauseKind.PRODUCT_CHANGED, actor=Actor.AGENT, reference=sku))
            await save(uow, inventory)
        await uow.commit()
        return product


async def upsert_supplier(deps: Deps, supplier_id: str | None, name: str, lead_time_days: int) -> Supplier:
    name = check_text(name, "name", required=True, what="a supplier's name")
    if isinstance(lead_time_days, bool) or not 0 <= lead_time_days <= 3650:
        raise InvalidInput("lead time must be between 0 and 3650 days", field="lead_time_days")
    async with deps.uow() as uow:
        supplier = await uow.get_supplier(supplier_id) if supplier_id else None
        if supplier_id and supplier is None:
            raise not_found("supplier", supplier_id)
        if supplier is None:
            supplier = Supplier(id=new_id(), name=name.strip(), lead_time_days=lead_time_days)
            await uow.save_supplier(supplier)
        else:
            # a new lead time moves the ETAs that come from it: lock, then read again under the locks
            skus = await uow.skus_supplied_by(supplier.id)
            await uow.lock_skus(skus)
            supplier = await uow.get_supplier(supplier.id)
            assert supplier is not None
            supplier.name, supplier.lead_time_days = name.strip(), lead_time_days
            await uow.save_supplier(supplier)
            await settle(deps, uow, skus, Cause(kind=CauseKind.SUPPLIER_LEAD_TIME, actor=Actor.AGENT,
                                                 reference=supplier.name, quantity=lead_time_days))
        uow.add_events([ev.SupplierChanged(occurred_at=deps.clock.now(), supplier_id=supplier.id,
                                           name=supplier.name, lead_time_days=supplier.lead_time_days)])
        await uow.commit()
        return supplier
