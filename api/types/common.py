"""What every feature's types share: the enums, the request context type, who is reading, user errors,
money, and Relay connections."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Generic, TypeVar

import strawberry
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from api.context import Context
from api.ids import encode_cursor
from domain import allocation, preferences
from domain import model as m
from domain.currency import ExchangeRate as ExchangeRateValue
from domain.errors import DomainError
from domain.errors import ErrorCode as DomainErrorCode
from domain.eta import Confidence, EtaSource
from domain.locations import Location as LocationValue
from notifications import wording

ErrorCode = strawberry.enum(DomainErrorCode, name="ErrorCode", description="Stable codes of user errors.")


BackorderStatus = strawberry.enum(m.BackorderStatus, name="BackorderStatus")


Channel = strawberry.enum(m.Channel, name="Channel", description="Where an order was placed.")


BackorderPolicy = strawberry.enum(
    m.BackorderPolicy, name="BackorderPolicy",
    description="ALLOW: sell beyond stock; DENY: refuse lines that cannot be filled; PREORDER: sell before release.")


SubstituteConsent = strawberry.enum(
    preferences.SubstituteConsent, name="SubstituteConsent",
    description="Whether a listed substitute may be taken for the customer: NEVER (none is ever offered), ASK "
                "(offered; they decide: the default), SAME_PRICE_OR_LOWER (taken for them when one in stock costs "
                "no more, in the same currency), ANY_LISTED (taken for them when any listed one is in stock). "
                "Whatever is taken, they are told what they got.")
AllocationPolicy = strawberry.enum(
    allocation.AllocationPolicy, name="AllocationPolicy",
    description="How arriving stock is shared: PRIORITY hands it out strictly in queue order; FAIR_SHARE first "
                "gives each waiting backorder up to a minimum, then the rest in queue order.")


CustomerTier = strawberry.enum(m.CustomerTier, name="CustomerTier")


PurchaseOrderStatus = strawberry.enum(m.PurchaseOrderStatus, name="PurchaseOrderStatus")


EtaConfidence = strawberry.enum(
    Confidence, name="EtaConfidence",
    description="HIGH: covered by a purchase order; MEDIUM: from lead time; LOW: supplier late or PO overdue.")


EtaSourceEnum = strawberry.enum(EtaSource, name="EtaSource")


Ctx = Info[Context, None]


def reader_is_staff(info: Ctx) -> bool:
    principal = info.context.principal
    return principal is not None and principal.is_staff


# -- what customers read ----------------------------------------------------------------------
# Causes are data (domain.causes); staff and customers read them worded by notifications.wording, the one
# place where every audience's words live (history here, live updates, emails and texts alike).
update_message = wording.update_message


visible_to_customer = wording.visible_to_customer


@strawberry.type(description="A problem with the input; nothing was changed.")
class UserError:
    field: str | None
    message: str
    code: ErrorCode  # type: ignore[valid-type]
    line: int | None = strawberry.field(
        default=None, description="Which line of the input's `lines` (0-based) it is about, when it is about one.")

    @staticmethod
    def of(error: DomainError, fields: Mapping[str, str] | None = None) -> UserError:
        """`field` names the error's domain key (`backorder_id`) as a path of the input: by the mutation's own
        table `fields` where the input names it otherwise (`id`), else in the input's camelCase."""
        field = error.field
        if field is not None:
            field = (fields or {}).get(field) or to_camel_case(field)
        return UserError(field=field, message=error.message + API_HINTS.get(error.code, ""), code=error.code,
                         line=error.line)


# The API's own words after the domain's (which do not know the API): the operation that does what is asked.
API_HINTS: Mapping[DomainErrorCode, str] = {DomainErrorCode.UNKNOWN_LOCATION: " (upsertLocation sets one up)"}


@strawberry.type
class Money:
    amount: Decimal
    currency: str

    @staticmethod
    def of(money: m.Money) -> Money:
        return Money(amount=money.amount, currency=money.currency)


@strawberry.type(description="The shop's rate from one currency to another: one unit of fromCurrency is `rate` units "
                              "of toCurrency, as set for `date`. Shown wherever a converted figure is.")
class ExchangeRate:
    from_currency: str
    to_currency: str
    rate: Decimal
    date: dt.date = strawberry.field(description="The day the rate holds for.")

    @staticmethod
    def of(rate: ExchangeRateValue) -> ExchangeRate:
        return ExchangeRate(from_currency=rate.from_currency, to_currency=rate.to_currency, rate=rate.rate,
                            date=rate.as_of)

    @staticmethod
    def maybe(rate: ExchangeRateValue | None) -> ExchangeRate | None:
        return ExchangeRate.of(rate) if rate is not None else None


@strawberry.type(description="A place stock is kept. Only these codes are accepted where a location is input.")
class Location:
    code: str
    name: str

    @staticmethod
    def of(location: LocationValue) -> Location:
        return Location(code=location.code, name=location.name)


@strawberry.type(description="An order line's units at one location: set aside there, and shipped from there.")
class UnitsAtLocation:
    location: str
    held_quantity: int = strawberry.field(description="Set aside at this location, not shipped yet.")
    shipped_quantity: int = strawberry.field(description="Shipped from this location.")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = strawberry.field(
        default=False, description="Forward paging only: true when the page starts after a cursor.")
    start_cursor: str | None = None


T = TypeVar("T")


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int
    nodes: list[T]

    @staticmethod
    def of(pairs: list[tuple[str, T]], has_next: bool, total: int, *, after: str | None = None) -> Connection[T]:
        edges = [Edge(cursor=encode_cursor(key), node=node) for key, node in pairs]
        return Connection(edges=edges, page_info=PageInfo(
            has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=after is not None, start_cursor=edges[0].cursor if edges else None),
            total_count=total, nodes=[node for _, node in pairs])
