"""The shop's reference data, kept by agents: its locations (only known ones are accepted where a location is
input: `known_location`) and its exchange rates (the only way a price is compared across currencies).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.currency import ExchangeRate
from domain.errors import InvalidInput
from domain.limits import check_location
from domain.locations import Location, unknown_location
from domain.ports import UnitOfWork
from domain.use_cases.shared import Deps


async def upsert_location(deps: Deps, code: str, name: str | None = None) -> Location:
    """Set up a location (or rename one). Its code is the contract: it never changes once set up."""
    location = Location.of(code, name)
    async with deps.uow() as uow:
        await uow.save_location(location)
        await uow.commit()
        return location


async def upsert_exchange_rate(deps: Deps, from_currency: str, to_currency: str, rate: Decimal | str,
                               as_of: date | None = None) -> ExchangeRate:
    """Set the shop's rate from one currency to another (one per direction; a new one replaces the old). The
    date says which day it holds for: today unless given, never in the future."""
    today = deps.clock.today()
    when = today if as_of is None else as_of
    if not isinstance(when, date) or when > today:
        raise InvalidInput("an exchange rate's date cannot be in the future", field="date")
    exchange_rate = ExchangeRate.of(from_currency, to_currency, rate, when)
    async with deps.uow() as uow:
        await uow.save_exchange_rate(exchange_rate)
        await uow.commit()
        return exchange_rate


async def known_location(uow: UnitOfWork, code: str, field: str = "location") -> str:
    """`code` as the shop knows it (trimmed, upper case), or UNKNOWN_LOCATION: the one check for every input
    that names a location."""
    checked = check_location(code, field)
    if await uow.get_location(checked) is None:
        raise unknown_location(checked, field)
    return checked
