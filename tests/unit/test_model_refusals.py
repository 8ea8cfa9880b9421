"""Every refusal of the model is a typed error naming its field, and leaves the aggregate exactly as it was."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain import events as ev
from domain.errors import (
    DomainError,
    ErrorCode,
    InsufficientStock,
    InvalidInput,
    InvalidQuantity,
    InvalidState,
    OverReceipt,
)
from domain.model import (
    MAX_QUANTITY,
    BackorderPolicy,
    Money,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    check_email,
    check_quantity,
    check_sku,
)
from tests.unit.support import (
    NOW,
    SKU,
    TODAY,
    events_of,
    inventory,
    order,
    place,
    product,
    received,
    refused,
)

# -- invalid input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [0, -1, True, 1.5, "2", MAX_QUANTITY + 1])
def test_check_quantity_refuses_anything_but_a_whole_positive_number(quantity):
    with pytest.raises(InvalidQuantity) as raised:
        check_quantity(quantity, "lines.quantity")
    assert raised.value.code is ErrorCode.INVALID_QUANTITY
    assert raised.value.field == "lines.quantity"


def test_check_quantity_accepts_zero_only_when_asked_and_the_maximum():
    assert check_quantity(0, allow_zero=True) == 0
    assert check_quantity(MAX_QUANTITY) == MAX_QUANTITY


@pytest.mark.parametrize("quantity", [0, -2, True, 2.0, 6])
def test_cancel_refuses_a_bad_quantity_and_changes_nothing(quantity):
    inv = inventory(0)
    _, _, backorder = place(inv, 5)
    inv.receive("MAIN", 2, NOW, received(2))
    inv.settle(NOW, received(2))

    error = refused(inv, lambda: inv.cancel(backorder, quantity, NOW, by="customer", reason=""), InvalidQuantity,
                    ErrorCode.INVALID_QUANTITY)

    assert error.field == "quantity"


@pytest.mark.parametrize("quantity", [0, -5, True, "3"])
def test_receive_refuses_a_bad_quantity_and_changes_nothing(quantity):
    inv = inventory(4)
    refused(inv, lambda: inv.receive("MAIN", quantity, NOW, "delivery"), InvalidQuantity, ErrorCode.INVALID_QUANTITY)


@pytest.mark.parametrize("location", ["", "  ", "main dock", "-MAIN", "X" * 33])
def test_receive_refuses_a_bad_location_and_changes_nothing(location):
    inv = inventory(4)
    error = refused(inv, lambda: inv.receive(location, 3, NOW, "delivery"), InvalidInput, ErrorCode.INVALID_INPUT)
    assert error.field == "location"


def test_receive_normalises_the_location_code():
    inv = inventory(0)
    inv.receive(" store-2 ", 3, NOW, "delivery")
    assert inv.stock["STORE-2"].on_hand == 3


@pytest.mark.parametrize(
    ("delta", "reason", "error", "code"),
    [
        (0, "count", InvalidQuantity, ErrorCode.INVALID_QUANTITY),
        (True, "count", InvalidQuantity, ErrorCode.INVALID_QUANTITY),
        (MAX_QUANTITY + 1, "count", InvalidQuantity, ErrorCode.INVALID_QUANTITY),
        (2, "   ", InvalidInput, ErrorCode.INVALID_INPUT),
        (-3, "damaged", InsufficientStock, ErrorCode.INSUFFICIENT_STOCK),  # 6 on hand, 4 allocated
    ],
)
def test_adjust_refuses_bad_corrections_and_changes_nothing(delta, reason, error, code):
    inv = inventory(6)
    place(inv, 4)
    refused(inv, lambda: inv.adjust("MAIN", delta, NOW, reason), error, code)


def test_adjust_may_bring_on_hand_down_to_what_is_allocated():
    inv = inventory(6)
    place(inv, 4)
    inv.adjust("MAIN", -2, NOW, "damaged")
    assert (inv.stock["MAIN"].on_hand, inv.stock["MAIN"].allocated, inv.available_to_promise) == (4, 4, 0)
    [adjusted] = events_of(inv, ev.StockAdjusted)
    assert (adjusted.delta, adjusted.on_hand, adjusted.reason) == (-2, 4, "damaged")


@pytest.mark.parametrize("safety_stock", [-1, True, "2"])
def test_safety_stock_refuses_a_bad_value_and_changes_nothing(safety_stock):
    inv = inventory(6)
    refused(inv, lambda: inv.set_safety_stock("MAIN", safety_stock), InvalidQuantity, ErrorCode.INVALID_QUANTITY)


@pytest.mark.parametrize(("priority", "reason"), [(1001, "vip"), (-1001, "vip"), (True, "vip"), ("5", "vip"),
                                                  (5, ""), (5, "   ")])
def test_reprioritize_refuses_bad_input_and_changes_nothing(priority, reason):
    inv = inventory(0)
    _, _, backorder = place(inv, 2)
    error = refused(inv, lambda: inv.reprioritize(backorder, priority, reason, "agent@desk", NOW), InvalidInput,
                    ErrorCode.INVALID_INPUT)
    assert error.field in {"priority", "reason"}


def test_reserving_more_than_is_available_for_a_substitute_is_refused_and_changes_nothing():
    inv = inventory(2)
    line = OrderLine("line-sub", "order-x", SKU, 3, inv.product.price)
    error = refused(inv, lambda: inv.reserve_for_substitute(line, TODAY), DomainError,
                    ErrorCode.SUBSTITUTE_UNAVAILABLE)
    assert "only 2 available, 3 needed" in error.message
    assert line.allocated_quantity == 0


def test_an_unreleased_preorder_is_no_substitute_even_with_stock():
    inv = inventory(10, product_=product(policy=BackorderPolicy.PREORDER, release_date=TODAY + timedelta(days=7)))
    line = OrderLine("line-sub", "order-x", SKU, 3, inv.product.price)
    error = refused(inv, lambda: inv.reserve_for_substitute(line, TODAY), DomainError,
                    ErrorCode.SUBSTITUTE_UNAVAILABLE)
    assert "not released until" in error.message and line.allocated_quantity == 0
    inv.reserve_for_substitute(line, TODAY + timedelta(days=7))  # from release day it may stand in
    assert line.allocated_quantity == 3


@pytest.mark.parametrize("quantity", [0, -3])
def test_placing_a_line_for_zero_or_fewer_units_is_refused_and_changes_nothing(quantity):
    inv = inventory(10)
    placed = order()
    line = OrderLine("line-bad", placed.id, SKU, quantity, inv.product.price)

    refused(inv, lambda: inv.place_line(placed, line, NOW), InvalidQuantity, ErrorCode.INVALID_QUANTITY)


def test_a_purchase_order_refuses_receiving_more_than_is_outstanding():
    po = PurchaseOrder("po-1", "PO-1", "acme", TODAY, [PurchaseOrderLine(SKU, 5, received_quantity=3)])
    with pytest.raises(OverReceipt) as raised:
        po.receive({SKU: 3})
    assert raised.value.code is ErrorCode.OVER_RECEIPT
    assert (po.lines[0].received_quantity, po.status) == (3, PurchaseOrderStatus.OPEN)


def test_a_purchase_order_receives_in_parts_and_then_is_received():
    po = PurchaseOrder("po-1", "PO-1", "acme", TODAY, [PurchaseOrderLine(SKU, 5), PurchaseOrderLine("CUP-01", 2)])

    assert po.receive({SKU: 2, "CUP-01": 0}) == {SKU: 2}
    assert po.status is PurchaseOrderStatus.PARTIALLY_RECEIVED
    assert po.receive_all() == {SKU: 3, "CUP-01": 2}
    assert po.status is PurchaseOrderStatus.RECEIVED
    with pytest.raises(InvalidState):
        po.receive({SKU: 1})


@pytest.mark.parametrize("quantities", [{SKU: 0}, {}])
def test_a_purchase_order_receipt_of_nothing_is_refused(quantities):
    po = PurchaseOrder("po-1", "PO-1", "acme", TODAY, [PurchaseOrderLine(SKU, 5)])
    with pytest.raises(InvalidQuantity):
        po.receive(quantities)
    assert (po.lines[0].received_quantity, po.status) == (0, PurchaseOrderStatus.OPEN)


@pytest.mark.parametrize("second", [("CUP-01", 99), ("NOT-ON-PO", 1), ("CUP-01", -1)])
def test_a_refused_purchase_order_receipt_changes_no_line(second):
    po = PurchaseOrder("po-1", "PO-1", "acme", TODAY, [PurchaseOrderLine(SKU, 5), PurchaseOrderLine("CUP-01", 2)])
    before = copy.deepcopy(po)

    with pytest.raises(DomainError):
        po.receive({SKU: 2, second[0]: second[1]})

    assert po == before


@pytest.mark.parametrize("sku", ["", "  ", "-MUG", "MUG 01", "M" * 65, "MUG#1"])
def test_check_sku_refuses_malformed_skus(sku):
    with pytest.raises(InvalidInput) as raised:
        check_sku(sku)
    assert raised.value.code is ErrorCode.INVALID_INPUT


def test_check_sku_and_email_normalise_what_they_accept():
    assert check_sku("  MUG-01/blue ") == "MUG-01/blue"
    assert check_email(" Ann@Example.COM ") == "ann@example.com"


@pytest.mark.parametrize("email", ["", "ann", "ann@example", "ann @example.com", "a@b.c" + "c" * 250])
def test_check_email_refuses_malformed_addresses(email):
    with pytest.raises(InvalidInput):
        check_email(email)


@pytest.mark.parametrize(("amount", "currency"), [("-1", "EUR"), ("abc", "EUR"), ("NaN", "EUR"), ("1", "EURO"),
                                                  ("1", "")])
def test_money_refuses_negative_amounts_and_bad_currencies(amount, currency):
    with pytest.raises(InvalidInput):
        Money.of(amount, currency)


def test_money_is_rounded_to_cents_with_an_upper_case_currency():
    assert Money.of("10.004", "eur") == Money(Decimal("10.00"), "EUR")
    assert Money.of("10.006", "eur") == Money(Decimal("10.01"), "EUR")
    assert Money.of(3, "usd") == Money(Decimal("3.00"), "USD")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"backorder_limit": -1}, "backorder_limit"),
        ({"lead_time_days": 3651}, "lead_time_days"),
        ({"backorder_policy": BackorderPolicy.PREORDER}, "release_date"),
        ({"substitutes": [SKU]}, "substitutes"),
        ({"substitutes": ["CUP-01", "CUP-01"]}, "substitutes"),
    ],
)
def test_product_validation_names_the_field_at_fault(changes, field):
    made = product()
    for name, value in changes.items():
        setattr(made, name, value)
    with pytest.raises(DomainError) as raised:
        made.validate()
    assert raised.value.field == field


def test_a_valid_preorder_product_passes_validation():
    Product(SKU, "Mug", Money.of("1", "EUR"), BackorderPolicy.PREORDER, release_date=date(2026, 5, 1)).validate()
