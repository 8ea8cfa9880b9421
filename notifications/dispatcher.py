"""The dispatcher: closes coalescing windows into messages, then claims due messages, sends them and
records the outcome, with retries (exponential backoff with jitter), dead letters and quiet hours.

Runs as `backorder worker` (any number of them: claims use SKIP LOCKED on PostgreSQL) and, on the
embedded profile, as a task inside `serve`. A claimed message is leased: every send is cut off after
`send_timeout_seconds` and the lease is renewed before a send that could outlive it, so two dispatchers
never send the same message at once. A crash between sending and marking sends a message at most once
more, when its lease has run out; it carries the same idempotency key (the same Message-ID for email,
the same outbox id in the SMS status callback) so it can be recognised.

Failures: a channel marks a PermanentError `recipient_at_fault` when the address or number itself is bad;
only then is the customer recorded as unreachable. Any other permanent failure fails just the message.
A channel that asks us to wait (Retry-After) is paused: its other messages wait too, without losing a try.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from domain.allocation import AllocationPolicy
from domain.clock import Clock
from domain.model import Backorder, BackorderPolicy, Product
from domain.pricing import compare_prices
from domain.store import notify as store
from domain.store import request_ids
from domain.store.portal import get_preferences, link_token, sign_in_url
from notifications.channels import Channel, LogChannel, Outgoing, PermanentError, TransientError
from notifications.compose import Change, Now, Rules, compose
from notifications.metrics import count_send
from notifications.outbox import (
    _list_unsubscribe,
    changes_of,
    subscriber_language,
    unsubscribe_secrets,
    unsubscribe_token,
    word_back_in_stock,
)
from notifications.reads import Reads
from notifications.render import ItemView, render_digest, render_portal_link
from notifications.rounds import run_rounds
from notifications.settings import NotificationSettings

log = logging.getLogger("backorder.notifications")


@dataclass(frozen=True)
class Worded:
    subject: str
    text: str
    html: str | None
    sms: str | None
    unsubscribe: tuple[str, str]  # the public base URL and the customer's unsubscribe token

    @property
    def secrets(self) -> tuple[str, ...]:
        """What only the customer may read in it (the unsubscribe token): withheld from the outbox row."""
        return unsubscribe_secrets(self.unsubscribe[1])


@dataclass
class Batch:
    """One batch of claimed messages' reads: what each is about, its windows' events, and the rows they name."""

    abouts: dict[str, dict[str, Any] | None]
    events: list[store.NotificationEvent]
    reads: Reads
    suppressed: dict[str, str] = field(default_factory=dict)  # address (lower case) -> why it is not emailed
    opted_out: set[str] = field(default_factory=set)  # numbers that said STOP
    addresses: dict[str, str | None] = field(default_factory=dict)  # message id -> where it goes now (`_address`)

    def __post_init__(self) -> None:
        self._by_digest: dict[str | None, list[store.NotificationEvent]] = {}
        for event in self.events:  # in the order they were recorded
            self._by_digest.setdefault(event.digest_id, []).append(event)

    def changes(self, about: dict[str, Any]) -> list[Change]:
        """A message's changes: its windows' events, in the order they were recorded."""
        events = [e for d in dict.fromkeys(about.get("digests", [])) for e in self._by_digest.get(d, [])]
        return _changes(sorted(events, key=lambda e: e.id))


@dataclass(frozen=True)
class Withheld:
    """A claimed message not to send, with its outcome (store.OUTDATED or store.SUPPRESSED) and why."""

    status: str
    reason: str


def _outdated(reason: str) -> Withheld:
    return Withheld(store.OUTDATED, reason)


def _changes(events: list[store.NotificationEvent]) -> list[Change]:
    return [c for e in events for c in changes_of(e.kind, e.backorder_id, e.order_id, e.sku, e.occurred_at,
                                                  dict(e.data))]


def _now(b: Backorder, product: Product | None, today: date, placed_in_turn: bool = False) -> Now:
    """A backorder as the message will state it (`placed_in_turn`: whether every one ahead of it in its queue was
    ordered before it; the portal's queueExplanation reads the same)."""
    return Now(status=b.status.value, original_quantity=b.original_quantity, allocated_quantity=b.allocated_quantity,
               shipped_quantity=b.shipped_quantity, cancelled_quantity=b.cancelled_quantity,
               substituted_quantity=b.substituted_quantity, waiting_quantity=b.waiting_quantity,
               queue_position=b.queue_position if b.is_active else None,
               eta=b.eta.date if b.eta and b.is_active else None,
               eta_confidence=b.eta.confidence.value if b.eta and b.is_active else None,
               promised_date=b.promised_date,
               preorder=product is not None and product.backorder_policy is BackorderPolicy.PREORDER,
               release_date=product.release_date if product else None, today=today, placed_in_turn=placed_in_turn,
               fair_share=product is not None and product.allocation_policy is AllocationPolicy.FAIR_SHARE)


class Dispatcher:
    def __init__(self, settings: NotificationSettings, clock: Clock | None = None, *,
                 email: Channel | None = None, sms: Channel | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.channels: dict[str, Channel] = {"EMAIL": email or LogChannel("email"), "SMS": sms or LogChannel("sms")}
        self._wake = asyncio.Event()
        self._paused_until: dict[str, datetime] = {}  # channel -> when its provider lets us send again
        self.rules = Rules(eta_threshold_days=settings.eta_threshold_days, long_delay_days=settings.long_delay_days,
                           goodwill_code=settings.goodwill_code, goodwill_texts=settings.goodwill_texts)

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self, stop: asyncio.Event) -> None:
        await run_rounds(self.run_once, wake=self._wake, stop=stop, poll_seconds=self.settings.poll_seconds,
                         log=log, what="dispatcher")

    async def run_once(self) -> int:
        composed = await self.compose_due()
        sent = await self.send_due()
        return composed + sent

    # -- coalescing windows into messages ------------------------------------------------------
    async def compose_due(self) -> int:
        """Each digest in its own short transaction: its row stays locked while it is composed, and a
        domain change recording events for that customer waits for it (domain.store.notify)."""
        now = self.clock.now()
        done = 0
        while done < self.settings.batch_size:
            async with store.transaction() as conn:
                due = await store.due_digests(now, 1, conn)
                if not due:
                    break
                digest = due[0]
                events = await store.take_events(digest.email, digest.id, conn)
                bound = request_ids.bind(store.request_ids_of(events))  # its messages name the requests
                try:
                    messages = await self._compose(digest.id, digest.email, events, now, conn)
                finally:
                    request_ids.unbind(bound)
                await store.close_digest(digest, messages, conn)
            done += 1
        return done

    async def _compose(self, digest_id: str, email: str, events: list[store.NotificationEvent], now: datetime,
                       conn: object) -> int:
        """The digest's messages, one per channel the customer is told on. Each keeps what it is about (the
        windows and their backorders) and is worded again when it is sent (`_reword`): what is written here is
        what it would say now. A message of the customer's still waiting on that channel (a text held for
        quiet hours, an email between tries) takes this window's news instead, so the news is told once."""
        db: store.Connection = conn  # type: ignore[assignment]
        prefs = await get_preferences(email)
        count = 0
        wanted = []
        if prefs.by_email and not await store.is_email_suppressed(email):
            wanted.append("EMAIL")
        phone = prefs.texts_to()  # where it would go now; it goes where `texts_to` says when it is sent
        if phone and not await store.sms_opted_out(phone):
            wanted.append("SMS")
        alone: Worded | None = None  # this window worded on its own: the same for both channels, worded once
        for channel in wanted:
            waiting = await store.unsent_digest(email, channel, now, db)
            digests = [*(waiting.about or {}).get("digests", []), digest_id] if waiting else [digest_id]
            own = events if not waiting else await store.events_of_digests(digests, db)
            changes = _changes(own)
            about = {"digests": digests, "backorders": sorted({c.backorder_id for c in changes})}
            if waiting is None and alone is not None:
                worded: Worded | None = alone
            else:
                worded = await self._word(email, changes, now)
                if waiting is None:
                    alone = worded
            text = (worded.text if channel == "EMAIL" else worded.sms) if worded else None
            if waiting is not None:
                if await store.join_digest(waiting, about, worded.subject if worded and channel == "EMAIL" else None,
                                           text or waiting.body_text,
                                           worded.html if worded and channel == "EMAIL" else None, db,
                                           secrets=worded.secrets if worded else ()):
                    continue
                changes = _changes(events)  # claimed meanwhile: this window goes on its own
                about = {"digests": [digest_id], "backorders": sorted({c.backorder_id for c in changes})}
                worded = alone = alone or await self._word(email, changes, now)
                text = (worded.text if channel == "EMAIL" else worded.sms) if worded else None
            if worded is None or not text:
                continue
            if channel == "EMAIL":
                count += await store.enqueue(
                    key=f"digest:{digest_id}:EMAIL", kind="DIGEST", channel="EMAIL", recipient=email,
                    customer_email=email, subject=worded.subject, body_text=text, body_html=worded.html,
                    headers=_list_unsubscribe(*worded.unsubscribe), about=about, now=now, conn=db,
                    secrets=worded.secrets)
            else:
                count += await store.enqueue(
                    key=f"digest:{digest_id}:SMS", kind="DIGEST", channel="SMS", recipient=phone or "",
                    customer_email=email, body_text=text, now=now, send_after=prefs.quiet_hours_over(now),
                    about=about, conn=db, secrets=worded.secrets)
        return count

    async def _word(self, email: str, changes: list[Change], now: datetime,
                    reads: Reads | None = None) -> Worded | None:
        """A digest of `changes` as it reads at `now`, from the backorders as they are; None: nothing to say.
        `reads`: the rows read for a whole batch of messages (one statement per kind), else read for this one."""
        reads = reads or Reads()
        # one statement for all of the digest's backorders and, for each, whether all ahead were placed before it
        backorders, in_turn = await reads.backorders(list({c.backorder_id for c in changes}))
        # only the customer's own: a change that names another customer's backorder (a fault upstream) is not told
        backorders = {i: b for i, b in backorders.items() if b.customer_email == email}
        changes = [c for c in changes if c.backorder_id in backorders]
        products = await reads.products(list({b.sku for b in backorders.values()}))
        prefs = await reads.preferences(email)
        # what the message says is read now: the window's events only say what changed; "today" is the shop's day,
        # as the domain releases a preorder by it (clock.today()): "released" is said when it is, wherever they are
        now_state = {i: _now(b, products.get(b.sku), now.date(), in_turn.get(i, False))
                     for i, b in backorders.items()}
        items = compose(changes, now_state, self.rules)
        if not items:
            return None
        orders = await reads.orders(list({i.news.order_id for i in items}))
        names = {sku: p.name for sku, p in products.items()}
        extra = {s for i in items for s in [*i.news.offered_substitutes, i.news.substitute_sku] if s}
        for i in items:
            if i.long_delay and i.news.sku in products:
                extra |= set(products[i.news.sku].substitutes)
        catalogue = {**products, **await reads.products(list(extra - set(names)))}
        names.update({sku: p.name for sku, p in catalogue.items()})
        # an offered alternative's price next to what they pay, in their order's currency, as it is now
        paying = {i.news.backorder_id: line.unit_price for i in items if i.news.offered_substitutes
                  for line in (orders[i.news.order_id].lines if i.news.order_id in orders else [])
                  if line.id == backorders[i.news.backorder_id].order_line_id}
        rates = await reads.rates(sorted({
            (catalogue[s].price.currency, paid.currency) for i in items if (paid := paying.get(i.news.backorder_id))
            for s in i.news.offered_substitutes if s in catalogue and catalogue[s].price.currency != paid.currency}))
        # goodwill as its rows say now (worded at send time), only what this window's events gave: told once
        given = await reads.goodwill([i.news.backorder_id for i in items if i.news.goodwill])
        views = []
        for i in items:
            offered = list(i.news.offered_substitutes)
            if i.long_delay and i.news.sku in products:
                offered += [s for s in products[i.news.sku].substitutes if s not in offered]
            order = orders.get(i.news.order_id)
            views.append(ItemView(
                item=i, product=names.get(i.news.sku, i.news.sku), order_number=order.number if order else "",
                substitute=names.get(i.news.substitute_sku or "", i.news.substitute_sku),
                substitutes=tuple(names[s] for s in offered if s in names),
                offer_prices=tuple(
                    compare_prices(paying[i.news.backorder_id], catalogue[s].price, rates)
                    if i.news.backorder_id in paying and s in catalogue else None
                    for s in offered if s in names),
                # what the alternatives that took its place cost them, from the order as it is now
                paid=tuple(line for line in order.lines if line.substitute_for == i.news.backorder_id)
                if order and i.news.substituted else (),
                goodwill=tuple(g for g in given.get(i.news.backorder_id, ()) if g.id in i.news.goodwill)))
        customer = await reads.customer(email)
        name = customer.name.split(" ")[0] if customer and customer.name else ""
        base = self.settings.public_url.rstrip("/")
        key = await reads.key()
        token = quote(unsubscribe_token(key, email, "EMAIL"))
        rendered = render_digest(
            views, name=name, language=prefs.language, shop_name=self.settings.shop_name, portal_url=f"{base}/",
            short_url=f"{base}/", unsubscribe_url=f"{base}/unsubscribe?token={token}",
            goodwill_texts=self.rules.goodwill_texts, goodwill_code=self.rules.goodwill_code)
        return Worded(subject=rendered.subject, text=rendered.text, html=rendered.html, sms=rendered.sms,
                      unsubscribe=(base, token))

    async def _reword(self, row: store.OutboxMessage, batch: Batch) -> Withheld | None:
        """Word a claimed message as it is to be sent, from the rows as they are now; or say why it is not to go:
        OUTDATED when what it would have said is no longer true, or nothing is left to say; SUPPRESSED when the
        recipient no longer wants it."""
        about = batch.abouts.get(row.id)
        if not about:
            if store.WITHHELD in row.body_text:  # written before secrets were withheld (migration 0025)
                return _outdated("a link it carried was withheld from the outbox and cannot be made again")
            return None  # worded once, when queued: the opt-in question, true until answered (see its test)
        now = self.clock.now()
        if row.kind == "PORTAL_LINK":  # "it works once and expires at ...": not once it has expired
            expires_at = datetime.fromisoformat(about["expires_at"])
            if expires_at <= now:
                return _outdated("the sign-in link expired before it could be sent")
            if "link_id" not in about:  # its token was withheld from the row and cannot be made again
                return _outdated("the sign-in link cannot be made again: ask for a new one")
            # the token made again from the link's id (the row keeps it withheld); the expiry in the zone and language
            # the customer has now, greeted by name now
            token = link_token(await batch.reads.key(), about["link_id"], expires_at)
            email = row.customer_email or row.recipient
            prefs, customer = await batch.reads.preferences(email), await batch.reads.customer(email)
            rendered = render_portal_link(
                name=customer.name.split(" ")[0] if customer and customer.name else "",
                link=sign_in_url(self.settings.public_url, token), expires_at=expires_at,
                timezone=prefs.timezone, language=prefs.language, shop_name=self.settings.shop_name)
            await store.reword(row, rendered.subject, rendered.text, rendered.html, row.recipient, secrets=[token])
            return None
        if row.kind == "BACK_IN_STOCK":
            state = await store.subscription_state(about["subscription"])
            if state is None or state[0] != "NOTIFIED":
                return Withheld(store.SUPPRESSED, "the subscription was stopped before it was sent")
            if await store.available_to_order(about["sku"]) <= 0:
                await store.rearm_subscription(about["subscription"])  # told when it really is back
                return _outdated("no longer in stock when it was due: the subscription waits for the next return")
            product = (await batch.reads.products([about["sku"]])).get(about["sku"])
            # in the subscriber's language now: a customer's own, else the one subscribed in; with the unsubscribe
            # token the row keeps withheld
            language = await subscriber_language(row.recipient if row.channel == "EMAIL" else None, state[1])
            worded = word_back_in_stock(self.settings, await batch.reads.key(),
                                        product.name if product is not None else about["sku"], language,
                                        row.recipient, row.channel)
            await store.reword(row, worded.subject, worded.text, worded.html, row.recipient,
                               headers=worded.headers, secrets=worded.secrets)
            return None
        if row.kind != "DIGEST" or not row.customer_email:
            return None
        prefs = await batch.reads.preferences(row.customer_email)
        if not (prefs.by_email if row.channel == "EMAIL" else prefs.by_sms):
            return Withheld(store.SUPPRESSED,
                            f"the customer turned {'emails' if row.channel == 'EMAIL' else 'texts'} off before it was "
                            "sent")
        worded = await self._word(row.customer_email, batch.changes(about), now, batch.reads)
        text = (worded.text if row.channel == "EMAIL" else worded.sms) if worded else None
        if worded is None or not text:
            return _outdated("nothing left to tell when it was due (what it said had changed again)")
        if row.channel == "EMAIL":
            await store.reword(row, worded.subject, text, worded.html, row.recipient,
                               headers=_list_unsubscribe(*worded.unsubscribe), secrets=worded.secrets)
        else:
            await store.reword(row, row.subject, text, None, row.recipient, secrets=worded.secrets)
        return None

    # -- sending -------------------------------------------------------------------------------
    async def send_due(self) -> int:
        now = self.clock.now()
        lease = timedelta(seconds=self.settings.lease_seconds)
        async with store.transaction() as conn:
            claimed = await store.claim_messages(now, self.settings.batch_size, lease, conn)
        if not claimed:
            return 0
        rows_to_send = await self._one_per_customer(claimed)
        batch = await self._read_batch(rows_to_send)
        by_channel: dict[str, list[store.OutboxMessage]] = {}
        for row in rows_to_send:
            by_channel.setdefault(row.channel, []).append(row)
        for channel_name, rows in by_channel.items():
            channel = self.channels[channel_name]
            opened = False
            try:
                for row in rows:
                    paused = self._paused_until.get(channel_name)
                    if paused is not None and paused > self.clock.now():  # the provider asked us to wait
                        await store.settle(row, status=store.QUEUED, next_attempt_at=paused,
                                           attempts=row.attempts - 1, claimed_until=None)
                        continue
                    address = batch.addresses.get(row.id, row.recipient)
                    if address is None:  # texts turned off (or no number left) while it waited
                        count_send(row.channel, "suppressed")
                        await store.settle(row, status=store.SUPPRESSED, claimed_until=None,
                                           last_error="the customer turned texts off before it was sent")
                        continue
                    row.recipient = address  # settled, reworded and sent with the address as it is now
                    if row.channel == "SMS" and row.customer_email:
                        prefs = await batch.reads.preferences(row.customer_email)
                        later = prefs.quiet_hours_over(self.clock.now())
                        if later > self.clock.now():  # quiet hours began while it waited: not at 3 a.m.
                            await store.settle(row, status=store.QUEUED, next_attempt_at=later,
                                               attempts=row.attempts - 1, claimed_until=None)
                            continue
                    if self._suppressed(row, batch):
                        count_send(row.channel, "suppressed")
                        await store.settle(row, status=store.SUPPRESSED, claimed_until=None, recipient=row.recipient,
                                           last_error="recipient opted out")
                        continue
                    withheld = await self._reword(row, batch)
                    if withheld is not None:  # no longer true, or no longer wanted: not sent
                        count_send(row.channel, withheld.status.lower())
                        await store.settle(row, status=withheld.status, claimed_until=None,
                                           last_error=withheld.reason)
                        continue
                    if not await self._hold_lease(row):
                        log.warning("lease on %s lost to another dispatcher; not sending it", row.id)
                        continue
                    if not opened:
                        await channel.open()
                        opened = True
                    await self._send_one(channel, row)
            finally:
                if opened:
                    await channel.close()
        return len(claimed)

    async def _read_batch(self, rows: list[store.OutboxMessage]) -> Batch:
        """What the batch's messages are worded from, read for all of them at once: what each is about (as
        committed now: a window may have joined it), their windows' events, then the rows those name."""
        abouts = await store.abouts_of([r.id for r in rows])
        digests = [d for r in rows if r.kind == "DIGEST" for d in (abouts.get(r.id) or {}).get("digests", [])]
        batch = Batch(abouts=abouts, events=await store.events_of_digests(digests), reads=Reads())
        changes = [c for r in rows if r.kind == "DIGEST" and r.customer_email
                   for c in batch.changes(abouts.get(r.id) or {})]
        await batch.reads.prime(
            # the customers, and the subscribers told back in stock by email (their language, if they are customers)
            emails=sorted({r.customer_email for r in rows if r.customer_email}
                          | {r.recipient for r in rows if r.kind == "BACK_IN_STOCK" and r.channel == "EMAIL"}),
            backorder_ids=sorted({c.backorder_id for c in changes}), order_ids=sorted({c.order_id for c in changes}),
            goodwill_for=sorted({c.backorder_id for c in changes if c.kind == "GoodwillOffered"}),
            skus=sorted({s for c in changes for s in (c.data.get("substitute_sku"),) if isinstance(s, str)}
                        | {a["sku"] for r in rows if r.kind == "BACK_IN_STOCK" and (a := abouts.get(r.id))}))
        # where each goes is read now too, and whether that address may be written to (a number changed overnight
        # may be one that said STOP)
        batch.addresses = {r.id: await self._address(r, batch.reads) for r in rows}
        going = [(r, a) for r in rows if (a := batch.addresses[r.id]) is not None]
        batch.suppressed, batch.opted_out = await store.not_to_send([a for r, a in going if r.channel == "EMAIL"],
                                                                    [a for r, a in going if r.channel == "SMS"])
        return batch

    @staticmethod
    async def _address(row: store.OutboxMessage, reads: Reads) -> str | None:
        """Where a claimed message goes now. A digest goes to the customer as they are when it is sent: email to
        their address, a text to the number they chose texts at now (`texts_to`; None: texts are off), not to
        the address it was queued with. Anything else goes where it was asked for (a subscription's address, the
        address a sign-in link was asked for at)."""
        if row.kind != "DIGEST" or not row.customer_email:
            return row.recipient
        if row.channel == "EMAIL":
            return row.customer_email
        return (await reads.preferences(row.customer_email)).texts_to()

    async def _one_per_customer(self, claimed: list[store.OutboxMessage]) -> list[store.OutboxMessage]:
        """The claimed messages to send, at most one digest per customer and channel: a second one due in the same
        round (a text held for quiet hours and a later window's text, both due at 8:00; a window queued while the
        other message was claimed, then held back for quiet hours with it) joins the first, which is worded from
        both windows when it goes. Composing joins a window to a message still waiting (store.unsent_digest); this
        is for what reaches the same round anyway (two dispatchers composing at once, a claim in between)."""
        kept: dict[tuple[str, str], store.OutboxMessage] = {}
        out = []
        for row in claimed:
            if row.kind != "DIGEST" or not row.customer_email:
                out.append(row)
                continue
            first = kept.setdefault((row.customer_email, row.channel), row)
            if first is not row and await store.merge_claimed(first, row):
                count_send(row.channel, "merged")
                continue
            out.append(row)
        return out

    async def _hold_lease(self, row: store.OutboxMessage) -> bool:
        """True if this dispatcher still holds the message for at least two send timeouts."""
        now = self.clock.now()
        needed = timedelta(seconds=2 * self.settings.send_timeout_seconds)
        if row.claimed_until is not None and row.claimed_until - now >= needed:
            return True
        return await store.renew_lease(row, now + timedelta(seconds=self.settings.lease_seconds))

    @staticmethod
    def _suppressed(row: store.OutboxMessage, batch: Batch) -> bool:
        if row.channel == "EMAIL":
            # a sign-in link was asked for: it goes after an unsubscribe, not to an address that bounced
            reason = batch.suppressed.get(row.recipient.lower())
            return reason is not None and not (row.kind == "PORTAL_LINK" and reason == store.UNSUBSCRIBED)
        return row.recipient in batch.opted_out

    async def _send_one(self, channel: Channel, row: store.OutboxMessage) -> None:
        message = Outgoing(id=row.id, idempotency_key=row.idempotency_key, channel=row.channel,
                           recipient=row.recipient, body_text=row.body_text, subject=row.subject,
                           body_html=row.body_html, headers=dict(row.headers or {}))
        now = self.clock.now()
        try:
            async with asyncio.timeout(self.settings.send_timeout_seconds):
                provider_id = await channel.send(message)
        except PermanentError as error:
            log.warning("permanent failure sending %s to %s: %s", row.id, row.recipient, error)
            count_send(row.channel, "failed")
            await store.settle(row, status=store.FAILED, last_error=str(error)[:2000], claimed_until=None)
            if getattr(error, "recipient_at_fault", False):
                await self._record_unreachable(row, str(error), now)
        except TransientError as error:
            if error.retry_after:
                self._paused_until[row.channel] = now + timedelta(seconds=error.retry_after)
            await self._retry(row, str(error), now, error.retry_after)
        except TimeoutError:
            await self._retry(row, f"no answer within {self.settings.send_timeout_seconds:g} s", now, None)
        except Exception as error:  # unknown failures are retried, then dead-lettered
            log.exception("unexpected failure sending %s", row.id)
            await self._retry(row, f"{type(error).__name__}: {error}", now, None)
        else:
            status = store.SENT if channel.sends else store.LOGGED
            count_send(row.channel, status.lower())
            settled = await store.settle(row, status=status, provider_id=provider_id, sent_at=now,
                                         claimed_until=None,
                                         last_error=None if channel.sends else "not sent: no provider configured")
            if not settled:  # a delivery report got there first (and said how it went): keep its status
                await store.note_sent_at(row.id, now)

    async def _retry(self, row: store.OutboxMessage, error: str, now: datetime, retry_after: float | None) -> None:
        count_send(row.channel, "dead" if row.attempts >= self.settings.max_attempts else "retry")
        if row.attempts >= self.settings.max_attempts:
            log.error("giving up on %s after %d attempts: %s", row.id, row.attempts, error)
            await store.settle(row, status=store.DEAD, last_error=error[:2000], claimed_until=None)
            return
        backoff = min(self.settings.retry_max_seconds, self.settings.retry_base_seconds * 2 ** (row.attempts - 1))
        delay = max(retry_after or 0.0, backoff * random.uniform(0.5, 1.5))
        await store.settle(row, status=store.QUEUED, last_error=error[:2000], claimed_until=None,
                           next_attempt_at=now + timedelta(seconds=delay))

    async def _record_unreachable(self, row: store.OutboxMessage, error: str, now: datetime) -> None:
        """The address or number itself is bad: recorded on the customer, so we stop trying it."""
        if row.channel == "EMAIL":
            await store.suppress_email(row.recipient, f"undeliverable: {error}", now)
        else:
            await store.set_sms_consent(row.recipient, True, now, "undeliverable (send)")
