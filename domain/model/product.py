"""A product in the catalogue and its backorder policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum

from domain.allocation import AllocationPolicy, ShareRule
from domain.errors import InvalidInput
from domain.limits import MAX_PRODUCT_NAME_LENGTH, check_text
from domain.model.checks import check_quantity, check_sku
from domain.model.money import Money


class BackorderPolicy(str, Enum):
    ALLOW = "ALLOW"
    DENY = "DENY"
    PREORDER = "PREORDER"


@dataclass
class Product:
    sku: str
    name: str
    price: Money
    backorder_policy: BackorderPolicy = BackorderPolicy.ALLOW
    backorder_limit: int | None = None
    release_date: date | None = None
    substitutes: list[str] = field(default_factory=list)
    supplier_id: str | None = None
    lead_time_days: int | None = None
    allocation_policy: AllocationPolicy = AllocationPolicy.PRIORITY
    fair_share_minimum: int | None = None
    customer_cap_per_receipt: int | None = None
    version: int = 0

    @property
    def share_rule(self) -> ShareRule:
        return ShareRule(self.allocation_policy, self.fair_share_minimum, self.customer_cap_per_receipt)

    def validate(self) -> None:
        check_sku(self.sku)
        if not self.name.strip():
            raise InvalidInput("a product needs a name", field="name")
        check_text(self.name, "name", max_length=MAX_PRODUCT_NAME_LENGTH, what="a product's name")
        if self.backorder_limit is not None:
            check_quantity(self.backorder_limit, "backorder_limit", allow_zero=True)
        if self.lead_time_days is not None and not 0 <= self.lead_time_days <= 3650:
            raise InvalidInput("lead time must be between 0 and 3650 days", field="lead_time_days")
        if self.backorder_policy is BackorderPolicy.PREORDER and self.release_date is None:
            raise InvalidInput("a preorder product needs a release date", field="release_date")
        if self.sku in self.substitutes:
            raise InvalidInput("a product cannot substitute itself", field="substitutes")
        if len(set(self.substitutes)) != len(self.substitutes):
            raise InvalidInput("substitutes are listed once each", field="substitutes")
        for s in self.substitutes:
            check_sku(s, "substitutes")
        for value, name in ((self.fair_share_minimum, "fair_share_minimum"),
                            (self.customer_cap_per_receipt, "customer_cap_per_receipt")):
            if value is None:
                continue
            check_quantity(value, name)
            if self.allocation_policy is not AllocationPolicy.FAIR_SHARE:
                raise InvalidInput(f"{name.replace('_', ' ')} applies only to the FAIR_SHARE allocation policy",
                                   field=name)

    def is_preorder(self, today: date) -> bool:
        return (
            self.backorder_policy is BackorderPolicy.PREORDER
            and self.release_date is not None
            and self.release_date > today
        )
