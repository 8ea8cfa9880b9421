"""Settings are read once from the environment: each BACKORDER_* variable lands in its field, unset or blank
means the default, and a value that is not a number stops start-up with a sentence naming the variable."""

from __future__ import annotations

import os

import pytest

from api.settings import Settings

ENV = {
    "BACKORDER_DATABASE_URL": "sqlite://./other.db",
    "BACKORDER_ENV": "development",
    "BACKORDER_DEFAULT_LEAD_TIME_DAYS": "21",
    "BACKORDER_PRIORITY_TIER_WEIGHT": "1.5",
    "BACKORDER_PUBLIC_URL": "https://shop.example",
    "BACKORDER_LINK_MINUTES": "20",
    "BACKORDER_SESSION_HOURS": "8",
    "BACKORDER_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2",
    "BACKORDER_ALLOWED_ORIGINS": "https://shop.example,https://admin.example",
    "BACKORDER_INPROCESS_WORKER": "false",
    "BACKORDER_INTROSPECTION": "Nobody",
    "BACKORDER_COALESCE_SECONDS": "120",
    "BACKORDER_NOTIFY_LEASE_SECONDS": "60.5",
    "BACKORDER_SMTP_URL": "smtps://mailer:secret@smtp.example:465",
    "BACKORDER_WEBHOOK_TIMEOUT_SECONDS": "5",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*ENV, *(n for n in os.environ if n.startswith("BACKORDER_") and not n.startswith("BACKORDER_TEST"))]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_every_variable_lands_in_its_field(env: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        env.setenv(name, value)
    s = Settings.from_env()
    assert (s.database_url, s.development, s.default_lead_time_days, s.public_url) == (
        "sqlite://./other.db", True, 21, "https://shop.example")
    assert s.policy.tier_weight == 1.5 and s.policy.urgency_weight == 0.0
    assert (s.link_minutes, s.session_hours, s.inprocess_worker, s.introspection) == (20, 8, False, "nobody")
    assert s.trusted_proxies == ("10.0.0.1", "10.0.0.2")
    assert s.allowed_origins == ("https://shop.example", "https://admin.example")
    assert (s.notifications.coalesce_seconds, s.notifications.lease_seconds) == (120, 60.5)
    assert s.notifications.smtp is not None
    assert (s.notifications.smtp.host, s.notifications.smtp.port, s.notifications.smtp.username,
            s.notifications.smtp.implicit_tls) == ("smtp.example", 465, "mailer", True)
    assert s.webhooks.timeout_seconds == 5.0


def test_unset_or_blank_means_the_default(env: pytest.MonkeyPatch) -> None:
    env.setenv("BACKORDER_LINK_MINUTES", "  ")
    env.setenv("BACKORDER_NOTIFY_LEASE_SECONDS", "")
    s = Settings.from_env()
    assert (s.link_minutes, s.session_hours, s.notifications.lease_seconds, s.development) == (30, 12, 55.0, False)
    assert s == Settings(notifications=s.notifications, webhooks=s.webhooks)


@pytest.mark.parametrize(("name", "value", "says"), [
    ("BACKORDER_LINK_MINUTES", "thirty", "BACKORDER_LINK_MINUTES must be a whole number, not 'thirty'"),
    ("BACKORDER_COALESCE_SECONDS", "1.5", "BACKORDER_COALESCE_SECONDS must be a whole number, not '1.5'"),
    ("BACKORDER_PRIORITY_TIER_WEIGHT", "heavy", "BACKORDER_PRIORITY_TIER_WEIGHT must be a number, not 'heavy'"),
    ("BACKORDER_WEBHOOK_TIMEOUT_SECONDS", "0", "BACKORDER_WEBHOOK_TIMEOUT_SECONDS must be more than 0"),
    ("BACKORDER_INTROSPECTION", "some", "BACKORDER_INTROSPECTION must be one of staff, everyone, nobody"),
])
def test_a_bad_value_stops_start_up_naming_the_variable(env: pytest.MonkeyPatch, name: str, value: str,
                                                       says: str) -> None:
    env.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        Settings.from_env()
    assert str(stopped.value).startswith(says)


def test_the_reorder_policy_comes_from_the_environment_and_a_bad_one_stops_start_up(env: pytest.MonkeyPatch) -> None:
    from domain.reorder import ReorderPolicy

    assert Settings.from_env().reorder_policy == ReorderPolicy(0.95, 0.2, 90)
    env.setenv("BACKORDER_REORDER_SERVICE_LEVEL", "0.98")
    env.setenv("BACKORDER_REORDER_SMOOTHING", "0.1")
    env.setenv("BACKORDER_REORDER_HISTORY_DAYS", "60")
    assert Settings.from_env().reorder_policy == ReorderPolicy(0.98, 0.1, 60)
    env.setenv("BACKORDER_REORDER_SERVICE_LEVEL", "1.2")
    with pytest.raises(SystemExit, match="BACKORDER_REORDER_SERVICE_LEVEL"):
        Settings.from_env()
