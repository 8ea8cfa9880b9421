"""Where stock is kept. A location is known when the shop has set it up (`upsert_location`, or the migration
that seeded the default location MAIN and every location already holding stock or awaiting a purchase order);
every input that names a location (receiving, adjusting, purchase orders, previews, orders) must name a known
one, so a typo such as NOWHERE is refused instead of quietly becoming a new place with stock nobody can find.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import DomainError, ErrorCode
from domain.limits import check_location, check_text, shown


@dataclass(frozen=True)
class Location:
    code: str
    name: str = ""

    @staticmethod
    def of(code: str, name: str | None) -> Location:
        return Location(check_location(code, "code"), check_text(name, "name", what="a location's name"))


class UnknownLocation(DomainError):
    code = ErrorCode.UNKNOWN_LOCATION


def unknown_location(code: str, field: str = "location") -> UnknownLocation:
    return UnknownLocation(f"{shown(code)} is not one of the shop's locations: a new location is set up "
                           "before anything is kept there", field=field)
