"""The consent rule of an agent's change to how a customer is told (domain.customers), over any preferences and any
consent on record: what an agent's change leaves switched on is either what was on before (to the same number) or
what the customer themselves consented to; turning a channel off is never refused; and the customer's own save
records consent to exactly the channels it leaves on."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from domain.customers import ChannelConsent, ConsentRequired, NotificationPreferences, agent_may_change

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PHONES = st.sampled_from([None, "+447700900111", "+447700900222"])
WHEN = st.sampled_from([None, datetime(2026, 1, 5, tzinfo=UTC)])


@st.composite
def prefs(draw: st.DrawFn) -> NotificationPreferences:
    return NotificationPreferences(email="ann@example.com", by_email=draw(st.booleans()), by_sms=draw(st.booleans()),
                                   phone=draw(PHONES))


consents = st.builds(ChannelConsent, WHEN, WHEN, PHONES)


def _may(before: NotificationPreferences, after: NotificationPreferences, consent: ChannelConsent) -> bool:
    try:
        agent_may_change(before, after, consent)
    except ConsentRequired:
        return False
    return True


@given(prefs(), prefs(), consents)
def test_what_an_agent_leaves_on_was_on_before_or_is_consented_to(before, after, consent):
    if not _may(before, after, consent):
        return
    if after.by_email:
        assert before.by_email or consent.email_at is not None
    if after.by_sms:
        assert (before.by_sms and before.phone == after.phone) or (
            consent.sms_at is not None and consent.sms_phone == after.phone)


@given(prefs(), consents, st.booleans(), st.booleans())
def test_turning_channels_off_is_never_refused(before, consent, email_off, sms_off):
    after = dataclasses.replace(before, by_email=before.by_email and not email_off,
                                by_sms=before.by_sms and not sms_off)
    assert _may(before, after, consent)


@given(prefs(), consents)
def test_the_customers_own_save_records_consent_to_exactly_the_channels_it_leaves_on(saved, consent):
    recorded = consent.after_customer_saved(saved, NOW)
    assert (recorded.email_at is not None) == saved.by_email
    assert (recorded.sms_at is not None) == saved.by_sms
    assert recorded.sms_phone == (saved.phone if saved.by_sms else None)
    # and with it on record, an agent may turn back on whatever the customer left on
    off = dataclasses.replace(saved, by_email=False, by_sms=False)
    assert _may(off, saved, recorded)
