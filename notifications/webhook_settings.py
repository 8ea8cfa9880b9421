"""Settings of outbound webhooks (BACKORDER_WEBHOOK_*), read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from notifications.settings import env_float


@dataclass(frozen=True)
class WebhookSettings:
    allow_private: bool = False
    timeout_seconds: float = 10.0
    retry_base_seconds: float = 30.0  # 30 s, 1 min, 2 min, ... capped at retry_max_seconds
    retry_max_seconds: float = 3600.0
    disable_after: timedelta = timedelta(hours=24)
    batch_size: int = 20
    poll_seconds: float = 2.0

    @staticmethod
    def from_env() -> WebhookSettings:
        def number(name: str, default: float) -> float:
            value = env_float(name, default)
            if value <= 0:
                raise SystemExit(f"{name} must be more than 0")
            return value

        return WebhookSettings(
            allow_private=os.environ.get("BACKORDER_WEBHOOK_ALLOW_PRIVATE", "0").lower() in ("1", "true", "yes"),
            timeout_seconds=number("BACKORDER_WEBHOOK_TIMEOUT_SECONDS", 10.0),
            retry_base_seconds=number("BACKORDER_WEBHOOK_RETRY_BASE_SECONDS", 30.0),
            disable_after=timedelta(hours=number("BACKORDER_WEBHOOK_DISABLE_AFTER_HOURS", 24.0)))
