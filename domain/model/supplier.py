"""A supplier and its delivery record (late suppliers make for less trusted ETAs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass
class Supplier:
    id: str
    name: str
    lead_time_days: int = 14
    deliveries_on_time: int = 0
    deliveries_late: int = 0

    @property
    def has_been_late(self) -> bool:
        """Late on at least one delivery in five: its dates deserve less trust."""
        total = self.deliveries_on_time + self.deliveries_late
        return total > 0 and self.deliveries_late * 5 >= total

    def record_delivery(self, expected: date, received: date) -> bool:
        """Count a delivery on this copy; returns whether it was late (the store adds it with `count_delivery`)."""
        late = received > expected
        if late:
            self.deliveries_late += 1
        else:
            self.deliveries_on_time += 1
        return late
