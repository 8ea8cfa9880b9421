"""Stock of one SKU at one location.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LOCATION = "MAIN"


@dataclass
class StockLevel:
    sku: str
    location: str
    on_hand: int = 0
    allocated: int = 0
    safety_stock: int = 0

    @property
    def available_to_promise(self) -> int:
        return max(0, self.on_hand - self.allocated - self.safety_stock)
