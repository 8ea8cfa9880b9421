"""The outbox recorder writes a receipt's events for thousands of customers in a few statements (issue 15).
Whatever the mix of customers, of digests already pending or closed, and of batch sizes, what it leaves is
what recording them one customer at a time left: every event stored as given and not yet in a digest, and
exactly one pending digest for each customer who had none (a pending one is kept, a closed one is not
reused). Runs on SQLite and, with BACKORDER_TEST_POSTGRES_URL, on PostgreSQL (arrays, COPY, the locks)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise.transactions import in_transaction

from domain.model import new_id
from domain.store import notify as store

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
EMAILS = [f"c{n}@example.com" for n in range(6)]

batches = st.lists(st.lists(st.tuples(st.sampled_from(EMAILS), st.integers(0, 10**6)), min_size=1, max_size=30),
                   min_size=1, max_size=3)
digests_before = st.dictionaries(st.sampled_from(EMAILS), st.sampled_from(["PENDING", "DONE"]), max_size=6)


def row(email: str, n: int) -> dict[str, object]:
    return {"email": email, "backorder_id": f"b{n}", "order_id": f"o{n}", "sku": "LAMP", "kind": "EtaChanged",
            "data": {"old_date": None, "new_date": "2026-03-10", "n": n, "note": "ünïcode \"quoted\""},
            "occurred_at": NOW + timedelta(microseconds=n)}


async def _example(before: dict[str, str], calls: list[list[tuple[str, int]]]) -> None:
    await store.NotificationEvent.all().delete()
    await store.Digest.all().delete()
    kept = {}
    for email, status in before.items():
        kept[email] = await store.Digest.create(id=new_id(), email=email, status=status, due_at=NOW, created_at=NOW)
    recorded: list[dict[str, object]] = []
    for call in calls:
        rows = [row(email, n) for email, n in call]
        async with in_transaction() as conn:
            await store.record_events(rows, NOW, WINDOW, conn)
        recorded += rows
    stored = await store.NotificationEvent.all().order_by("id").values(
        "email", "backorder_id", "order_id", "sku", "kind", "data", "occurred_at", "digest_id")
    assert [{k: v for k, v in s.items() if k != "digest_id"} for s in stored] == recorded
    assert all(s["digest_id"] is None for s in stored)
    pending = await store.Digest.filter(status="PENDING").values("id", "email", "due_at")
    by_email: dict[str, list[dict[str, object]]] = {}
    for digest in pending:
        by_email.setdefault(str(digest["email"]), []).append(digest)
    told = {str(r["email"]) for r in recorded}
    for email in told | {e for e, s in before.items() if s == "PENDING"}:
        assert len(by_email.get(email, [])) == 1, (email, by_email.get(email))
        [digest] = by_email[email]
        if before.get(email) == "PENDING":
            assert digest["id"] == kept[email].id  # extended, not replaced
        else:
            assert digest["due_at"] == NOW + WINDOW
    assert set(by_email) == told | {e for e, s in before.items() if s == "PENDING"}


def _explore(loop: asyncio.AbstractEventLoop) -> None:
    """Runs in a thread: hypothesis is synchronous; the database lives on the test's loop."""

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(digests_before, batches)
    def check(before: dict[str, str], calls: list[list[tuple[str, int]]]) -> None:
        asyncio.run_coroutine_threadsafe(_example(before, calls), loop).result(120)

    check()


async def test_recording_in_bulk_leaves_what_recording_per_customer_left(db):
    await asyncio.to_thread(_explore, asyncio.get_running_loop())


async def test_a_receipt_for_more_customers_than_a_statement_takes_opens_a_digest_for_each(db):
    # SQLite takes at most 999 parameters in a statement: the recorder goes in slices there
    rows = [row(f"many{n}@example.com", n) for n in range(2_100)] + [row("many7@example.com", 99_999)]
    await store.Digest.create(id=new_id(), email="many5@example.com", due_at=NOW, created_at=NOW)
    async with in_transaction() as conn:
        await store.record_events(rows, NOW, WINDOW, conn)
    assert await store.NotificationEvent.all().count() == 2_101
    assert await store.Digest.filter(status="PENDING").count() == 2_100
    assert await store.Digest.filter(email="many7@example.com").count() == 1


async def test_a_receipt_for_more_customers_than_postgresql_has_lock_slots_is_recorded(db):
    # a hot SKU's receipt can serve tens of thousands of customers in one transaction: a lock per customer
    # (pg_advisory_xact_lock) ran PostgreSQL out of its shared lock table ("out of shared memory") at about
    # 12,000-15,000 customers on this machine (the shared lock table holds max_locks_per_transaction x
    # max_connections locks, plus slack), and the whole receipt failed
    rows = [row(f"crowd{n}@example.com", n) for n in range(25_000)]
    async with in_transaction() as conn:
        await store.record_events(rows, NOW, WINDOW, conn)
    assert await store.NotificationEvent.all().count() == 25_000
    assert await store.Digest.filter(status="PENDING").count() == 25_000


async def test_the_database_itself_refuses_a_second_pending_digest_for_a_customer(db):
    # one pending digest per customer is what makes one message of many events: the store enforces it, so no
    # interleaving of recorders and dispatchers can open two
    from tortoise.exceptions import IntegrityError

    await store.Digest.create(id=new_id(), email="once@example.com", due_at=NOW, created_at=NOW)
    await store.Digest.create(id=new_id(), email="once@example.com", status="DONE", due_at=NOW, created_at=NOW)
    with pytest.raises(IntegrityError):
        await store.Digest.create(id=new_id(), email="once@example.com", due_at=NOW, created_at=NOW)


async def test_a_receipts_webhook_deliveries_are_written_in_slices_one_per_event_and_endpoint(db):
    # more events than one slice (bulk.CHUNK_ROWS): the deliveries are made as they are written
    from domain import events as ev
    from domain.causes import Cause, CauseKind
    from domain.store import webhooks
    from notifications.outbound_webhooks import WebhookRecorder

    both, _ = await webhooks.create_endpoint("https://a.example/hook", ["backorder.allocated"], "", NOW)
    other, _ = await webhooks.create_endpoint("https://b.example/hook", ["backorder.cancelled"], "", NOW)
    received = Cause(kind=CauseKind.STOCK_RECEIVED, quantity=6_000)
    events = [ev.BackorderAllocated(occurred_at=NOW, backorder_id=f"b{n}", order_id=f"o{n}", sku="LAMP",
                                    customer_email="ann@example.com", quantity=1, allocated_quantity=1,
                                    backordered_quantity=1, reason="first come, first served", cause=received)
              for n in range(6_000)]
    async with in_transaction() as conn:
        await WebhookRecorder()(conn, events)
    rows = await webhooks.WebhookDelivery.all().values("endpoint_id", "event_id", "status", "attempts", "attempt_log")
    assert len(rows) == 6_000 and {r["endpoint_id"] for r in rows} == {both.id}
    assert len({r["event_id"] for r in rows}) == 6_000
    assert {(r["status"], r["attempts"]) for r in rows} == {(webhooks.QUEUED, 0)}
    assert all(r["attempt_log"] == [] for r in rows)
    assert other.id not in {r["endpoint_id"] for r in rows}
