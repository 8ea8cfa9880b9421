"""Every change is a domain event: the API's subscriptions, webhooks and notifications are fed from them, so a use
case that commits a change and publishes nothing is a change nobody downstream hears of (upsertLocation,
retireLocation, upsertExchangeRate and updateNotificationPreferences were such changes).

The walk: every public use case of the desk is either run here on a small shop, where a successful call must change
the store and publish at least one event, or named as one that changes nothing (run too, and must change nothing);
every GraphQL mutation either calls a use case of the desk (found in its resolver's source) or is named below as
something that is not a change to the business (access, and the delivery plumbing of notifications and webhooks).
A new use case or mutation that is neither fails here until it is given a scenario, and so an event.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.bus import InProcessBus
from domain.preferences import SubstituteConsent
from domain.services import BackorderDesk, LineRequest, ProductInput
from domain.use_cases.supplier_history import HistoricalLine
from tests.integration.support import (
    ALT,
    LAMP,
    PO_DATE,
    backorder_of,
    clock_of,
    heard,
    lamp_shop,
    order,
    snapshot,
)

Given = Callable[[BackorderDesk], Awaitable[dict[str, Any]]]
When = Callable[[BackorderDesk, dict[str, Any]], Awaitable[object]]


@dataclass(frozen=True)
class Scenario:
    given: Given
    when: When


async def _nothing(desk: BackorderDesk) -> dict[str, Any]:
    return {}


async def _shop(desk: BackorderDesk) -> dict[str, Any]:
    return {"shop": await lamp_shop(desk)}


async def _waiting(desk: BackorderDesk) -> dict[str, Any]:
    """ann ordered 5 lamps with 3 on hand: 2 wait, covered by PO-1."""
    shop = await lamp_shop(desk)
    placed = await order(desk, "ann@example.com", 5)
    return {"shop": shop, "order": placed, "backorder_id": (await backorder_of(placed)).id}


async def _in_stock_order(desk: BackorderDesk) -> dict[str, Any]:
    await lamp_shop(desk)
    return {"order": await order(desk, "ann@example.com", 2)}


async def _consented_substitute_arrived(desk: BackorderDesk) -> dict[str, Any]:
    await lamp_shop(desk, alt_on_hand=0)
    placed = await order(desk, "ann@example.com", 5)
    await desk.set_backorder_preferences((await backorder_of(placed)).id, substitutes=SubstituteConsent.ANY_LISTED)
    await desk.receive_stock(ALT, 5)
    return {}


async def _eta_gone_stale(desk: BackorderDesk) -> dict[str, Any]:
    await lamp_shop(desk, on_hand=0, po_units=2)
    await order(desk, "ann@example.com", 2)
    clock_of(desk).advance(timedelta(days=10))  # PO-1 was due on 11 March and has not come
    return {}


async def _north(desk: BackorderDesk) -> dict[str, Any]:
    await desk.upsert_location("NORTH", "North shed")
    return {}


# the use cases that change something, each with a successful call of it
CHANGES: dict[str, Scenario] = {
    "upsert_product": Scenario(_nothing, lambda d, g: d.upsert_product(
        ProductInput(sku="DESK-1", name="Desk", price=Decimal("120.00")))),
    "upsert_supplier": Scenario(_nothing, lambda d, g: d.upsert_supplier(None, "Acme", 7)),
    "receive_stock": Scenario(_waiting, lambda d, g: d.receive_stock(LAMP, 1)),
    "adjust_stock": Scenario(_shop, lambda d, g: d.adjust_stock(LAMP, -1, "dropped")),
    "create_purchase_order": Scenario(_shop, lambda d, g: d.create_purchase_order(
        g["shop"].supplier_id, PO_DATE, [LineRequest(LAMP, 2)], number="PO-2")),
    "update_purchase_order": Scenario(_waiting, lambda d, g: d.update_purchase_order(
        g["shop"].po_id, expected_date=date(2026, 3, 12))),
    "receive_purchase_order": Scenario(_waiting, lambda d, g: d.receive_purchase_order(g["shop"].po_id)),
    "place_order": Scenario(_shop, lambda d, g: order(d, "ann@example.com", 5)),
    "set_shipping_preference": Scenario(_waiting, lambda d, g: d.set_shipping_preference(g["order"].id, True)),
    "cancel_backorder": Scenario(_waiting, lambda d, g: d.cancel_backorder(g["backorder_id"])),
    "accept_substitute": Scenario(_waiting, lambda d, g: d.accept_substitute(g["backorder_id"], ALT)),
    "reprioritize_backorder": Scenario(_waiting, lambda d, g: d.reprioritize_backorder(
        g["backorder_id"], 5, "a loyal customer", "agent-kim")),
    "offer_substitute": Scenario(_waiting, lambda d, g: d.offer_substitute(g["backorder_id"], ALT, "agent-kim")),
    "offer_goodwill": Scenario(_waiting, lambda d, g: d.offer_goodwill(
        g["backorder_id"], credit_amount=None, credit_currency=None, discount_code="SORRY10",
        note="for the wait", agent="agent-kim")),
    "ship_allocated": Scenario(_in_stock_order, lambda d, g: d.ship_allocated(g["order"].id)),
    "set_backorder_preferences": Scenario(_waiting, lambda d, g: d.set_backorder_preferences(
        g["backorder_id"], cancel_if_not_by=date(2026, 4, 30))),
    "set_notification_preferences": Scenario(_waiting, lambda d, g: d.set_notification_preferences(
        "ann@example.com", {"timezone": "Europe/Berlin"}, by="agent-kim", by_agent=True)),
    "decline_substitute": Scenario(_waiting, lambda d, g: d.decline_substitute(g["backorder_id"], ALT)),
    "apply_substitute_consents": Scenario(_consented_substitute_arrived, lambda d, g: d.apply_substitute_consents()),
    "refresh_stale_etas": Scenario(_eta_gone_stale, lambda d, g: d.refresh_stale_etas()),
    "import_purchase_orders": Scenario(_shop, lambda d, g: d.import_purchase_orders(
        [HistoricalLine("OLD-1", "Lumen Ltd", LAMP, 4, date(2026, 1, 10), date(2026, 1, 12))])),
    "upsert_location": Scenario(_nothing, lambda d, g: d.upsert_location("NORTH", "North shed")),
    "retire_location": Scenario(_north, lambda d, g: d.retire_location("NORTH")),
    "upsert_exchange_rate": Scenario(_nothing, lambda d, g: d.upsert_exchange_rate("USD", "EUR", "0.92")),
}

# the use cases that change nothing (run, and checked to change nothing)
READS: dict[str, Scenario] = {
    "preview_receipt": Scenario(_waiting, lambda d, g: d.preview_receipt(LAMP, 2)),
    "preview_reprioritization": Scenario(_waiting, lambda d, g: d.preview_reprioritization(g["backorder_id"], 5)),
    "supplier_performance": Scenario(_shop, lambda d, g: d.supplier_performance(None, None)),
}

# not use cases of their own: they finish what a change already published
COMPLETIONS = {
    "fold_pending_serves": "writes into their rows the backorders a receipt served and announced (its events "
                           "were published with the receipt)",
    "folded": "waits for those folds",
    "close": "shut-down: waits for those folds, or cancels them and leaves their ranges pending (folded by the next "
             "start's round: tests/integration/test_fold_interrupted.py)",
    "tell_pending_serves": "writes the outbox's and the webhooks' part of receipts recorded as ranges (their event "
                           "was published with the receipt)",
    "put_away_staged_receipts": "finishes the receipts a crash left part put away: its chunks publish their "
                                "backorders' events (tests/integration/test_staged_receipt.py)",
}

# mutations that change no business state: who may see what, and how notifications and webhooks are delivered
NOT_A_BUSINESS_CHANGE = {
    "requestPortalLink": "access: a sign-in link for a customer",
    "customerPortalLink": "access: a sign-in link an agent makes for a customer",
    "redeemPortalLink": "access: a session",
    "signInWithOrder": "access: a session",
    "signOut": "access: ends a session (SessionEnded, so live updates stop)",
    "createApiToken": "access: a staff token",
    "revokeApiToken": "access: ends a staff token (SessionEnded)",
    "signInWithApiToken": "access: a session",
    "retryNotification": "delivery: sends a notification again",
    "subscribeToProduct": "delivery: a back-in-stock notice for someone not waiting on a backorder",
    "createWebhookEndpoint": "delivery: where events are sent",
    "updateWebhookEndpoint": "delivery: where events are sent",
    "deleteWebhookEndpoint": "delivery: where events are sent",
    "redeliverWebhook": "delivery: sends a delivered event again",
}


def _use_cases() -> set[str]:
    return {name for name, member in inspect.getmembers(BackorderDesk, inspect.iscoroutinefunction)
            if not name.startswith("_")}


def test_every_use_case_of_the_desk_is_walked():
    unwalked = _use_cases() - set(CHANGES) - set(READS) - set(COMPLETIONS)
    assert not unwalked, (f"{sorted(unwalked)}: give each a scenario in CHANGES (a successful call must publish an "
                          "event) or, if it changes nothing, in READS")
    assert not (set(CHANGES) | set(READS) | set(COMPLETIONS)) - _use_cases(), "a use case named here is gone"


def test_every_mutation_is_a_use_case_of_the_desk_or_no_business_change():
    from api.schema import build_schema

    schema = build_schema()
    definition = schema.get_type_by_name("Mutation")
    assert definition is not None and hasattr(definition, "fields")
    unaccounted, calls = [], {}
    for field in definition.fields:
        name = schema.config.name_converter.get_graphql_name(field)
        assert field.base_resolver is not None
        source = inspect.getsource(inspect.unwrap(field.base_resolver.wrapped_func))
        calls[name] = set(re.findall(r"\bdesk\.([a-z_]+)\(", source))
        if not calls[name] and name not in NOT_A_BUSINESS_CHANGE:
            unaccounted.append(name)
    assert not unaccounted, (f"mutations {unaccounted} call no use case of the desk: make the change a use case "
                             "(with an event, walked here), or say in NOT_A_BUSINESS_CHANGE why it is none")
    assert not set(NOT_A_BUSINESS_CHANGE) - set(calls), "a mutation named here is gone"
    assert not {n for n in NOT_A_BUSINESS_CHANGE if calls[n]}, "a mutation named here now calls a use case"
    for name, used in calls.items():
        assert used <= set(CHANGES) | set(READS), f"{name} calls {used - set(CHANGES) - set(READS)}, not walked"


@pytest.mark.parametrize("use_case", sorted(CHANGES))
async def test_a_successful_change_publishes_an_event(use_case: str, desk: BackorderDesk, bus: InProcessBus):
    scenario = CHANGES[use_case]
    given = await scenario.given(desk)
    before = await snapshot()
    with bus.subscribe() as stream:
        await scenario.when(desk, given)
        await desk.folded()
        events = heard(stream)
    assert await snapshot() != before, f"the scenario of {use_case} changed nothing: it proves nothing"
    assert events, f"{use_case} changed the store and published no event"


@pytest.mark.parametrize("use_case", sorted(READS))
async def test_a_read_changes_nothing_and_publishes_nothing(use_case: str, desk: BackorderDesk, bus: InProcessBus):
    scenario = READS[use_case]
    given = await scenario.given(desk)
    before = await snapshot()
    with bus.subscribe() as stream:
        await scenario.when(desk, given)
        events = heard(stream)
    assert (await snapshot(), events) == (before, [])
