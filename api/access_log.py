"""The access log without secrets: a link's `token=` (portal sign-in links sent before they moved behind
'#', unsubscribe links, any `…token` parameter) is written as `token=[redacted]`. uvicorn logs every
request's path with its query string, and a log is read by more people, and kept longer, than a link
is valid; `serve` and the tests run uvicorn with this logging configuration (api.http_limits)."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

# a query parameter whose name ends in "token" (token, access_token, ...), up to the next & or #
_SECRET_PARAMETER = re.compile(r"(?i)([?&][^&=#]*token=)[^&#]*")


def redact(path: str) -> str:
    return _SECRET_PARAMETER.sub(r"\1[redacted]", path)


class RedactTokens(logging.Filter):
    """On uvicorn's access records (client, method, path with query, HTTP version, status): the path's
    secret parameters redacted. Other records pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with the filter on its access handler."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": "api.access_log.RedactTokens"}
    config["handlers"]["access"].setdefault("filters", []).append("redact_tokens")
    return config
