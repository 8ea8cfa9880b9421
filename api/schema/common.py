"""What the schema's feature modules share: the resolver's `Info`, the one place where a domain error becomes
`userErrors` (`user_errors`), paging arguments, and who may see or change an order or a backorder.

Feature modules import this module, never `api.schema` itself (an import-linter contract checks it).
"""

from __future__ import annotations

import functools
import logging
import typing
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from api import types as gt
from api.context import Context
from api.ids import decode_cursor, decode_id
from api.settings import Settings
from domain.errors import DomainError, not_found

Ctx = Info[Context, None]
P = TypeVar("P")
contract_log = logging.getLogger("backorder.api.contract")
KNOWN_LOCATION = "A location the shop has set up (upsertLocation); any other is refused (UNKNOWN_LOCATION)."


def user_errors(make: Callable[..., P], fields: Mapping[str, str] | None = None,
                ) -> Callable[[Callable[..., Awaitable[P]]], Callable[..., Awaitable[P]]]:
    """The one place where a domain error becomes `userErrors` (and nothing was written): the resolver it wraps
    returns `make(user_errors=[...])` instead of raising. Put it under `@strawberry.mutation`.

    Domain errors name their field by the domain's key (`backorder_id`, `lines.quantity`): the input path is
    that key in camelCase (`backorderId`) unless `fields`, the mutation's table from domain keys to paths of
    its `input`, says otherwise (cancelBackorder names the backorder `id`). A field that is still no path of
    the input is a broken contract: it is logged on `backorder.api.contract` (the API tests fail on any such
    record)."""
    table = dict(fields or {})

    def wrap(resolve: Callable[..., Awaitable[P]]) -> Callable[..., Awaitable[P]]:
        paths: set[str] | None = None

        @functools.wraps(resolve)  # strawberry reads the arguments and return type through __wrapped__
        async def resolver(*args: Any, **kwargs: Any) -> P:
            nonlocal paths
            try:
                done = await resolve(*args, **kwargs)
                # the payload is read after the change: what the request's loaders cached before it (the
                # ownership check reads the backorder or order through them) is stale now
                info = kwargs.get("info", args[0] if args else None)
                if isinstance(info, Info):
                    info.context.forget_reads()
                return done
            except DomainError as error:
                user_error = gt.UserError.of(error, table)
                if user_error.field:
                    if paths is None:
                        paths = input_paths(typing.get_type_hints(resolve).get("input"))
                    if user_error.field not in paths:
                        contract_log.error("%s: userError field %r is no path of its input (%s)",
                                           resolve.__name__, user_error.field, ", ".join(sorted(paths)))
                return make(user_errors=[user_error])

        return resolver

    return wrap


def input_paths(input_type: Any) -> set[str]:
    """Every path a userError's `field` may name in a mutation's input: `input` itself, each field by its
    GraphQL name, and fields of nested inputs as `customer.email`, `lines.sku`."""
    paths = {"input"}

    def walk(cls: Any, prefix: str) -> None:
        definition = getattr(cls, "__strawberry_definition__", None)
        if definition is None or not definition.is_input:
            return
        for field in definition.fields:
            name = prefix + (field.graphql_name or to_camel_case(field.python_name))
            paths.add(name)
            inner = field.type
            while hasattr(inner, "of_type"):  # Optional[...], list[...]
                inner = inner.of_type
            walk(inner, name + ".")

    walk(input_type, "")
    return paths


def page_size(first: int | None, settings: Settings) -> int:
    size = 50 if first is None else first
    if size < 0 or size > settings.page_size_limit:
        raise GraphQLError(f"first must be between 0 and {settings.page_size_limit}",
                           extensions={"code": "INVALID_INPUT"})
    return size


def cursor(after: str | None) -> str | None:
    try:
        return decode_cursor(after)
    except DomainError as error:
        raise GraphQLError(error.message, extensions={"code": error.code.value}) from error


def staff_name(info: Ctx) -> str:
    principal = info.context.require_principal()
    return principal.name


@strawberry.input
class LineInput:
    sku: str
    quantity: int


# -- ownership --------------------------------------------------------------------------------
async def visible_order(info: Ctx, order_id: str) -> gt.Order | None:
    order = await info.context.loaders.order_by_id.load(order_id)
    principal = info.context.require_principal()
    if order is None or not principal.can_see_order(order.id, order.customer.email):
        return None
    return gt.Order.of(order)


async def visible_backorder(info: Ctx, backorder_id: str) -> gt.Backorder | None:
    backorder = await info.context.loaders.backorder_by_id.load(backorder_id)
    principal = info.context.require_principal()
    if backorder is None or not principal.can_see_order(backorder.order_id, backorder.customer_email):
        return None
    return gt.Backorder.of(backorder)


async def own_backorder(info: Ctx, value: str, field: str = "id") -> str:
    """The backorder's key, if the caller may change it; otherwise 'not found' (no existence leak)."""
    key = decode_id("Backorder", value, field)
    if await visible_backorder(info, key) is None:
        raise not_found("backorder", value, field=field)
    return key


async def own_order(info: Ctx, value: str, field: str = "orderId") -> str:
    key = decode_id("Order", value, field)
    if await visible_order(info, key) is None:
        raise not_found("order", value, field=field)
    return key
