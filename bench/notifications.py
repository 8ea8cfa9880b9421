"""Notifications: 10k emails into a local SMTP server through the project's real sender.

`EmailChannel` (notifications/email.py: one aiosmtplib connection reused for a whole batch, each message
built by `email_bytes`) sends 10k digest-sized emails, one after another
as the dispatcher does, to an aiosmtpd server on loopback whose handler only counts. The baseline is what
a first version would do: `aiosmtplib.send`, a fresh connection (connect, EHLO, MAIL, RCPT, DATA, QUIT)
per message, on the same messages; it is timed on 1k and reported as a rate.

The SMTP server (aiosmtpd's Controller, a handler that only counts) runs in a separate process
(multiprocessing): in a thread of this process it shares the GIL with the sender, and since the sender waits
for every reply, its CPU time adds to each message (about 10% off the channel's rate, 25% off the
baseline's, which makes the server set up a session per message). `--smtp-in-thread` runs it that way.

Second figure: the full dispatcher path. 3k outbox rows in SQLite (10k would not fit in a minute; the rate
per batch stays flat as the table is worked through), `Dispatcher.send_due()` called until nothing is due:
claim a batch (compare-and-set per row), check suppression, send through the same channel, mark each row
SENT. Its baseline is the bare channel rate of the first figure.

Third figure: digests as the service sends them, worded at send time (`Dispatcher._reword` reads each
digest's windows, backorders, products, orders, goodwill, preferences): 1k customers' orders placed through
the desk, composed, then sent; baseline the same rows sent again without rewording.

Target: >= 500 emails/s. What limits it (cProfile): the sender's CPU, above all building and flattening each
message with the stdlib `email` package (EmailMessage with the SMTP policy: about 1.6 ms of the 3 ms per
message here), then aiosmtplib's four round trips per message (MAIL, RCPT, DATA, the data), sent one
after another; the dispatcher adds SQLite work per row (claim, suppression check, mark).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosmtplib

from bench.common import QUICK, Figure, Timer, free_port, report, scratch_database
from notifications.channels import Outgoing
from notifications.email import EmailChannel, email_bytes
from notifications.outbox import _list_unsubscribe
from notifications.settings import NotificationSettings, SmtpSettings

SENDS = 1_000 if QUICK else 10_000
FRESH = 300 if QUICK else 1_000  # the baseline, one connection per message
DISPATCHED = 1_000 if QUICK else 3_000
REWORDED = 300 if QUICK else 1_000  # digests placed through the desk, composed, then worded when sent
SENDER = "Backorder Desk <orders@backorder-desk.invalid>"
TARGET = 500.0


class Counting:
    """Accepts every message and only counts it."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 Message accepted"


