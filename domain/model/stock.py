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
    # units received here for a long queue and not yet put away (a staged receipt's, `head.StagedReceipt`): not
    # on hand, so no one else takes them while the receipt serves the queue chunk by chunk
    staged: int = 0

    @property
    def available_to_promise(self) -> int:
        return max(0, self.on_hand - self.allocated - self.safety_stock)
