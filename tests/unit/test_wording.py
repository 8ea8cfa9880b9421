"""Causes are data, worded in one place: every kind has words for staff and for customers, and what a
customer reads never carries what only the shop may know (agents, reasons, order or PO numbers, SKUs)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import events as ev
from domain.causes import Actor, Cause, CauseKind, RequestedBy
from domain.customers import SUPPORTED_LANGUAGES
from notifications import wording

SECRETS = st.sampled_from(["PO-SECRET-7", "agent-kim", "VIP complaint", "BD-260302-XYZ", "SKU-HIDDEN"])
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

causes = st.builds(
    Cause,
    kind=st.sampled_from([k for k in CauseKind if k is not CauseKind.LEGACY]),
    actor=st.sampled_from(Actor),
    quantity=st.none() | st.integers(1, 99),
    of_quantity=st.none() | st.integers(1, 99),
    reference=SECRETS, agent=SECRETS, reason=SECRETS,
    requested_by=st.none() | st.sampled_from(RequestedBy),
    old=st.none() | st.just("2026-03-10"), new=st.none() | st.just("2026-03-17"),
    lines=st.just((("SKU-HIDDEN", 4, 6),)),
)


@settings(max_examples=200, deadline=None)
@given(cause=causes, kind=st.sampled_from(sorted(wording.CUSTOMER_HISTORY_KINDS)),
       language=st.sampled_from(SUPPORTED_LANGUAGES))
def test_a_customer_never_reads_the_shops_references_agents_or_reasons(cause, kind, language):
    words = wording.customer_cause(kind, cause, language)
    assert words.strip()
    assert [secret for secret in ("PO-SECRET", "agent-kim", "VIP complaint", "BD-2603", "SKU-HIDDEN")
            if secret in words] == []


@settings(max_examples=100, deadline=None)
@given(cause=causes)
def test_every_cause_survives_the_round_trip_through_its_stored_form(cause):
    assert Cause.from_dict(cause.to_dict()) == cause


def test_every_kind_of_cause_has_staff_words_and_customer_words():
    for kind in CauseKind:
        if kind in (CauseKind.LEGACY, CauseKind.REPRIORITIZED):  # PRIORITY entries are not shown to customers
            continue
        worded = kind in wording.CUSTOMER_CAUSES or kind in (CauseKind.CANCELLED, CauseKind.PO_CHANGED,
                                                              CauseKind.GOODWILL)
        assert worded, f"{kind} has no customer wording: customers would read a neutral phrase"
    for kind in CauseKind:
        cause = Cause(kind=kind, reference="R", agent="A", quantity=1, of_quantity=2, text="old words")
        assert wording.staff_cause(cause) != kind.value, f"{kind} has no staff wording"


def test_who_cancelled_decides_what_the_customer_reads():
    own = Cause.cancelled(2, "customer", "", None)
    asked = Cause.cancelled(2, "agent-kim", "customer found one locally", RequestedBy.CUSTOMER)
    shops = Cause.cancelled(2, "agent-kim", "discontinued", RequestedBy.SHOP)
    unsaid = Cause.cancelled(2, "agent-kim", "", None)
    assert [wording.customer_cause("QUANTITY", c) for c in (own, asked, shops, unsaid)] == [
        "2 cancelled at your request", "2 cancelled at your request", "2 cancelled by the shop", "2 cancelled"]
    assert wording.staff_cause(asked) == (
        "2 cancelled by agent-kim at the customer's request: customer found one locally")


def test_a_history_row_from_before_causes_were_data_stays_readable():
    legacy = Cause.from_dict("3 cancelled by agent-kim: customer called")
    assert legacy.kind is CauseKind.LEGACY
    assert wording.staff_cause(legacy) == "3 cancelled by agent-kim: customer called"
    assert wording.customer_cause("QUANTITY", legacy) == "quantity changed"  # nothing of the agent's words


def test_live_updates_use_one_arrow_for_every_before_and_after():
    ids = {"backorder_id": "b1", "order_id": "o1", "sku": "LAMP", "customer_email": "ann@example.com"}
    moved = ev.EtaChanged(occurred_at=NOW, **ids, old_date=date(2026, 12, 11), new_date=date(2026, 12, 15),
                          confidence="HIGH", source="PURCHASE_ORDER",
                          cause=Cause.po_date("PO-1", date(2026, 12, 11), date(2026, 12, 15)))
    status = ev.BackorderStatusChanged(occurred_at=NOW, **ids, old_status="WAITING", new_status="ALLOCATED",
                                       cause=Cause(kind=CauseKind.PO_RECEIVED, reference="PO-1"))
    for event in (moved, status):
        for staff in (True, False):
            message = wording.update_message(event, staff=staff)
            assert "->" not in message and "→" in message, message
    assert wording.update_message(moved, staff=True) == (
        "expected date 2026-12-11 → 2026-12-15: purchase order PO-1: date 2026-12-11 → 2026-12-15")
    assert wording.update_message(moved, staff=False) == (
        "expected date 11 December 2026 → 15 December 2026: supplier date changed")


def test_an_event_carries_its_cause_through_the_bus_and_the_event_log():
    event = ev.EtaChanged(occurred_at=NOW, backorder_id="b1", order_id="o1", sku="LAMP", customer_email="a@x.com",
                          old_date=date(2026, 3, 10), new_date=date(2026, 3, 20), confidence="HIGH",
                          source="PURCHASE_ORDER", cause=Cause.po_date("PO-1", date(2026, 3, 10), date(2026, 3, 20)))
    assert ev.Event.from_dict(event.to_dict()) == event
    old = {**event.to_dict(), "cause": "purchase order PO-1: date 2026-03-10 -> 2026-03-20"}  # logged before
    assert ev.Event.from_dict(old).cause == Cause.legacy("purchase order PO-1: date 2026-03-10 -> 2026-03-20")


def test_goodwill_is_worded_in_the_customers_language_and_money_format():
    both = Cause(kind=CauseKind.GOODWILL, agent="sam", new="1234.50 EUR", reference="SORRY10")
    assert wording.customer_cause("GOODWILL", both) == "a credit of €1,234.50 and a discount code for the wait"
    assert wording.customer_cause("GOODWILL", both, "de") == (
        "eine Gutschrift von 1.234,50\xa0€ und ein Rabattcode für die Wartezeit")
    credit = Cause(kind=CauseKind.GOODWILL, agent="sam", new="5.00 EUR")
    assert wording.customer_cause("GOODWILL", credit, "fr") == "un avoir de 5,00\xa0€ pour l’attente"
    code = Cause(kind=CauseKind.GOODWILL, agent="sam", reference="WAIT5")
    assert wording.customer_cause("GOODWILL", code, "es") == "un código de descuento por la espera"
    words = wording.customer_cause("GOODWILL", both)
    assert "sam" not in words and "SORRY10" not in words and "sam" in wording.staff_cause(both)