def _serve(port: int, counter: Any, ready: Any, stop: Any) -> None:
    """The SMTP server in a child process: a Controller (its own thread and loop) until told to stop."""
    from aiosmtpd.controller import Controller

    controller = Controller(Counting(counter), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class SmtpSink:
    def __init__(self, in_thread: bool) -> None:
        self.port = free_port()
        context = multiprocessing.get_context("spawn")
        self.counter = context.Value("q", 0)
        self.ready, self.stop_event = context.Event(), context.Event()
        self.worker: Any = (threading.Thread if in_thread else context.Process)(
            target=_serve, args=(self.port, self.counter, self.ready, self.stop_event), daemon=True)

    @property
    def received(self) -> int:
        return int(self.counter.value)

    def __enter__(self) -> SmtpSink:
        self.worker.start()
        if not self.ready.wait(30):
            raise RuntimeError("the SMTP server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.worker.join(10)


def outgoing(n: int) -> Outgoing:
    """A digest-sized message: text and HTML parts, RFC 8058 unsubscribe headers (about 1.7 KB on the wire)."""
    email = f"customer{n}@example.com"
    items = "".join(f"- Product {n % 97}-{i}: 2 waiting, now expected 2026-03-{10 + i} (was 2026-03-0{i + 1})\n"
                    for i in range(5))
    text = f"Hello Customer {n},\n\nNews on your backorders:\n\n{items}\nSee your orders: https://shop.example/\n"
    html = "<html><body><p>Hello Customer {n},</p><ul>{items}</ul></body></html>".format(
        n=n, items="".join(f"<li>{line}</li>" for line in items.splitlines()))
    token = f"EMAIL:{email}:{'0123456789abcdef' * 2}"
    return Outgoing(id=f"m{n:015d}", idempotency_key=f"bench:{n}", channel="EMAIL", recipient=email,
                    subject=f"Update on your backorders (order #{100000 + n})", body_text=text, body_html=html,
                    headers=_list_unsubscribe("https://shop.example", token))


async def channel_rate(sink: SmtpSink, count: int) -> float:
    """The project's sender: one connection for the whole batch."""
    messages = [outgoing(n) for n in range(count)]
    before = sink.received
    channel = EmailChannel(SmtpSettings.parse(f"smtp://127.0.0.1:{sink.port}"), SENDER)
    with Timer() as timer:
        await channel.open()
        for message in messages:
            await channel.send(message)
        await channel.close()
    assert sink.received - before == count, (sink.received - before, count)
    return count / timer.seconds


async def fresh_connection_rate(sink: SmtpSink, count: int) -> float:
    """The baseline: aiosmtplib.send, a new connection per message, the same bytes on the wire."""
    messages = [outgoing(n) for n in range(count)]
    sender = SENDER.rsplit("<", 1)[1].rstrip(">")
    before = sink.received
    with Timer() as timer:
        for message in messages:
            data = email_bytes(message, SENDER)
            await aiosmtplib.send(data, sender=sender, recipients=[message.recipient], hostname="127.0.0.1",
                                  port=sink.port, start_tls=False, timeout=20)
    assert sink.received - before == count, (sink.received - before, count)
    return count / timer.seconds


async def dispatcher_rate(sink: SmtpSink, count: int) -> tuple[float, int]:
    """Outbox rows in SQLite to SENT through `Dispatcher.send_due`, batch by batch."""
    from domain.store import notify as store
    from domain.store.db import open_database
    from notifications.dispatcher import Dispatcher

    settings = NotificationSettings(smtp=SmtpSettings.parse(f"smtp://127.0.0.1:{sink.port}"))
    now = datetime.now(UTC) - timedelta(minutes=1)
    async with scratch_database("sqlite") as url, open_database(url, apply_migrations=False):
        rows = []
        for n in range(count):
            m = outgoing(n)
            rows.append(store.OutboxMessage(
                id=f"{n:032d}", idempotency_key=f"digest:{n}:EMAIL", kind="DIGEST", channel="EMAIL",
                recipient=m.recipient, customer_email=m.recipient, subject=m.subject, body_text=m.body_text,
                body_html=m.body_html, headers=m.headers, next_attempt_at=now, created_at=now))
        await store.OutboxMessage.bulk_create(rows, batch_size=1000)
        dispatcher = Dispatcher(settings, email=EmailChannel(settings.smtp, SENDER))  # type: ignore[arg-type]
        before = sink.received
        rounds = 0
        with Timer() as timer:
            while await dispatcher.send_due():
                rounds += 1
        sent = await store.OutboxMessage.filter(status=store.SENT).count()
        assert sent == count and sink.received - before == count, (sent, sink.received - before, count)
    return count / timer.seconds, rounds


async def reworded_rate(sink: SmtpSink, count: int) -> tuple[float, float, float, float]:
    """Digests worded when they are sent: `count` customers, each with a backorder (placed through the desk, so
    its events open a window), composed into digest emails; then `send_due` until nothing is due, every row worded
    again from the rows as they are (`Dispatcher._reword`). Timed twice on the same database and rows: once as
    queued (worded at send time), once with `about` cleared so nothing is reworded (the bare send: the
    baseline). Returns (reworded/s, bare/s, CPU ms per reworded digest, CPU ms per bare one)."""
    import time
    from decimal import Decimal

    from domain.bus import InProcessBus
    from domain.clock import FixedClock
    from domain.model import Channel
    from domain.services import BackorderDesk, CustomerDetails, LineRequest, ProductInput
    from domain.store import notify as store
    from domain.store.db import open_database
    from domain.store.uow import TortoiseUnitOfWork
    from notifications.service import Notifications

    settings = NotificationSettings(smtp=SmtpSettings.parse(f"smtp://127.0.0.1:{sink.port}"), email_from=SENDER,
                                    coalesce_seconds=0)
    clock = FixedClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    async with scratch_database("sqlite") as url, open_database(url, apply_migrations=False):
        notifications = Notifications(settings, clock)
        desk = BackorderDesk(lambda: TortoiseUnitOfWork(InProcessBus(), before_commit=[notifications.recorder]),
                             clock)
        for p in range(10):
            await desk.upsert_product(ProductInput(sku=f"LAMP-{p}", name=f"Anglepoise lamp {p}",
                                                   price=Decimal("29.50"), currency="GBP", lead_time_days=20))
        for n in range(count):
            await desk.place_order(CustomerDetails(f"customer{n}@example.com", f"Customer {n}"), Channel.ONLINE,
                                   [LineRequest(f"LAMP-{n % 10}", 2)])
        dispatcher = notifications.dispatcher
        dispatcher.channels["EMAIL"] = EmailChannel(settings.smtp, SENDER)  # type: ignore[arg-type]
        while await dispatcher.compose_due():
            pass
        queued = await store.OutboxMessage.filter(status=store.QUEUED).count()
        assert queued == count, (queued, count)

        async def send_all() -> tuple[float, float]:
            before = sink.received
            cpu = time.process_time()
            with Timer() as timer:
                while await dispatcher.send_due():
                    pass
            cpu = time.process_time() - cpu
            assert sink.received - before == count, (sink.received - before, count)
            return count / timer.seconds, cpu * 1000 / count

        reworded, reworded_cpu = await send_all()
        await store.OutboxMessage.all().update(status=store.QUEUED, about=None, attempts=0)  # the same rows, bare
        bare, bare_cpu = await send_all()
    return reworded, bare, reworded_cpu, bare_cpu


async def run(in_thread: bool) -> None:
    where = "aiosmtpd, a thread in this process" if in_thread else "aiosmtpd in a separate process"
    with SmtpSink(in_thread) as sink:
        await channel_rate(sink, 200)  # warm-up: imports, first connection
        fresh = await fresh_connection_rate(sink, FRESH)
        reused = await channel_rate(sink, SENDS)
        size = len(email_bytes(outgoing(0), SENDER))
        report(Figure("notifications", f"{SENDS // 1000}k emails, EmailChannel (1 connection)", reused, "emails/s",
                      baseline=fresh, baseline_name="conn/message", target=">= 500/s", met=reused >= TARGET,
                      note=f"{size:,} B emails; baseline aiosmtplib.send on {FRESH:,}; SMTP: {where}"))
        dispatched, rounds = await dispatcher_rate(sink, DISPATCHED)
        report(Figure("notifications", f"{DISPATCHED // 1000}k outbox rows sent (dispatcher, sqlite)", dispatched,
                      "emails/s", baseline=reused, baseline_name="bare channel", target=">= 500/s",
                      met=dispatched >= TARGET,
                      note=f"send_due x{rounds}, batches of {NotificationSettings().batch_size}; SMTP: {where}"))
        reworded, bare, reworded_cpu, bare_cpu = await reworded_rate(sink, REWORDED)
        report(Figure("notifications", f"{REWORDED:,} digests worded at send time (dispatcher, sqlite)", reworded,
                      "emails/s", baseline=bare, baseline_name="the same rows, not reworded",
                      note=f"CPU per digest {reworded_cpu:.2f} ms reworded, {bare_cpu:.2f} ms bare; SMTP: {where}"))


if __name__ == "__main__":
    asyncio.run(run(in_thread="--smtp-in-thread" in sys.argv[1:]))
