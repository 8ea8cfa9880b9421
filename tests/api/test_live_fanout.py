"""The live updates' hub (api/live.py) as a property: whatever events are committed (one by one, or a long queue's
change folded into one QueueChanged) and whoever listens (staff with and without filters, customers with an account
or for one order, on one socket or several), each subscription is sent exactly the events its reader may see, in
the order they were committed, each once, under its own operation id; nobody is sent what another kind of reader
was. The hub's reads and executions are replaced by stand-ins that say which event and which kind of reader a frame
was made for; the expected streams are worked out here, from the rules, not by the hub's own code."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import api.live as live
import api.schema.subscriptions as subscriptions
from api import types as gt
from api.context import Context, Principal
from domain import events as ev
from domain.bus import InProcessBus
from domain.causes import Actor, Cause, CauseKind
from tests.waiting import eventually

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CAUSE = Cause(kind=CauseKind.STOCK_RECEIVED, actor=Actor.AGENT, quantity=5, reference="MAIN", reason="pallet")
CUSTOMERS = ["ann@x", "bob@x", "cy@x"]


class Sink:
    """A socket as the hub sees it: the frames written to it, decoded."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def write_frame(self, frame: bytes) -> bool:
        length = frame[1] & 0x7F
        start = 2 if length < 126 else 4 if length == 126 else 10
        self.messages.append(json.loads(frame[start:]))
        return True

    def buffered(self) -> int:
        return 0

    def drop(self, code: int, reason: str) -> None:
        raise AssertionError(f"dropped with {code}: {reason}")


class Executor:
    """Stands in for graphql-core's: one per document, with variables (the hub groups by them)."""

    def __init__(self, document: str) -> None:
        self.operation = document
        self.variable_values = type("Variables", (), {"coerced": {}})()


@st.composite
def events(draw: st.DrawFn) -> ev.Event:
    n = draw(st.integers(0, 5))
    ids = {"occurred_at": AT + timedelta(seconds=draw(st.integers(0, 3))), "backorder_id": f"b{n}",
           "order_id": f"o{n % 4}", "sku": draw(st.sampled_from(["MUG", "CUP"])),
           "customer_email": CUSTOMERS[n % 3]}
    kind = draw(st.sampled_from(["A", "S", "E", "cancel", "reprioritise", "run"]))
    if kind == "A":
        return ev.BackorderAllocated(**ids, quantity=1, allocated_quantity=1, backordered_quantity=1,
                                     reason="first in line", cause=CAUSE)
    if kind == "S":
        return ev.BackorderStatusChanged(**ids, old_status="WAITING", new_status="ALLOCATED", cause=CAUSE)
    if kind == "E":
        return ev.EtaChanged(**ids, old_date=None, new_date=None, confidence="HIGH", source="ALLOCATED", cause=CAUSE)
    if kind == "cancel":
        return ev.BackorderCancelled(**ids, quantity=1, released_quantity=0, remaining_quantity=0, cancelled_by="x",
                                     reason="r")
    if kind == "reprioritise":  # agents only
        return ev.BackorderReprioritized(**ids, priority=5, reason="VIP complaint", agent="test agent")
    run = [ev.BackorderStatusChanged(**{**ids, "backorder_id": f"b{m}", "order_id": f"o{m % 4}",
                                        "customer_email": CUSTOMERS[m % 3]},
                                     old_status="WAITING", new_status="ALLOCATED", cause=CAUSE)
           for m in draw(st.lists(st.integers(0, 5), min_size=1, max_size=8))]
    [folded] = ev.compact(run, min_run=1)
    return folded


@st.composite
def readers(draw: st.DrawFn) -> list[tuple[Principal, str | None, str | None, str, str]]:
    """(principal, order filter, SKU filter, document, operation id) for each subscription."""
    out = []
    for _ in range(draw(st.integers(1, 8))):
        who = draw(st.sampled_from(["agent", "admin", "customer", "one order"]))
        email = draw(st.sampled_from(CUSTOMERS))
        if who in ("agent", "admin"):
            principal = Principal(role=who, name=who)
        elif who == "customer":
            principal = Principal(role="customer", name=email, customer_email=email)
        else:
            principal = Principal(role="customer", name=email, customer_email=email,
                                  order_id=draw(st.sampled_from(["o0", "o1", "o2", "o3"])))
        out.append((principal, draw(st.none() | st.sampled_from(["o0", "o1", "o2", "o3"])),
                    draw(st.none() | st.sampled_from(["MUG", "CUP"])), draw(st.sampled_from(["doc A", "doc B"])),
                    draw(st.sampled_from(["1", "updates", "x"]))))
    return out


def may_see(principal: Principal, order_id: str | None, sku: str | None, event: ev.BackorderEvent) -> bool:
    """The rules, as the portal and the console are promised them."""
    if order_id is not None and event.order_id != order_id or sku is not None and event.sku != sku:
        return False
    if principal.is_staff:
        return True
    return (event.customer_email == principal.customer_email and gt.visible_to_customer(event)
            and (principal.order_id is None or event.order_id == principal.order_id))


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    async def shared_updates(event: ev.BackorderEvent, kinds: set[tuple[str, bool]], views: Any) -> dict[Any, Any]:
        return {kind: (event, kind) for kind in kinds}

    async def execute(subscription: live.LiveSubscription, update: Any) -> str:
        event, (role, account) = update
        return json.dumps({"data": {"event": f"{event.kind} {event.backorder_id} {event.order_id}", "role": role,
                                    "account": account, "document": subscription.executor.operation}})

    monkeypatch.setattr(subscriptions, "shared_updates", shared_updates)
    monkeypatch.setattr(subscriptions.Views, "read", lambda self, events, customers: asyncio.sleep(0))
    monkeypatch.setattr(live, "_execute", execute)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(listeners=readers(), committed=st.lists(st.lists(events(), min_size=1, max_size=5), max_size=6))
def test_each_subscription_is_sent_exactly_what_its_reader_may_see_in_order(stand_ins, listeners, committed):
    asyncio.run(_fan_out(listeners, committed))


async def _fan_out(listeners: list[Any], committed: list[list[ev.Event]]) -> None:
    bus = InProcessBus()
    hub = live.LiveUpdates(bus)
    context = Context(desk=None, settings=None, bus=bus, principal=None)  # type: ignore[arg-type]
    sinks = [Sink() for _ in listeners]
    streams = []
    for (principal, order_id, sku, document, operation_id), sink in zip(listeners, sinks, strict=True):
        subscription = live.LiveSubscription(hub, principal, context, order_id=order_id, sku=sku,
                                             operation=live.Operation(operation_id, sink),
                                             executor=Executor(document))
        streams.append(asyncio.ensure_future(anext(subscription.stream(), None)))
    await asyncio.sleep(0)  # every stream attached to the bus
    assert bus.subscribers == len(listeners)
    for batch in committed:
        await bus.publish(batch)  # one transaction's events, delivered together
    await eventually(lambda: hub.idle, what="the hub sends every update it was offered")
    opened = list(ev.expand(e for batch in committed for e in batch))
    for (principal, order_id, sku, document, operation_id), sink in zip(listeners, sinks, strict=True):
        expected = [{"id": operation_id, "type": "next", "payload": {"data": {
            "event": f"{e.kind} {e.backorder_id} {e.order_id}", "role": principal.role,
            "account": principal.has_account, "document": document}}}
            for e in opened if isinstance(e, ev.BackorderEvent) and may_see(principal, order_id, sku, e)]
        assert sink.messages == expected, (principal, order_id, sku)
    for stream in streams:
        stream.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    await hub.stop()
    assert bus.subscribers == 0
