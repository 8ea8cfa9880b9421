"""Notifications assembled from settings: the outbox hook for the unit of work, the dispatcher with
its channels, the provider endpoints, and the two things the API asks of it directly (send a portal
link, subscribe someone to a product)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import quote

from starlette.routing import Route

from domain.clock import Clock
from domain.customers import SUPPORTED_LANGUAGES, check_phone
from domain.errors import ErrorCode, InvalidInput, not_found
from domain.model import check_email, check_sku, new_id
from domain.store import models as t
from domain.store import notify as store
from domain.store.db import transaction
from domain.store.portal import get_preferences, link_of_token, signing_key, token_of_sign_in_url
from notifications import web
from notifications.dispatcher import Dispatcher
from notifications.email import EmailChannel
from notifications.i18n import SOURCE_LANGUAGE
from notifications.outbox import OutboxRecorder, unsubscribe_token
from notifications.render import render_portal_link, render_sms_opt_in
from notifications.settings import NotificationSettings
from notifications.sms import SmsChannel

log = logging.getLogger("backorder.notifications")


class Notifications:
    def __init__(self, settings: NotificationSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.recorder = OutboxRecorder(settings, self.clock)
        base = settings.public_url.rstrip("/")
        # each channel gives up well inside the dispatcher's cut-off: a send abandoned at the cut-off must not
        # still complete afterwards (the SMS call runs in a thread that cancelling does not stop), or the
        # message could go twice; email: 4 commands' time in all, SMS: connect + read
        cutoff = settings.send_timeout_seconds
        email = EmailChannel(settings.smtp, settings.email_from, timeout=cutoff / 5) if settings.smtp else None
        sms = SmsChannel(settings.twilio, status_callback=f"{base}/webhooks/twilio/status",
                         timeout=cutoff / 4) if settings.twilio else None
        self.dispatcher = Dispatcher(settings, self.clock, email=email, sms=sms)
        unworded = [language for language in SUPPORTED_LANGUAGES if language not in settings.goodwill_texts]
        if settings.goodwill_texts and unworded:  # said once at start-up, so the owner knows what those customers read
            log.warning("goodwill words are set for %s but not for %s: those customers read the translated default",
                        ", ".join(sorted(settings.goodwill_texts)), ", ".join(unworded))

    def routes(self) -> list[Route]:
        return web.routes(self.settings, self.clock.now, self.dispatcher.wake)

    async def send_portal_link(self, email: str, url: str, expires_at: datetime) -> None:
        prefs = await get_preferences(email)
        customer = await t.Customer.get_or_none(email=email)
        rendered = render_portal_link(name=customer.name.split(" ")[0] if customer and customer.name else "",
                                      link=url, expires_at=expires_at, timezone=prefs.timezone,
                                      language=prefs.language, shop_name=self.settings.shop_name)
        # the token signs in as the customer: the row (which agents read) keeps the link's id, never the token; the
        # dispatcher makes the token again from it when the message goes
        token = token_of_sign_in_url(url)
        link_id = link_of_token(await signing_key(), token)
        # a sign-in link is asked for, so it goes even to someone who stopped update emails
        await store.enqueue(key=f"portal-link:{new_id()}", kind="PORTAL_LINK", channel="EMAIL", recipient=email,
                            customer_email=email, subject=rendered.subject, body_text=rendered.text,
                            body_html=rendered.html, now=self.clock.now(), secrets=[token],
                            # not sent once it no longer works; worded again, with its token, when it goes
                            about={"expires_at": expires_at.isoformat(), "link_id": link_id})
        self.dispatcher.wake()

    async def subscribe_to_product(self, sku: str, email: str | None, phone: str | None,
                                   language: str = SOURCE_LANGUAGE) -> str:
        """Returns the subscription's status: ACTIVE (email) or PENDING (SMS, until the reply YES). `language` is
        what the subscriber reads: every message to them is worded in it (a customer's own choice, by email,
        wins), the opt-in question first."""
        sku = check_sku(sku)
        if bool(email) == bool(phone):
            raise InvalidInput("give an email address or a mobile number (one of them)", field="email")
        if language not in SUPPORTED_LANGUAGES:
            raise InvalidInput(f"language must be one of {', '.join(SUPPORTED_LANGUAGES)}", field="language")
        product = await t.Product.get_or_none(sku=sku)
        if product is None:
            raise not_found("product", sku, field="sku")
        now = self.clock.now()
        address_filter = {"email": check_email(email)} if email else {"phone": check_phone(phone or "")}
        existing = await store.ProductSubscription.filter(sku=sku, status__in=["PENDING", "ACTIVE"],
                                                          **address_filter).first()
        if existing is not None:
            return existing.status
        if email:
            await store.ProductSubscription.create(id=new_id(), sku=sku, email=address_filter["email"],
                                                   status="ACTIVE", created_at=now, language=language)
            return "ACTIVE"
        number = address_filter["phone"]
        hour_ago = now - timedelta(hours=1)
        recent = await store.ProductSubscription.filter(phone=number, created_at__gte=hour_ago).count()
        if recent >= 5:
            raise InvalidInput("too many subscriptions for this number; try again later", field="phone",
                               code=ErrorCode.RATE_LIMITED)
        texting = not await store.sms_opted_out(number)
        async with transaction() as conn:
            # the ceiling counts texts, checked and taken under one lock: two requests at once cannot both fit
            await store.lock_opt_in_ceiling(conn)
            texted = await store.opt_in_texts_since(hour_ago, conn)
            if texting and texted >= self.settings.opt_in_sms_per_hour:
                log.warning("SMS opt-in ceiling reached (%d texts in the last hour): refusing more", texted)
                raise InvalidInput("we cannot take text subscriptions right now; try email, or again later",
                                   field="phone", code=ErrorCode.RATE_LIMITED)
            await store.ProductSubscription.create(id=new_id(), sku=sku, phone=number, status="PENDING",
                                                   created_at=now, language=language, using_db=conn)
            if texting:
                body = render_sms_opt_in(product=product.name, language=language, shop_name=self.settings.shop_name)
                await store.enqueue(key=f"sms-opt-in:{sku}:{number}:{now:%Y%m%d%H}", kind="SMS_OPT_IN",
                                    channel="SMS", recipient=number, body_text=body, now=now, conn=conn)
        if texting:
            self.dispatcher.wake()
        return "PENDING"

    async def unsubscribe_url(self, address: str, channel: str = "EMAIL") -> str:
        token = quote(unsubscribe_token(await signing_key(), address, channel))
        return f"{self.settings.public_url.rstrip('/')}/unsubscribe?token={token}"
