"""Prometheus metrics at /metrics (prometheus_client), for staff API tokens or the scrape token
(BACKORDER_METRICS_TOKEN).

Counted where they happen: GraphQL latency by operation name and errors by code (a schema extension), stock
receipts' duration and how many backorders each served (a hook on the unit of work), sends by channel and
outcome (notifications.metrics), open websockets (ASGI middleware). Read from the database when scraped: the
waiting backlog (in all and for the top SKUs) and each outbox's depth and the age of its oldest unsent row.

Several processes (`serve --workers N`, `backorder worker`) on one host: with PROMETHEUS_MULTIPROC_DIR set
before prometheus_client is first imported, every process writes its values to files there and /metrics, in
whichever process answers, adds them up (prometheus_client's multiprocess mode). `serve --workers N` sets it
to a fresh directory when it is not set.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from domain import events as ev
from domain.causes import Cause
from domain.clock import Clock
from domain.store import operations
from domain.store.tokens import verify_token

GRAPHQL_SECONDS = Histogram("backorder_graphql_request_duration_seconds",
                            "GraphQL operations: parse, validate and execute, by operation name and type.",
                            ["operation", "type"])
GRAPHQL_ERRORS = Counter("backorder_graphql_errors", "Errors in GraphQL answers by code; kind=user: a mutation's "
                         "userErrors, kind=graphql: the answer's errors.", ["code", "kind"])
RECEIPT_SECONDS = Histogram("backorder_receipt_duration_seconds",
                            "A stock receipt (receiveStock, receivePurchaseOrder): allocation to the queue included.",
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
BACKORDERS_SERVED = Histogram("backorder_receipt_backorders_served", "Backorders allocated units by one receipt.",
                              buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000))
OPEN_WEBSOCKETS = Gauge("backorder_open_websockets", "Websocket connections open (GraphQL subscriptions).",
                        multiprocess_mode="livesum")
LIVE_SOCKETS_DROPPED = Counter("backorder_live_updates_dropped", "Live-update websockets closed with 1013 for not "
                               "keeping up (too many bytes unread, or too many updates waiting at once).")

MAX_OPERATION_NAMES = 200  # label values are series: a client inventing names must not grow them for ever
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_seen_operations: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if not _NAME.fullmatch(name):
        return "invalid"
    if name not in _seen_operations:
        if len(_seen_operations) >= MAX_OPERATION_NAMES:
            return "other"
        _seen_operations.add(name)
    return name


class GraphQLMetrics(SchemaExtension):
    """Innermost extension: it sees errors before MaskErrors hides their codes."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except Exception:  # the document did not parse: no operation to speak of
            kind = "unknown"
        GRAPHQL_SECONDS.labels(operation_label(context.operation_name), kind).observe(time.perf_counter() - started)
        result = context.result
        for error in getattr(result, "errors", None) or ():
            GRAPHQL_ERRORS.labels(error_code(error), "graphql").inc()
        data = getattr(result, "data", None)
        if kind == "mutation" and isinstance(data, dict):  # typed payloads: { ... userErrors { code } }
            for payload in data.values():
                for user_error in (payload or {}).get("userErrors") or () if isinstance(payload, dict) else ():
                    if isinstance(user_error, dict):
                        GRAPHQL_ERRORS.labels(str(user_error.get("code") or "UNSPECIFIED"), "user").inc()


def error_code(error: Any) -> str:
    code = (getattr(error, "extensions", None) or {}).get("code")
    if code:
        return str(code)
    original = getattr(error, "original_error", None)
    if original is None:
        return "GRAPHQL_VALIDATION_FAILED"  # syntax or validation: the query's fault
    code = getattr(original, "code", None)
    return str(getattr(code, "value", code)) if code else "INTERNAL_SERVER_ERROR"


@dataclass
class _BeingPutAway:
    """A receipt whose units for a long queue are put away a chunk a transaction after its own (staged): timed
    and counted until its last SKU's last chunk."""

    started: float
    causes: dict[str, Cause]  # sku -> the receipt's cause, for each SKU still being put away
    served: set[str] = field(default_factory=set)
    in_ranges: int = 0  # backorders served by ranges the receipt recorded (`QueueServed`: counted, not named)


# sku -> the receipt of this process being put away there. A receipt another process staged and this one finishes
# (the worker's round after a crash) is not timed: its start is the other process's
_being_put_away: dict[str, _BeingPutAway] = {}


def _served(events: Sequence[ev.Event], causes: dict[str, Cause] | None = None) -> set[str]:
    """The backorders `events` allocate units to (of the SKUs in `causes`, for their cause, if given)."""
    served = {e.backorder_id for e in events if isinstance(e, ev.BackorderAllocated)
              and (causes is None or causes.get(e.sku) == e.cause)}
    for e in events:  # a long queue's allocations come as one QueueChanged: its "A" entries, unopened
        if isinstance(e, ev.QueueChanged) and (causes is None or e.sku in causes):
            served |= {e.backorders[entry[1]][0] for entry in e.entries
                       if entry[0] == "A" and (causes is None or e.causes[entry[2]] == causes[e.sku])}
    return served


def _in_ranges(events: Sequence[ev.Event], causes: dict[str, Cause] | None = None) -> int:
    """How many backorders the ranges in `events` served (of the SKUs in `causes`, for their cause, if given): a
    range recorded names its backorders only by count (they are its first `count` in line)."""
    return sum(e.count for e in events if isinstance(e, ev.QueueServed)
               and (causes is None or causes.get(e.sku) == e.cause))


