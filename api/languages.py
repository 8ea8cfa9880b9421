"""The language a request's page speaks, when the request does not say: its Accept-Language negotiated against the
languages messages are worded in, as the portal chooses. The negotiation lives in notifications.i18n, so the pages
customers reach from a message (notifications.web) choose exactly as the API does."""

from __future__ import annotations

from notifications.i18n import DEFAULT_LANGUAGE, negotiated_language

__all__ = ["DEFAULT_LANGUAGE", "negotiated_language"]
