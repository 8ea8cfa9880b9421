"""Logging for the service: plain text (default) or one JSON object a line (`BACKORDER_LOG_FORMAT=json`),
every line with the id of the request it belongs to, and no secret in any line.

`logging_config()` is a `logging.config.dictConfig` dict used both for our own loggers and for uvicorn's
(passed as its `log_config`, so the access log goes through the same handler, filters and format). Secrets
are removed by a filter on the handler, so whatever logger wrote the line, and whatever the line quotes (an
access log's `/?token=…`, a Bearer header, a sign-in link in a NOT SENT message), it leaves redacted.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from domain.store import request_ids

REDACTED = "***"
# API tokens (bd_ + 43 url-safe characters), any token=... in a URL or form (portal links, unsubscribe
# links, the portal's own `?token=`), Bearer credentials, the portal's and the console's session cookies, and webhook
# signing secrets
_SECRETS = [
    (re.compile(r"\bbd_[A-Za-z0-9_-]{16,}"), "bd_" + REDACTED),
    (re.compile(r"(?i)(\w*(?:token|signature|secret|password)=)[^&\s\"'<>;,]+"), r"\1" + REDACTED),
    (re.compile(r"(://[^:/@\s]+:)[^@\s/]+@"), r"\1" + REDACTED + "@"),  # a password in a URL
    (re.compile(r"(?i)(\bbearer\s+)[^\s\"',]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(\bbd_(?:session|staff)=)[^;\s\"']+"), r"\1" + REDACTED),  # portal and console cookies
    (re.compile(r"\bwhsec_[A-Za-z0-9_-]{16,}"), "whsec_" + REDACTED),  # webhook signing secrets (SQL at DEBUG)
    (re.compile(r"(?i)(\bsha256=)[0-9a-f]{16,}"), r"\1" + REDACTED),  # webhook signatures
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return redact(str(value))  # an exception, a URL object...: its text is what would be logged


class RedactSecrets(logging.Filter):
    """Removes tokens from the message and each of its arguments; the arguments keep their places, since
    uvicorn's access formatter reads them one by one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_value(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:  # the traceback's text may quote a token too
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class AddRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_ids.request_id() or "-"
        return True


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id",
                                                                         "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request_id, and the record's extra fields
    (uvicorn's access log: client, method, path, status)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "-")
        if request_id and request_id != "-":
            entry["request_id"] = request_id
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, http_version, status = record.args
            entry.update(client=client, method=method, path=path, http_version=http_version, status=status)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def logging_config(log_format: str = "text", level: str = "INFO") -> dict[str, Any]:
    """One handler on stderr for everything (ours, uvicorn's server and access logs, tortoise's)."""
    formatter: dict[str, Any] = ({"()": JsonFormatter} if log_format == "json" else {"format": TEXT_FORMAT})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactSecrets}, "request_id": {"()": AddRequestId}},
        "formatters": {"default": formatter},
        "handlers": {"default": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                 "formatter": "default", "filters": ["request_id", "redact"]}},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {name: {"handlers": [], "propagate": True, "level": level}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }


def configure(log_format: str = "text", level: str = "INFO") -> None:
    import logging.config

    logging.config.dictConfig(logging_config(log_format, level))


REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """ASGI middleware: every HTTP request and websocket gets an id (a proxy's X-Request-ID when sane), bound
    for the log lines and outbox rows it causes, and sent back in the response's X-Request-ID header."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        offered = next((v.decode("latin-1") for k, v in scope.get("headers", ())
                        if k == b"x-request-id"), None)
        value = request_ids.new_request_id(offered)
        header = (REQUEST_ID_HEADER.lower().encode(), value.encode())

        async def send_with_id(message: Any) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        token = request_ids.bind(value)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_ids.unbind(token)
