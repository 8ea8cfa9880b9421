"""Settings, read once from the environment (BACKORDER_*)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from domain.allocation import PriorityPolicy
from domain.delays import EtaLearning
from domain.errors import InvalidInput
from domain.reorder import ReorderPolicy
from domain.store.db import DEFAULT_DATABASE_URL
from notifications.settings import NotificationSettings, env_float, env_int
from notifications.webhook_settings import WebhookSettings


def _log_format(raw: str) -> str:
    value = raw.strip().lower() or "text"
    if value not in ("text", "json"):
        raise SystemExit(f"BACKORDER_LOG_FORMAT must be text or json, not {raw!r}")
    return value


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in choices:
        raise SystemExit(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


def _eta_learning(env: os._Environ[str] | dict[str, str]) -> EtaLearning | None:
    """BACKORDER_ETA_LEARNING=0 keeps ETAs at the POs' own dates; BACKORDER_ETA_DELAY_QUANTILE (0-1, default
    0.8) is how much of a supplier's delay record a promise covers."""
    if env.get("BACKORDER_ETA_LEARNING", "1").strip().lower() in ("0", "false", "no"):
        return None
    q = env_float("BACKORDER_ETA_DELAY_QUANTILE", 0.8)
    if not 0 <= q <= 1:
        raise SystemExit(f"BACKORDER_ETA_DELAY_QUANTILE must be between 0 and 1, not {q}")
    return EtaLearning(delay_quantile=q)


def _reorder_policy() -> ReorderPolicy:
    """The shop's reorder advice policy: BACKORDER_REORDER_SERVICE_LEVEL (0.5 up to 1, default 0.95),
    BACKORDER_REORDER_SMOOTHING (Croston's constant, default 0.2), BACKORDER_REORDER_HISTORY_DAYS (default 90)."""
    policy = ReorderPolicy(env_float("BACKORDER_REORDER_SERVICE_LEVEL", 0.95),
                           env_float("BACKORDER_REORDER_SMOOTHING", 0.2),
                           env_int("BACKORDER_REORDER_HISTORY_DAYS", 90))
    try:
        return policy.validate()
    except InvalidInput as error:
        raise SystemExit(f"BACKORDER_REORDER_{error.field.upper() if error.field else ''}: {error.message}") from error


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    development: bool = False
    default_lead_time_days: int = 14
    policy: PriorityPolicy = field(default_factory=PriorityPolicy)
    # ETAs learned from suppliers' deliveries (issue 14); None: a PO's own date, as before
    eta_learning: EtaLearning | None = field(default_factory=EtaLearning)
    # reorder advice's defaults (issue 14); reorderSuggestions' arguments override them per question
    reorder_policy: ReorderPolicy = field(default_factory=ReorderPolicy)
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000
    max_document_fields: int = 5000  # fields of a document once its fragments are written out
    introspection: str = "staff"  # who may ask for the schema: staff, everyone or nobody
    page_size_limit: int = 200
    allowed_origins: tuple[str, ...] = ()
    public_url: str = "http://127.0.0.1:8000"
    redis_url: str | None = None  # set: events fan out across processes through Redis pub/sub
    redis_channel: str = "backorder:events"  # one per deployment sharing a Redis
    link_minutes: int = 30
    session_hours: int = 12
    inprocess_worker: bool = True
    eta_refresh_seconds: int = 3600  # how often workers re-project ETAs that time has overtaken
    max_body_bytes: int = 1024 * 1024  # a longer request body (or websocket message) is refused with 413
    header_timeout_seconds: float = 10.0  # a client that has not sent its headers by then is disconnected
    body_timeout_seconds: float = 30.0  # ... and its body within this long after its headers
    trusted_proxies: tuple[str, ...] = ()  # addresses whose X-Forwarded-For / -Proto is believed
    # live updates (api/live.py): a socket with more than this many bytes of updates unread, or more than this many
    # updates waiting for it, is closed with 1013 (the pages reconnect and read the current state)
    live_buffer_bytes: int = 1024 * 1024
    live_backlog: int = 1000
    # operations (issue 17): log format, who may scrape /metrics
    log_format: str = "text"  # "json": one JSON object a line
    metrics_token: str | None = None  # a bearer token for Prometheus, besides staff API tokens
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)

    @staticmethod
    def from_env() -> Settings:
        env = os.environ
        return Settings(
            database_url=env.get("BACKORDER_DATABASE_URL", DEFAULT_DATABASE_URL),
            development=env.get("BACKORDER_ENV", "production").lower() in ("dev", "development"),
            default_lead_time_days=env_int("BACKORDER_DEFAULT_LEAD_TIME_DAYS", 14),
            policy=PriorityPolicy(
                tier_weight=env_float("BACKORDER_PRIORITY_TIER_WEIGHT", 0.0),
                urgency_weight=env_float("BACKORDER_PRIORITY_URGENCY_WEIGHT", 0.0),
                size_weight=env_float("BACKORDER_PRIORITY_SIZE_WEIGHT", 0.0),
            ),
            eta_learning=_eta_learning(env),
            reorder_policy=_reorder_policy(),
            public_url=env.get("BACKORDER_PUBLIC_URL", "http://127.0.0.1:8000"),
            redis_url=env.get("BACKORDER_REDIS_URL") or None,
            redis_channel=env.get("BACKORDER_REDIS_CHANNEL") or "backorder:events",
            link_minutes=env_int("BACKORDER_LINK_MINUTES", 30),
            session_hours=env_int("BACKORDER_SESSION_HOURS", 12),
            eta_refresh_seconds=env_int("BACKORDER_ETA_REFRESH_SECONDS", 3600),
            max_body_bytes=env_int("BACKORDER_MAX_BODY_BYTES", 1024 * 1024),
            header_timeout_seconds=env_float("BACKORDER_HEADER_TIMEOUT_SECONDS", 10.0),
            body_timeout_seconds=env_float("BACKORDER_BODY_TIMEOUT_SECONDS", 30.0),
            live_buffer_bytes=env_int("BACKORDER_LIVE_BUFFER_BYTES", 1024 * 1024),
            live_backlog=env_int("BACKORDER_LIVE_BACKLOG", 1000),
            trusted_proxies=tuple(p.strip() for p in env.get("BACKORDER_TRUSTED_PROXIES", "").split(",") if p.strip()),
            introspection=_choice("BACKORDER_INTROSPECTION", "staff", ("staff", "everyone", "nobody")),
            inprocess_worker=env.get("BACKORDER_INPROCESS_WORKER", "1") not in ("0", "false", "no"),
            log_format=_log_format(env.get("BACKORDER_LOG_FORMAT", "text")),
            metrics_token=env.get("BACKORDER_METRICS_TOKEN") or None,
            webhooks=WebhookSettings.from_env(),
            notifications=NotificationSettings.from_env(),
            allowed_origins=tuple(o.strip() for o in env.get("BACKORDER_ALLOWED_ORIGINS", "").split(",") if o.strip()),
        )
