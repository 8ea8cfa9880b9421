"""GraphQL for the shop's reference data (staff only): its locations, the only codes accepted where a location is
input, and its exchange rates, the only way a price is compared across currencies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry

from api import types as gt
from api.permissions import IsStaff
from api.schema.common import Ctx, user_errors
from domain.store import queries as q


@strawberry.input
class UpsertLocationInput:
    code: str = strawberry.field(description="Letters, digits and . _ - inside, up to 32; kept in upper case. "
                                             "Never changes once set up.")
    name: str | None = strawberry.field(default=None, description="What people call it, e.g. \"Leeds store\".")


@strawberry.type
class LocationPayload:
    location: gt.Location | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RetireLocationInput:
    code: str = strawberry.field(description="The location's code.")


@strawberry.type
class RetireLocationPayload:
    location: gt.Location | None = strawberry.field(default=None, description="The location as it was.")
    kept_for_history: bool | None = strawberry.field(default=None, description=(
        "True: history refers to it (stock was kept there, or a purchase order named it), so it is kept, retired: "
        "unknown to every input and not listed, and `upsertLocation` with its code brings it back. False: nothing "
        "ever referred to it, so it is removed."))
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


@strawberry.input
class UpsertExchangeRateInput:
    from_currency: str = strawberry.field(description="ISO 4217 code of the currency converted from.")
    to_currency: str = strawberry.field(description="ISO 4217 code of the currency converted into.")
    rate: Decimal = strawberry.field(description="Units of toCurrency for one unit of fromCurrency: more than 0, "
                                                 "at most 8 decimal places.")
    date: dt.date | None = strawberry.field(default=None,
                                            description="The day the rate holds for: today unless given; not later.")


@strawberry.type
class ExchangeRatePayload:
    exchange_rate: gt.ExchangeRate | None = None
    user_errors: list[gt.UserError] = strawberry.field(default_factory=list)


# -- queries ----------------------------------------------------------------------------------
@strawberry.field(permission_classes=[IsStaff], description="The shop's locations, by code.")
async def locations(info: Ctx) -> list[gt.Location]:
    return [gt.Location.of(location) for location in await q.locations()]


@strawberry.field(permission_classes=[IsStaff], description="The shop's exchange rates, by pair of currencies.")
async def exchange_rates(info: Ctx) -> list[gt.ExchangeRate]:
    return [gt.ExchangeRate.of(rate) for rate in await q.exchange_rates()]


# -- mutations --------------------------------------------------------------------------------
@strawberry.mutation(permission_classes=[IsStaff],
                     description="Set up a location (or rename it): until then its code is refused (UNKNOWN_LOCATION) "
                                 "wherever a location is input.")
@user_errors(LocationPayload)
async def upsert_location(info: Ctx, input: UpsertLocationInput) -> LocationPayload:
    location = await info.context.desk.upsert_location(input.code, input.name)
    return LocationPayload(location=gt.Location.of(location))


@strawberry.mutation(permission_classes=[IsStaff],
                     description="Retire a location the shop no longer uses (see `keptForHistory`). Refused with "
                                 "LOCATION_IN_USE while units are on hand, set aside or being put away there, a "
                                 "purchase order is "
                                 "bound for it, or it is the default location MAIN.")
@user_errors(RetireLocationPayload)
async def retire_location(info: Ctx, input: RetireLocationInput) -> RetireLocationPayload:
    location, kept = await info.context.desk.retire_location(input.code)
    return RetireLocationPayload(location=gt.Location.of(location), kept_for_history=kept)


@strawberry.mutation(permission_classes=[IsStaff],
                     description="Set the shop's rate from one currency to another (one per direction; it replaces the "
                                 "one before). Prices in other currencies are compared only through these rates.")
@user_errors(ExchangeRatePayload)
async def upsert_exchange_rate(info: Ctx, input: UpsertExchangeRateInput) -> ExchangeRatePayload:
    rate = await info.context.desk.upsert_exchange_rate(input.from_currency, input.to_currency, input.rate,
                                                        input.date)
    return ExchangeRatePayload(exchange_rate=gt.ExchangeRate.of(rate))
