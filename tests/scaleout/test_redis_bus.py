"""RedisBus: events committed in one process reach subscribers in every process, through real Redis."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, date, datetime

import redis.asyncio as aioredis

from domain.causes import Cause
from domain.events import BackorderCreated, EtaChanged, Event
from domain.store.redis_bus import RedisBus
from tests.scaleout.conftest import REDIS_URL, needs_redis
from tests.waiting import PATIENCE

pytestmark = needs_redis

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _eta(backorder: str, sku: str = "MUG", order: str = "o1") -> EtaChanged:
    return EtaChanged(occurred_at=NOW, backorder_id=backorder, order_id=order, sku=sku, customer_email="a@x.com",
                      old_date=date(2026, 3, 10), new_date=date(2026, 3, 20), confidence="HIGH", source="PO-1",
                      cause=Cause.po_date("PO-1", date(2026, 3, 10), date(2026, 3, 20)))


async def _next(stream: object) -> Event:
    return await asyncio.wait_for(stream.queue.get(), PATIENCE)  # type: ignore[attr-defined]


async def test_an_event_published_by_one_process_reaches_subscribers_of_all():
    channel = f"test:{secrets.token_hex(4)}"
    one, two = RedisBus(REDIS_URL, channel=channel), RedisBus(REDIS_URL, channel=channel)
    await one.start()
    await two.start()
    try:
        here, there = one.subscribe(), two.subscribe()
        created = BackorderCreated(occurred_at=NOW, backorder_id="b1", order_id="o1", sku="MUG",
                                   customer_email="a@x.com", quantity=2, queue_position=1,
                                   eta_date=date(2026, 3, 10), eta_confidence="HIGH")
        await one.publish([created, _eta("b1")])
        # the same events, in the same order, rebuilt as the same value objects on both sides
        assert [await _next(there), await _next(there)] == [created, _eta("b1")]
        assert [await _next(here), await _next(here)] == [created, _eta("b1")]
        assert (one.published, two.received) == (2, 2)
    finally:
        await one.stop()
        await two.stop()


async def test_subscribers_filter_and_other_channels_are_not_heard():
    channel = f"test:{secrets.token_hex(4)}"
    bus, stranger = RedisBus(REDIS_URL, channel=channel), RedisBus(REDIS_URL, channel=channel + ":other")
    await bus.start()
    await stranger.start()
    try:
        cups = bus.subscribe(lambda e: getattr(e, "sku", None) == "CUP")
        await stranger.publish([_eta("b0", sku="CUP")])  # another deployment's channel
        await bus.publish([_eta("b1", sku="MUG"), _eta("b2", sku="CUP")])
        assert (await _next(cups)).backorder_id == "b2"  # type: ignore[attr-defined]
        # nothing else came: a last CUP event is the next one heard (Redis delivers in the order published),
        # rather than a silence waited out, which a slow listener would also give
        await bus.publish([_eta("b3", sku="CUP")])
        assert (await _next(cups)).backorder_id == "b3"  # type: ignore[attr-defined]
    finally:
        await bus.stop()
        await stranger.stop()


async def test_a_malformed_message_is_ignored_and_the_listener_goes_on():
    channel = f"test:{secrets.token_hex(4)}"
    bus = RedisBus(REDIS_URL, channel=channel)
    await bus.start()
    raw = aioredis.from_url(REDIS_URL)
    try:
        stream = bus.subscribe()
        await raw.publish(channel, b"not json")
        await raw.publish(channel, b'{"events": [{"kind": "NoSuchEvent"}]}')
        await bus.publish([_eta("b1")])
        assert (await _next(stream)).backorder_id == "b1"  # type: ignore[attr-defined]
        assert bus.received == 1
    finally:
        await raw.aclose()
        await bus.stop()


async def test_redis_unreachable_does_not_fail_the_use_case_that_already_committed():
    bus = RedisBus("redis://127.0.0.1:1/0", channel="test:down")  # nothing listens on port 1
    await bus.publish([_eta("b1")])  # logged, counted, not raised
    assert (bus.published, bus.publish_failures) == (0, 1)
    await bus.stop()


async def test_health_says_whether_the_bus_is_subscribed():
    channel = f"test:{secrets.token_hex(4)}"
    bus = RedisBus(REDIS_URL, channel=channel)
    assert not bus.connected
    await bus.start()
    try:
        assert bus.connected
    finally:
        await bus.stop()
    down = RedisBus("redis://127.0.0.1:1/0", channel=channel)
    assert not down.connected
