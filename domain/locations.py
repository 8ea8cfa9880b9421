"""Where stock is kept. A location is known when the shop has set it up (`upsert_location`, or the migration
that seeded the default location MAIN and every location already holding stock or awaiting a purchase order);
every input that names a location (receiving, adjusting, purchase orders, previews, orders) must name a known
one, so a typo such as NOWHERE is refused instead of quietly becoming a new place with stock nobody can find.

A location the shop no longer uses is retired (`retire_location`): refused while units are on hand, set aside or
being put away there (a staged receipt's) or a purchase order is still bound for it (LOCATION_IN_USE: move or
ship the units, let the receipt finish, receive or redirect the order first). One
nothing ever referred to (no stock was ever kept there, no purchase order named it: a typo set
up by mistake) is removed outright; one that history refers to (units shipped from it, purchase orders received
into it, stock rows, the event log) is kept as retired, so what happened there still names a place the shop knows,
and its code is never reused for another place: retired, it is unknown to every input, and setting it up again
(`upsert_location`) brings that same place back.
"""

from __future__ import annotations

from collections.abc import Sequence
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


class LocationInUse(DomainError):
    code = ErrorCode.LOCATION_IN_USE


@dataclass(frozen=True)
class LocationUse:
    """What is at a location now, and whether anything ever referred to it."""

    on_hand: int = 0  # units on the shelf there, every SKU
    set_aside: int = 0  # of those, units held for customers' orders
    staged: int = 0  # units received there and still being put away to its waiting queue (a staged receipt's)
    open_purchase_orders: Sequence[str] = ()  # numbers of purchase orders still bound for it
    referenced: bool = False  # a stock row or a purchase order (of any status) names it


def retirement(code: str, use: LocationUse, default: str) -> bool:
    """Whether the retired location is kept (True: history refers to it) or removed (False); LOCATION_IN_USE
    while anything is there or on its way, or for the shop's default location, where stock goes when an input
    names none."""
    if code == default:
        raise LocationInUse(f"{code} is the default location (stock is received there when no location is given): "
                            "it cannot be retired", field="code")
    if use.on_hand or use.set_aside:
        raise LocationInUse(f"{code} still holds {use.on_hand} units ({use.set_aside} set aside for customers): "
                            "ship, move or count them out first", field="code")
    if use.staged:
        raise LocationInUse(f"{code} has {use.staged} units being put away to the backorders waiting for them: "
                            "retire it once they are", field="code")
    if use.open_purchase_orders:
        numbers = ", ".join(use.open_purchase_orders[:5]) + (" ..." if len(use.open_purchase_orders) > 5 else "")
        raise LocationInUse(f"purchase orders are still bound for {code} ({numbers}): receive or cancel them first",
                            field="code")
    return use.referenced
