"""Whether a request comes from one of our own pages: session cookies (the portal's, the console's) count only
then, and a console session is only opened then (CSRF, login CSRF)."""

from __future__ import annotations

from typing import Any

from api.settings import Settings


def same_origin(origin: str, request: Any, settings: Settings) -> bool:
    if origin in settings.allowed_origins:
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def from_own_page(request: Any, settings: Settings) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        # no Origin: not a cross-site browser request (browsers send Origin on POST and websockets)
        return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
    return same_origin(origin, request, settings)
