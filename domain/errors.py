"""Typed domain errors, each with a stable code that the API and the portal show to people."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum


class ErrorCode(str, Enum):
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    PRODUCT_NOT_FOUND = "PRODUCT_NOT_FOUND"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    BACKORDER_NOT_FOUND = "BACKORDER_NOT_FOUND"
    PURCHASE_ORDER_NOT_FOUND = "PURCHASE_ORDER_NOT_FOUND"
    SUPPLIER_NOT_FOUND = "SUPPLIER_NOT_FOUND"
    BACKORDER_NOT_ALLOWED = "BACKORDER_NOT_ALLOWED"
    BACKORDER_LIMIT_EXCEEDED = "BACKORDER_LIMIT_EXCEEDED"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    INVALID_STATE = "INVALID_STATE"
    NOT_A_SUBSTITUTE = "NOT_A_SUBSTITUTE"
    SUBSTITUTE_UNAVAILABLE = "SUBSTITUTE_UNAVAILABLE"
    SUBSTITUTE_DECLINED = "SUBSTITUTE_DECLINED"  # the customer declined it, or wants no substitutes at all
    OVER_RECEIPT = "OVER_RECEIPT"
    NOTHING_TO_SHIP = "NOTHING_TO_SHIP"
    SHIP_COMPLETE_PENDING = "SHIP_COMPLETE_PENDING"
    NOT_RELEASED = "NOT_RELEASED"
    DUPLICATE = "DUPLICATE"
    CONFLICT = "CONFLICT"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    LINK_INVALID = "LINK_INVALID"
    LINK_EXPIRED = "LINK_EXPIRED"
    LINK_USED = "LINK_USED"
    RATE_LIMITED = "RATE_LIMITED"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"  # amounts in two currencies met with no exchange rate between them
    NO_EXCHANGE_RATE = "NO_EXCHANGE_RATE"  # a price must be converted and the shop has no rate for that pair
    UNKNOWN_LOCATION = "UNKNOWN_LOCATION"  # a well-formed location code the shop has not set up
    LOCATION_IN_USE = "LOCATION_IN_USE"  # a location still holding stock or awaiting a purchase order
    CONSENT_REQUIRED = "CONSENT_REQUIRED"  # an agent turning on a channel the customer has not consented to


class DomainError(Exception):
    """A business rule said no. Nothing was changed.

    `field` is the domain's key for the value at fault, in snake_case with dots into nested values
    (`backorder_id`, `lead_time_days`, `lines.quantity`, `customer.email`); never a name of the API's. The
    API maps it to the path in its own input (api.schema.common.user_errors)."""

    code: ErrorCode = ErrorCode.INVALID_INPUT

    line: int | None = None  # which line of the input (0-based) it is about, when it is about one

    def __init__(self, message: str, *, field: str | None = None, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value}: {self.message})"


class InvalidInput(DomainError):
    code = ErrorCode.INVALID_INPUT


class InvalidQuantity(DomainError):
    code = ErrorCode.INVALID_QUANTITY


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class BackorderNotAllowed(DomainError):
    code = ErrorCode.BACKORDER_NOT_ALLOWED


class BackorderLimitExceeded(DomainError):
    code = ErrorCode.BACKORDER_LIMIT_EXCEEDED


class InsufficientStock(DomainError):
    code = ErrorCode.INSUFFICIENT_STOCK


class InvalidState(DomainError):
    code = ErrorCode.INVALID_STATE


class SubstituteError(DomainError):
    code = ErrorCode.NOT_A_SUBSTITUTE


class OverReceipt(DomainError):
    code = ErrorCode.OVER_RECEIPT


class NothingToShip(DomainError):
    code = ErrorCode.NOTHING_TO_SHIP


class Conflict(DomainError):
    code = ErrorCode.CONFLICT


class PermissionDenied(DomainError):
    code = ErrorCode.PERMISSION_DENIED


def not_found(kind: str, key: str, *, field: str | None = None) -> NotFound:
    """`field`: the domain key of the value that found nothing; by default the kind's own key (`sku` for a
    product, else `<kind>_id`, e.g. `purchase_order_id`)."""
    codes = {
        "product": ErrorCode.PRODUCT_NOT_FOUND,
        "order": ErrorCode.ORDER_NOT_FOUND,
        "backorder": ErrorCode.BACKORDER_NOT_FOUND,
        "purchaseorder": ErrorCode.PURCHASE_ORDER_NOT_FOUND,
        "supplier": ErrorCode.SUPPLIER_NOT_FOUND,
    }
    code = codes.get(kind.lower().replace(" ", "").replace("_", ""), ErrorCode.NOT_FOUND)
    if field is None:
        field = "sku" if code is ErrorCode.PRODUCT_NOT_FOUND else kind.lower().replace(" ", "_") + "_id"
    return NotFound(f"{kind} {key!r} does not exist", field=field, code=code)


@contextmanager
def on_line(index: int | None) -> Iterator[None]:
    """A domain error raised inside is about input line `index` (unless it already names one)."""
    try:
        yield
    except DomainError as error:
        if error.line is None:
            error.line = index
        raise
