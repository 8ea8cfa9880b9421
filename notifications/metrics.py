"""Prometheus metrics of outgoing messages (prometheus_client; multi-process correct when
PROMETHEUS_MULTIPROC_DIR is set before the first import, which `backorder serve`/`worker` see to)."""

from __future__ import annotations

from prometheus_client import Counter

SENDS = Counter("backorder_sends", "Messages handed to a channel, by channel and outcome (sent, logged: no "
                "provider configured, retry, failed: permanent, dead: gave up; not handed over: suppressed: the "
                "recipient's wish, outdated: no longer true when due, merged: told in another message).",
                ["channel", "outcome"])


def count_send(channel: str, outcome: str) -> None:
    SENDS.labels(channel=channel.lower(), outcome=outcome).inc()
