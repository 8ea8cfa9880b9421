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
from domain.store.portal import get_preferences, save_preferences, signing_key
from notifications.outbox import read_unsubscribe_token
from notifications.settings import NotificationSettings
from notifications.sms import RECIPIENT_DELIVERY_CODES

log = logging.getLogger("backorder.notifications")

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "STOP ALL"})
START_WORDS = frozenset({"START", "YES", "UNSTOP", "OPTIN"})
HELP_WORDS = frozenset({"HELP", "INFO"})


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
        if word in STOP_WORDS:
            await store.record_sms_opt_out(phone, when, "STOP")
            await store.cancel_product_subscriptions(phone=phone)
            log.info("SMS opt-out recorded for %s", phone)
            return _twiml(f"{settings.shop_name}: you will get no more texts from us. Reply START to undo.")
        if word in START_WORDS:
            await store.record_sms_opt_in(phone, when, word)
            confirmed = await store.confirm_product_subscriptions(phone)
            if confirmed:
                wake()
                return _twiml(f"{settings.shop_name}: thanks, we will text you once when it is back in stock.")
            return _twiml(f"{settings.shop_name}: texts are on again. Reply STOP to opt out.")
        if word in HELP_WORDS:
            return _twiml(f"{settings.shop_name}: order updates by text. Manage them at {public}/ . "
                          "Reply STOP to opt out.")
        return _twiml(None)

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
        if found is None:
            return HTMLResponse(_page("This link is not valid", "Please use the link from one of our emails."),
                                status_code=400)
        channel, address = found
        if request.method == "GET":  # a mail scanner following links must not unsubscribe anyone
            return HTMLResponse(_page(
                "Stop these messages?",
                f"{html.escape(address)} will get no more {'emails' if channel == 'EMAIL' else 'texts'} from "
                f"{html.escape(settings.shop_name)} about orders or restocks.",
                form=f'<form method="post" action="/unsubscribe?token={html.escape(token, quote=True)}">'
                     '<button type="submit">Stop them</button></form>'))
        when = now()
        if channel == "EMAIL":
            await store.suppress_email(address, store.UNSUBSCRIBED, when)
            prefs = await get_preferences(address)
            if prefs.by_email:
                prefs.by_email = False
                await save_preferences(prefs)
            await store.cancel_product_subscriptions(email=address)
        else:
            await store.record_sms_opt_out(address, when, "unsubscribe link")
        log.info("unsubscribed %s from %s", address, channel)
        return HTMLResponse(_page("You are unsubscribed",
                                  f"{html.escape(address)} will get no more of these messages."))

    return [
        Route("/webhooks/twilio/inbound", inbound, methods=["POST"]),
        Route("/webhooks/twilio/status", status, methods=["POST"]),
        Route("/unsubscribe", unsubscribe, methods=["GET", "POST"]),
    ]


def _page(title: str, text: str, form: str = "") -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title></head>'
            f'<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem;">'
            f"<h1>{html.escape(title)}</h1><p>{text}</p>{form}</body></html>")