class ReceiptMetrics:
    """A before-commit hook, one per unit of work (made with it, so it knows when the use case began). A receipt
    is observed once whole: one that staged units (a long queue on SQLite, `shared.put_away_staged`) when its
    last chunk commits, timed from its own start and counting what every chunk served."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    async def __call__(self, conn: Any, events: Sequence[ev.Event]) -> None:
        received = {e.sku: e.cause for e in events if isinstance(e, ev.StockReceived)}
        if received:
            staged = await operations.staged_skus(conn, received)
            # a long queue's entries gone through in a worker thread (100k: tens of ms on the event loop)
            served = await asyncio.to_thread(_served, events) \
                if sum(len(e.entries) for e in events if isinstance(e, ev.QueueChanged)) >= 2_000 else _served(events)
            if not staged:
                RECEIPT_SECONDS.observe(time.perf_counter() - self.started)
                BACKORDERS_SERVED.observe(len(served) + _in_ranges(events))
                return
            # another SKU of the receipt recorded its range in this transaction: counted now, with the rest later
            receipt = _BeingPutAway(self.started, {sku: received[sku] for sku in staged}, served, _in_ranges(events))
            _being_put_away.update((sku, receipt) for sku in staged)
            return
        if not _being_put_away:
            return
        # a chunk (or, between two chunks, another writer: only what is for the receipt's cause is its). Every
        # transaction looks while a receipt is put away, as a last chunk may leave no event of its SKU's
        still = await operations.staged_skus(conn, _being_put_away.keys())
        for sku, receipt in list(_being_put_away.items()):
            receipt.served |= _served(events, {sku: receipt.causes[sku]})
            receipt.in_ranges += _in_ranges(events, {sku: receipt.causes[sku]})
            if sku in still:
                continue  # more chunks to come
            del _being_put_away[sku], receipt.causes[sku]
            if not receipt.causes:  # its last SKU put away
                RECEIPT_SECONDS.observe(time.perf_counter() - receipt.started)
                BACKORDERS_SERVED.observe(len(receipt.served) + receipt.in_ranges)


class WebsocketMetrics:
    """ASGI middleware counting open websockets."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        opened = False

        async def counting_send(message: Any) -> None:
            nonlocal opened
            if message["type"] == "websocket.accept" and not opened:
                opened = True
                OPEN_WEBSOCKETS.inc()
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if opened:
                OPEN_WEBSOCKETS.dec()


class _Backlog(Collector):
    def __init__(self, figures: operations.Backlog) -> None:
        self.figures = figures

    def collect(self) -> Iterator[GaugeMetricFamily]:
        f = self.figures
        yield GaugeMetricFamily("backorder_waiting_backorders", "Backorders waiting for stock (WAITING, "
                                "PARTIALLY_ALLOCATED).", value=f.waiting_backorders)
        yield GaugeMetricFamily("backorder_waiting_units", "Units backordered and not yet allocated.",
                                value=f.waiting_units)
        by_sku = GaugeMetricFamily("backorder_sku_waiting_units", "Units waiting, for the SKUs with the most.",
                                   labels=["sku"])
        count = GaugeMetricFamily("backorder_sku_waiting_backorders", "Backorders waiting, for the same SKUs.",
                                  labels=["sku"])
        for sku, backorders, units in f.top_skus:
            by_sku.add_metric([sku], units)
            count.add_metric([sku], backorders)
        yield by_sku
        yield count
        depth = GaugeMetricFamily("backorder_outbox_depth", "Unsent outbox rows (queued or being sent).",
                                  labels=["outbox", "channel"])
        for (outbox, channel), n in sorted(f.outbox_depth.items()):
            depth.add_metric([outbox, channel], n)
        yield depth
        age = GaugeMetricFamily("backorder_outbox_oldest_unsent_age_seconds",
                                "Age of the oldest unsent outbox row (0 when none waits).", labels=["outbox"])
        for outbox, seconds in sorted(f.outbox_oldest_seconds.items()):
            age.add_metric([outbox], seconds)
        yield age


class _Together:
    def __init__(self, *collectors: Any) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Any]:
        for collector in self.collectors:
            yield from collector.collect()


def _process_metrics() -> Any:
    """This process's metrics, or with PROMETHEUS_MULTIPROC_DIR every process's, added up."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import CollectorRegistry, multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


async def scrape_allowed(request: Request, scrape_token: str | None) -> bool:
    header = request.headers.get("authorization", "")
    secret = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not secret:
        return False
    if scrape_token and hmac.compare_digest(secret.encode(), scrape_token.encode()):
        return True
    info = await verify_token(secret)
    return info is not None  # every API token is staff (agent or admin)


def metrics_endpoint(scrape_token: str | None, clock: Clock) -> Any:
    async def metrics(request: Request) -> Response:
        if not await scrape_allowed(request, scrape_token):
            return Response("a staff API token or the scrape token, as a Bearer token\n", status_code=401,
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        figures = await operations.backlog(clock.now())
        body = generate_latest(_Together(_process_metrics(), _Backlog(figures)))  # type: ignore[arg-type]
        return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics


def process_exited(pid: int | None = None) -> None:
    """Multiprocess mode: drop a finished process's live gauges (its counters stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
