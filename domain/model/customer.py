"""A customer and their tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class CustomerTier(str, Enum):
    STANDARD = "STANDARD"
    VIP = "VIP"


@dataclass
class Customer:
    email: str
    name: str = ""
    phone: str | None = None
    tier: CustomerTier = CustomerTier.STANDARD
