"""The portal's session read (`find_signed_in`: the session, the customer and their preferences in one statement)
gives the same preferences as `get_preferences`, whatever was saved. Two readers of one table drifted once: the
one-statement read left out the backorder defaults (cancel if not by, substitute consent) added to the table
after it was written, so the portal showed a customer the defaults instead of their choices."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.customers import SUPPORTED_LANGUAGES, NotificationPreferences
from domain.model import Customer, CustomerTier
from domain.preferences import SubstituteConsent
from domain.store import models as t
from domain.store import portal

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
minutes = st.builds(time, st.integers(0, 23), st.integers(0, 59))
preferences = st.builds(
    NotificationPreferences,
    email=st.just("ann@example.com"),
    by_email=st.booleans(),
    by_sms=st.booleans(),
    phone=st.one_of(st.none(), st.from_regex(r"\+44770090[0-9]{4}", fullmatch=True)),
    quiet_hours_start=st.one_of(st.none(), minutes),
    quiet_hours_end=st.one_of(st.none(), minutes),
    timezone=st.sampled_from(["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"]),
    language=st.sampled_from(SUPPORTED_LANGUAGES),
    cancel_if_not_by=st.one_of(st.none(), st.dates(date(2026, 3, 2), date(2030, 12, 31))),
    substitutes=st.sampled_from(SubstituteConsent),
)


async def _example(chosen: NotificationPreferences) -> None:
    await portal.save_preferences(chosen)
    token = await portal.start_session(chosen.email, None, NOW, timedelta(hours=1))
    signed_in = await portal.find_signed_in(token, NOW)
    assert signed_in is not None
    assert signed_in.preferences == await portal.get_preferences(chosen.email) == chosen


def _explore(loop: Any) -> None:
    """Runs in a thread: hypothesis is synchronous; the database lives on the test's loop."""

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(preferences)
    def check(chosen: NotificationPreferences) -> None:
        asyncio.run_coroutine_threadsafe(_example(chosen), loop).result(60)

    check()


async def test_the_session_read_gives_the_customers_saved_preferences_whatever_they_are(db):
    await t.Customer.create(email="ann@example.com", name="Ann Baker", tier="VIP")
    await asyncio.to_thread(_explore, asyncio.get_running_loop())


async def test_the_session_read_without_a_customer_or_preferences_gives_none_and_the_defaults(db):
    token = await portal.start_session("bob@example.com", "order-1", NOW, timedelta(hours=1))

    signed_in = await portal.find_signed_in(token, NOW)

    assert signed_in is not None and signed_in.order_id == "order-1" and signed_in.customer is None
    assert signed_in.preferences == NotificationPreferences(email="bob@example.com")
    assert signed_in.expires_at == NOW + timedelta(hours=1)


async def test_the_session_read_gives_the_customer_and_nothing_for_an_ended_or_expired_session(db):
    await t.Customer.create(email="ann@example.com", name="Ann Baker", phone="+447700900123", tier="VIP")
    token = await portal.start_session("ann@example.com", None, NOW, timedelta(hours=1))

    signed_in = await portal.find_signed_in(token, NOW)

    assert signed_in is not None
    assert signed_in.customer == Customer("ann@example.com", "Ann Baker", "+447700900123", CustomerTier.VIP)
    assert await portal.find_signed_in(token, NOW + timedelta(hours=1)) is None
    await portal.end_session(token, NOW)
    assert await portal.find_signed_in(token, NOW) is None
    assert await portal.find_signed_in("", NOW) is None
