"""The shop's reference data, kept by agents: its locations (only known ones are accepted where a location is
input: `known_location`; set up, renamed, retired) and its exchange rates (the only way a price is compared
across currencies).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain import events as ev
from domain.currency import ExchangeRate
from domain.errors import InvalidInput
from domain.limits import check_location
from domain.locations import Location, retirement, unknown_location
from domain.model import DEFAULT_LOCATION
from domain.ports import UnitOfWork
from domain.use_cases.shared import Deps


async def upsert_location(deps: Deps, code: str, name: str | None = None) -> Location:
    """Set up a location (or rename one). Its code is the contract: it never changes once set up."""
    location = Location.of(code, name)
    async with deps.uow() as uow:
        await uow.save_location(location)
        uow.add_events([ev.LocationChanged(occurred_at=deps.clock.now(), code=location.code, name=location.name,
                                           change="saved")])
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
        uow.add_events([ev.ExchangeRateChanged(
            occurred_at=deps.clock.now(), from_currency=exchange_rate.from_currency,
            to_currency=exchange_rate.to_currency, rate=str(exchange_rate.rate), as_of_date=exchange_rate.as_of)])
        await uow.commit()
        return exchange_rate


async def known_location(uow: UnitOfWork, code: str, field: str = "location") -> str:
    """`code` as the shop knows it (trimmed, upper case), or UNKNOWN_LOCATION: the one check for every input
    that names a location."""
    checked = check_location(code, field)
    if await uow.get_location(checked) is None:
        raise unknown_location(checked, field)
    return checked


async def retire_location(deps: Deps, code: str) -> tuple[Location, bool]:
    """Retire a location the shop no longer uses: refused (LOCATION_IN_USE) while units are on hand, set aside or
    being put away (a staged receipt's) there, a purchase order is still bound for it, or it is the default
    location. Returns the location and whether it was kept (history refers to it: marked retired) rather
    than removed. Writers that use the location lock it (`get_location`), so no receipt lands in a location
    retired under it."""
    checked = check_location(code, "code")
    async with deps.uow() as uow:
        location = await uow.lock_location(checked)
        if location is None:
            raise unknown_location(checked, "code")
        keep = retirement(checked, await uow.location_use(checked), DEFAULT_LOCATION)
        await uow.retire_location(checked, keep)
        uow.add_events([ev.LocationChanged(occurred_at=deps.clock.now(), code=location.code, name=location.name,
                                           change="retired" if keep else "removed")])
        await uow.commit()
        return location, keep
