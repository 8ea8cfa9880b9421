"""HTTP endpoints that providers and mail clients call: Twilio's inbound SMS (STOP/START/HELP) and
status callbacks, both refused unless `X-Twilio-Signature` is valid; and the signed one-click
unsubscribe link (RFC 8058) that works without signing in."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from domain.store import notify as store
from domain.store.portal import languages_by_email, signing_key, unsubscribe_email
from notifications.i18n import SOURCE_LANGUAGE, language_of, negotiated_language, translations
from notifications.outbox import read_unsubscribe_token
from notifications.settings import NotificationSettings
from notifications.sms import RECIPIENT_DELIVERY_CODES

log = logging.getLogger("backorder.notifications")

# STOP and HELP as a subscriber may write them in each language the shop texts in: a text says "STOP" in all of
# them, but a reader of German may well write STOPP. Any of them stops texts from anyone: a word to stop is never
# ignored for being in another language than the number's.
STOP_WORDS_BY_LANGUAGE = {
    "en": frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "STOP ALL"}),
    "de": frozenset({"STOPP", "ABMELDEN", "ENDE"}),
    "fr": frozenset({"ARRET", "ARRÊT", "DESABONNER", "DÉSABONNER"}),
    "es": frozenset({"PARAR", "BAJA", "DETENER", "ALTO"}),
}
HELP_WORDS_BY_LANGUAGE = {
    "en": frozenset({"HELP", "INFO"}),
    "de": frozenset({"HILFE"}),
    "fr": frozenset({"AIDE"}),
    "es": frozenset({"AYUDA"}),
}
STOP_WORDS = frozenset().union(*STOP_WORDS_BY_LANGUAGE.values())
START_WORDS = frozenset({"START", "YES", "UNSTOP", "OPTIN"})  # the texts ask for YES and START in every language
HELP_WORDS = frozenset().union(*HELP_WORDS_BY_LANGUAGE.values())


def keyword_language(word: str) -> str | None:
    """The language a STOP or HELP word is peculiar to (None: English's, or no such word)."""
    for language, words in (*STOP_WORDS_BY_LANGUAGE.items(), *HELP_WORDS_BY_LANGUAGE.items()):
        if language != SOURCE_LANGUAGE and word in words:
            return language
    return None


def _twiml(text: str | None) -> Response:
    body = f"<Message>{escape(text)}</Message>" if text else ""
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>', media_type="text/xml")


def routes(settings: NotificationSettings, now: Callable[[], datetime], wake: Callable[[], None]) -> list[Route]:
    validator = RequestValidator(settings.twilio.auth_token) if settings.twilio else None
    public = settings.public_url.rstrip("/")

    async def verified_form(request: Request) -> dict[str, Any] | None:
        if validator is None:
            return None
        form = {k: v for k, v in (await request.form()).multi_items()}
        signature = request.headers.get("x-twilio-signature", "")
        url = public + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if not signature or not validator.validate(url, form, signature):
            return None
        return form

    async def inbound(request: Request) -> Response:
        form = await verified_form(request)
        if form is None:
            return PlainTextResponse("invalid or missing X-Twilio-Signature", status_code=403)
        phone = str(form.get("From", "")).strip()
        word = " ".join(str(form.get("Body", "")).strip().upper().split())
        when = now()
        if word not in STOP_WORDS | START_WORDS | HELP_WORDS:
            return _twiml(None)
        # answered in the language the number subscribed in; else in the one its word was in
        language = language_of(await store.number_language(phone) or keyword_language(word))
        gettext = translations(language).gettext
        shop = settings.shop_name
        if word in STOP_WORDS:
            await store.record_sms_opt_out(phone, when, "STOP")
            await store.cancel_product_subscriptions(phone=phone)
            log.info("SMS opt-out recorded for %s", phone)
            return _twiml(gettext("{shop}: you will get no more texts from us. Reply START to undo.").format(shop=shop))
        if word in START_WORDS:
            await store.record_sms_opt_in(phone, when, word)
            confirmed = await store.confirm_product_subscriptions(phone)
            if confirmed:
                wake()
                return _twiml(gettext("{shop}: thanks, we will text you once when it is back in stock.").format(
                    shop=shop))
            return _twiml(gettext("{shop}: texts are on again. Reply STOP to opt out.").format(shop=shop))
        return _twiml(gettext("{shop}: order updates by text. Manage them at {url} . Reply STOP to opt out.").format(
            shop=shop, url=f"{public}/"))

    async def status(request: Request) -> Response:
        form = await verified_form(request)
        if form is None:
            return PlainTextResponse("invalid or missing X-Twilio-Signature", status_code=403)
        sid = str(form.get("MessageSid", ""))
        state = str(form.get("MessageStatus", "")).lower()
        code = int(form["ErrorCode"]) if str(form.get("ErrorCode", "")).isdigit() else None
        error = f"Twilio delivery {state}" + (f" (error {code})" if code else "")
        row = await store.record_delivery_report(sid, request.query_params.get("message"), state, error, now())
        if row is not None and state in store.DELIVERY_FAILED and code in RECIPIENT_DELIVERY_CODES:
            await store.set_sms_consent(row.recipient, True, now(), f"undeliverable ({code})")
            log.info("SMS to %s undeliverable (%s): number no longer texted", row.recipient, code)
        return PlainTextResponse("ok")

    async def unsubscribe(request: Request) -> Response:
        token = request.query_params.get("token", "")
        found = read_unsubscribe_token(await signing_key(), token)
        if found is None:  # whose link it was is unknown: the browser's language
            language = negotiated_language(request.headers.get("accept-language"))
            gettext = translations(language).gettext
            return HTMLResponse(_page(language, gettext("This link is not valid"),
                                      html.escape(gettext("Please use the link from one of our emails."))),
                                status_code=400)
        channel, address = found
        language = await _reader_language(channel, address, request.headers.get("accept-language"))
        gettext = translations(language).gettext
        words = {"address": html.escape(address), "shop": html.escape(settings.shop_name)}
        if request.method == "GET":  # a mail scanner following links must not unsubscribe anyone
            text = (gettext("{address} will get no more emails from {shop} about orders or restocks.")
                    if channel == "EMAIL" else
                    gettext("{address} will get no more texts from {shop} about orders or restocks."))
            button = html.escape(gettext("Stop them"))
            return HTMLResponse(_page(
                language, gettext("Stop these messages?"), html.escape(text).format(**words),
                form=f'<form method="post" action="/unsubscribe?token={html.escape(token, quote=True)}">'
                     f'<button type="submit">{button}</button></form>'))
        when = now()
        if channel == "EMAIL":
            await store.suppress_email(address, store.UNSUBSCRIBED, when)
            await unsubscribe_email(address, when, "unsubscribe link")
            await store.cancel_product_subscriptions(email=address)
        else:
            await store.record_sms_opt_out(address, when, "unsubscribe link")
        log.info("unsubscribed %s from %s", address, channel)
        return HTMLResponse(_page(language, gettext("You are unsubscribed"), html.escape(
            gettext("{address} will get no more of these messages.")).format(**words)))

    return [
        Route("/webhooks/twilio/inbound", inbound, methods=["POST"]),
        Route("/webhooks/twilio/status", status, methods=["POST"]),
        Route("/unsubscribe", unsubscribe, methods=["GET", "POST"]),
    ]


async def _reader_language(channel: str, address: str, accept_language: str | None) -> str:
    """The language of whoever a link was sent to: the one stored for them (the customer's preference, else the
    one they last subscribed in), else their browser's, else English."""
    stored: str | None
    if channel == "EMAIL":
        stored = (await languages_by_email([address])).get(address) or await store.email_language(address)
    else:
        stored = await store.number_language(address)
    return language_of(stored) if stored else negotiated_language(accept_language)


def _page(language: str, title: str, text: str, form: str = "") -> str:
    """A page in `language`; `text` and `form` are HTML already escaped."""
    return (f'<!doctype html><html lang="{html.escape(language_of(language), quote=True)}"><head>'
            '<meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title></head>'
            f'<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem;">'
            f"<h1>{html.escape(title)}</h1><p>{text}</p>{form}</body></html>")
