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
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import quote

from domain.allocation import AllocationPolicy
from domain.clock import Clock
from domain.customers import NotificationPreferences
from domain.model import Backorder, BackorderPolicy, Product
from domain.pricing import compare_prices
from domain.store import notify as store
from domain.store import queries as q
from domain.store import request_ids
from domain.store.portal import get_preferences, signing_key
from notifications.channels import Channel, LogChannel, Outgoing, PermanentError, TransientError
from notifications.compose import Change, Now, Rules, compose
from notifications.metrics import count_send
from notifications.outbox import _list_unsubscribe, changes_of, unsubscribe_token
from notifications.render import ItemView, render_digest
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


def _changes(events: list[store.NotificationEvent]) -> list[Change]:
    return [c for e in events for c in changes_of(e.kind, e.backorder_id, e.order_id, e.sku, e.occurred_at,
                                                  dict(e.data))]


def _now(b: Backorder, product: Product | None, today: date, placed_before: int = 0) -> Now:
    """A backorder as the message will state it (`placed_before`: of those ahead of it in its queue, how many
    were ordered before it; the portal's queueExplanation reads the same count)."""
    return Now(status=b.status.value, original_quantity=b.original_quantity, allocated_quantity=b.allocated_quantity,
               shipped_quantity=b.shipped_quantity, cancelled_quantity=b.cancelled_quantity,
               substituted_quantity=b.substituted_quantity, waiting_quantity=b.waiting_quantity,
               queue_position=b.queue_position if b.is_active else None,
               eta=b.eta.date if b.eta and b.is_active else None,
               eta_confidence=b.eta.confidence.value if b.eta and b.is_active else None,
               promised_date=b.promised_date,
               preorder=product is not None and product.backorder_policy is BackorderPolicy.PREORDER,
               release_date=product.release_date if product else None, today=today, placed_before=placed_before,
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
                           goodwill_code=settings.goodwill_code, goodwill_text=settings.goodwill_text)

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
        customer = (await q.customers_by_email([email])).get(email)
        count = 0
        wanted = []
        if prefs.by_email and not await store.is_email_suppressed(email):
            wanted.append("EMAIL")
        phone = prefs.phone or (customer.phone if customer else None)
        if prefs.by_sms and phone and not await store.sms_opted_out(phone):
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
                                           worded.html if worded and channel == "EMAIL" else None, db):
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
                    headers=_list_unsubscribe(*worded.unsubscribe), about=about, now=now, conn=db)
            else:
                count += await store.enqueue(
                    key=f"digest:{digest_id}:SMS", kind="DIGEST", channel="SMS", recipient=phone or "",
                    customer_email=email, body_text=text, now=now, send_after=prefs.quiet_hours_over(now),
                    about=about, conn=db)
        return count

    async def _word(self, email: str, changes: list[Change], now: datetime) -> Worded | None:
        """A digest of `changes` as it reads at `now`, from the backorders as they are; None: nothing to say."""
        # one statement for all of the digest's backorders and, for each, how many ahead of it were placed before it
        backorders, placed_before = await q.backorders_with_placed_before(list({c.backorder_id for c in changes}))
        # only the customer's own: a change that names another customer's backorder (a fault upstream) is not told
        backorders = {i: b for i, b in backorders.items() if b.customer_email == email}
        changes = [c for c in changes if c.backorder_id in backorders]
        products = await q.products_by_sku(list({b.sku for b in backorders.values()}))
        # what the message says is read now: the window's events only say what changed
        now_state = {i: _now(b, products.get(b.sku), now.date(), placed_before.get(i, 0))
                     for i, b in backorders.items()}
        items = compose(changes, now_state, self.rules)
        if not items:
            return None
        orders = await q.orders_by_id(list({i.news.order_id for i in items}))
        names = {sku: p.name for sku, p in products.items()}
        extra = {s for i in items for s in [*i.news.offered_substitutes, i.news.substitute_sku] if s}
        for i in items:
            if i.long_delay and i.news.sku in products:
                extra |= set(products[i.news.sku].substitutes)
        catalogue = {**products, **await q.products_by_sku(list(extra - set(names)))}
        names.update({sku: p.name for sku, p in catalogue.items()})
        # an offered alternative's price next to what they pay, in their order's currency, as it is now
        paying = {i.news.backorder_id: line.unit_price for i in items if i.news.offered_substitutes
                  for line in (orders[i.news.order_id].lines if i.news.order_id in orders else [])
                  if line.id == backorders[i.news.backorder_id].order_line_id}
        rates = await q.exchange_rates_by_pair(sorted({
            (catalogue[s].price.currency, paid.currency) for i in items if (paid := paying.get(i.news.backorder_id))
            for s in i.news.offered_substitutes if s in catalogue and catalogue[s].price.currency != paid.currency}))
        # goodwill as its rows say now (worded at send time), only what this window's events gave: told once
        given = await q.goodwill_by_backorder([i.news.backorder_id for i in items if i.news.goodwill])
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
        prefs = await get_preferences(email)
        customer = (await q.customers_by_email([email])).get(email)
        name = customer.name.split(" ")[0] if customer and customer.name else ""
        base = self.settings.public_url.rstrip("/")
        key = await signing_key()
        token = quote(unsubscribe_token(key, email, "EMAIL"))
        rendered = render_digest(
            views, name=name, language=prefs.language, shop_name=self.settings.shop_name, portal_url=f"{base}/",
            short_url=f"{base}/", unsubscribe_url=f"{base}/unsubscribe?token={token}",
            goodwill_text=self.rules.goodwill_text, goodwill_code=self.rules.goodwill_code)
        return Worded(subject=rendered.subject, text=rendered.text, html=rendered.html, sms=rendered.sms,
                      unsubscribe=(base, token))

    async def _reword(self, row: store.OutboxMessage) -> str | None:
        """Word a claimed message as it is to be sent, from the rows as they are now; or say why it is not to go
        (what it would have said is no longer true, or nothing is left to say)."""
        about = await store.about_of(row.id)
        if not about:
            return None  # worded once, when queued: the opt-in question, true until answered (see its test)
        now = self.clock.now()
        if row.kind == "PORTAL_LINK":  # "it works once and expires at ...": not once it has expired
            expired = datetime.fromisoformat(about["expires_at"]) <= now
            return "the sign-in link expired before it could be sent" if expired else None
        if row.kind == "BACK_IN_STOCK":
            if await store.subscription_status(about["subscription"]) != "NOTIFIED":
                return "the subscription was stopped before it was sent"
            if await store.available_to_order(about["sku"]) <= 0:
                await store.rearm_subscription(about["subscription"])  # told when it really is back
                return "no longer in stock when it was due: the subscription waits for the next return"
            return None
        if row.kind != "DIGEST" or not row.customer_email:
            return None
        prefs = await get_preferences(row.customer_email)
        if not (prefs.by_email if row.channel == "EMAIL" else prefs.by_sms):
            return f"the customer turned {'emails' if row.channel == 'EMAIL' else 'texts'} off before it was sent"
        changes = _changes(await store.events_of_digests(about.get("digests", [])))
        worded = await self._word(row.customer_email, changes, now)
        text = (worded.text if row.channel == "EMAIL" else worded.sms) if worded else None
        if worded is None or not text:
            return "nothing left to tell when it was due (what it said had changed again)"
        if row.channel == "EMAIL":
            await store.reword(row, worded.subject, text, worded.html)
        else:
            await store.reword(row, row.subject, text, None)
        return None

    # -- sending -------------------------------------------------------------------------------
    async def send_due(self) -> int:
        now = self.clock.now()
        lease = timedelta(seconds=self.settings.lease_seconds)
        async with store.transaction() as conn:
            claimed = await store.claim_messages(now, self.settings.batch_size, lease, conn)
        if not claimed:
            return 0
        prefs_cache: dict[str, NotificationPreferences] = {}
        by_channel: dict[str, list[store.OutboxMessage]] = {}
        for row in claimed:
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
                    if row.channel == "SMS" and row.customer_email:
                        prefs = prefs_cache.get(row.customer_email) or await get_preferences(row.customer_email)
                        prefs_cache[row.customer_email] = prefs
                        later = prefs.quiet_hours_over(self.clock.now())
                        if later > self.clock.now():  # quiet hours began while it waited: not at 3 a.m.
                            await store.settle(row, status=store.QUEUED, next_attempt_at=later,
                                               attempts=row.attempts - 1, claimed_until=None)
                            continue
                    if await self._suppressed(row):
                        await store.settle(row, status=store.SUPPRESSED, claimed_until=None,
                                           last_error="recipient opted out")
                        continue
                    untrue = await self._reword(row)
                    if untrue is not None:  # what it would say is no longer so: not sent
                        await store.settle(row, status=store.SUPPRESSED, claimed_until=None, last_error=untrue)
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

    async def _hold_lease(self, row: store.OutboxMessage) -> bool:
        """True if this dispatcher still holds the message for at least two send timeouts."""
        now = self.clock.now()
        needed = timedelta(seconds=2 * self.settings.send_timeout_seconds)
        if row.claimed_until is not None and row.claimed_until - now >= needed:
            return True
        return await store.renew_lease(row, now + timedelta(seconds=self.settings.lease_seconds))

    async def _suppressed(self, row: store.OutboxMessage) -> bool:
        if row.channel == "EMAIL":
            # a sign-in link was asked for: it goes after an unsubscribe, not to an address that bounced
            return await store.is_email_suppressed(row.recipient, transactional=row.kind == "PORTAL_LINK")
        return await store.sms_opted_out(row.recipient)

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
