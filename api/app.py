"""The Starlette application: GraphQL over HTTP and websockets at /graphql, /healthz, /readyz, and the portal.

`create_app()` reads settings once; the lifespan applies migrations, connects tortoise (as the
process-wide context, so websocket tasks see it too) and starts the event bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from api.context import Caller, Context, Loaders, PortalSession, Principal
from api.export import download_endpoint
from api.http_limits import BodyLimit
from api.live import LiveUpdates
from api.logs import RequestIdMiddleware
from api.metrics import ReceiptMetrics, WebsocketMetrics, metrics_endpoint, process_exited
from api.origin import from_own_page, same_origin
from api.portal import COOKIE, customer_from_cookie
from api.rate_limits import order_sign_in_limit
from api.schema import build_schema
from api.settings import Settings
from api.staff import STAFF_COOKIE, staff_from_cookie
from api.turns import RequestTurns
from api.websocket import LiveTransportWSHandler
from domain.bus import EventBus, InProcessBus
from domain.clock import Clock
from domain.services import BackorderDesk
from domain.store import current, queries
from domain.store.db import open_database, ping_database
from domain.store.tokens import TokenInfo, find_token, record_use, verify_token
from domain.store.uow import TortoiseUnitOfWork
from notifications.outbound_webhooks import WebhookDispatcher, WebhookRecorder
from notifications.service import Notifications

log = logging.getLogger("backorder")
FRONTEND = Path(__file__).resolve().parent.parent / "frontend"


class BackorderGraphQL(GraphQL):  # type: ignore[type-arg]
    graphql_transport_ws_handler_class = LiveTransportWSHandler

    def __init__(self, app_state: dict[str, Any], settings: Settings) -> None:
        # strawberry refuses cross-origin websocket handshakes itself (HTTP 403) unless told which to allow
        # GraphiQL is served by `page()` from frontend/ with vendored assets, never strawberry's CDN template
        super().__init__(build_schema(settings), graphql_ide=None,
                         allow_queries_via_get=False, keep_alive=True, keep_alive_interval=15,
                         allowed_origins=settings.allowed_origins)
        self.state = app_state
        self.settings = settings

    def encode_json(self, data: object) -> str | bytes:
        return json.dumps(data, separators=(",", ":"))

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """An HTTP answer encoded by orjson: the portal's page of orders is 34 kB of JSON, and the standard
        library's encoder took ten times orjson's time for it, a tenth of the request's CPU (bench/portal_query.py).
        Anything orjson refuses (a lone surrogate, an integer past 64 bits) is encoded as before. Websocket
        messages keep `encode_json`: they must go as text frames, and orjson gives bytes."""
        try:
            body: str | bytes = orjson.dumps(response_data)
        except TypeError:
            body = self.encode_json(response_data)
        response = Response(body, status_code=200, media_type="application/json")
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        return response

    def decode_json(self, data: str | bytes) -> object:
        """A request body is a JSON object (or a batch list) of bounded nesting, else 400: `null`, bytes that
        are not UTF-8 JSON, and variables nested 100,000 deep were each an HTTP 500 (RecursionError)."""
        try:
            decoded = json.loads(data)
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
            raise HTTPException(400, "Unable to parse request body as JSON") from error
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        if _nesting(decoded) > MAX_JSON_NESTING:
            raise HTTPException(400, f"The request body is nested more than {MAX_JSON_NESTING} levels deep")
        return decoded

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        cookies_allowed = self._cookie_allowed(request)
        session_cookie = request.cookies.get(COOKIE) if cookies_allowed else None
        loaders = Loaders()
        context = Context(desk=self.state["desk"], settings=self.settings, bus=self.state["bus"],
                          principal=None, request=request, response=response, extras=self.state["extras"],
                          session_cookie=session_cookie, cookies_allowed=cookies_allowed, loaders=loaders,
                          live=self.state["live"])

        async def read(asking: current.Asking | None) -> tuple[Principal | None, Callable[[], Awaitable[Any]] | None]:
            header = request.headers.get("authorization", "")
            info = await find_token(_bearer(header), asking) if _bearer(header) else None
            if info is not None:
                # the use is recorded after the request's snapshot, which is read only
                return _token_principal(info), functools.partial(record_use, info)
            if cookies_allowed and (request.cookies.get(STAFF_COOKIE) or session_cookie):
                # an agent's console session first: an agent who opens a customer's portal link in the same
                # browser stays an agent on the console (the portal page then asks to sign in)
                now = self.state["desk"].clock.now()
                # a request's loaders may keep what the session's read brought (the customer, their preferences); a
                # websocket's context lives for hours, so it keeps none
                principal = await staff_from_cookie(request.cookies.get(STAFF_COOKIE), now) or \
                    await customer_from_cookie(session_cookie, now, loaders if isinstance(request, Request) else None,
                                               asking)
                return principal, None
            return None, None

        if isinstance(request, Request):  # read when its operation runs: a query's in its snapshot
            context.caller = Caller(read)
        else:
            principal, then = await read(None)
            context.signed_in_as(principal)
            if then is not None:
                await then()
        return context

    def _cookie_allowed(self, request: Request | WebSocket) -> bool:
        """CSRF: a session cookie only counts on requests from our own pages (same origin)."""
        return from_own_page(request, self.settings)

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:  # type: ignore[override]
        """Websockets: refuse foreign origins; browsers cannot set headers, so the token may come in the
        graphql-transport-ws connection_init payload as {"authorization": "Bearer ..."}."""
        request = context.request
        origin = request.headers.get("origin") if request is not None else None
        if origin and not same_origin(origin, request, self.settings):
            raise ConnectionRejectionError({"reason": "foreign origin"})
        params = context.connection_params or {}
        # GraphiQL forwards its Headers tab as the payload, so the key may be spelt "Authorization"
        header = next((v for k, v in params.items() if k.lower() == "authorization" and isinstance(v, str)), None)
        if context.principal is None and header is not None:
            context.principal = await authenticate(header)
        return None


MAX_JSON_NESTING = 32


def _nesting(value: object) -> int:
    """How deeply lists and objects nest in a decoded JSON value (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_NESTING:
                return depth
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _bearer(header: str) -> str:
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def _token_principal(info: TokenInfo) -> Principal:
    return Principal(role=info.role, name=info.name, session=PortalSession.for_api_token(info.id))


async def authenticate(header: str) -> Principal | None:
    token = _bearer(header)
    if not token:
        return None
    info = await verify_token(token)
    if info is None:
        return None
    return _token_principal(info)


# how long shut-down waits for the loops' rounds and the desk's background folds before it cancels them
SHUTDOWN_SECONDS = 15


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, bus: EventBus | None = None,
               notifications: Notifications | None = None, manage_database: bool = True) -> Starlette:
    """The app. Its parts are on `app.state` (desk, bus, notifications) for the CLI and the tests."""
    settings = settings or Settings.from_env()
    clock = clock or Clock()
    event_bus = bus or make_bus(settings.redis_url, settings.redis_channel)
    notify = notifications or Notifications(
        dataclasses.replace(settings.notifications, public_url=settings.public_url), clock)
    desk = make_desk(settings, event_bus, notify, clock)
    webhooks = WebhookDispatcher(settings.webhooks, clock)
    state: dict[str, Any] = {"extras": {"send_portal_link": notify.send_portal_link, "notifications": notify,
                                        "webhooks": webhooks,
                                        # one count for every process when Redis is configured
                                        "order_sign_in_limit": order_sign_in_limit(settings.redis_url,
                                                                                   settings.redis_channel)},
                             "bus": event_bus,
                             "live": LiveUpdates(event_bus, buffer_bytes=settings.live_buffer_bytes,
                                                 backlog=settings.live_backlog),
                             "desk": desk, "notifications": notify}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await event_bus.start()
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        async with contextlib.AsyncExitStack() as stack:
            if manage_database:
                await stack.enter_async_context(open_database(settings.database_url, global_fallback=True))
            if settings.inprocess_worker:
                tasks.append(asyncio.create_task(notify.dispatcher.run_forever(stop), name="dispatcher"))
                tasks.append(asyncio.create_task(_wake_on_events(event_bus, notify, webhooks), name="dispatcher-wake"))
                tasks.append(asyncio.create_task(webhooks.run_forever(stop), name="webhooks"))
                tasks.append(asyncio.create_task(refresh_etas_forever(desk, stop, settings.eta_refresh_seconds),
                                                 name="eta-refresh"))
                tasks.append(asyncio.create_task(take_substitutes_on_arrival(desk, event_bus, stop),
                                                 name="substitutes-on-arrival"))
            log.info("backorder desk ready on %s", _redact(settings.database_url))
            try:
                yield
            finally:
                stop.set()
                # the loops watch `stop` and end after their round: a round cancelled mid-way is rolled back and its
                # connection given back (domain.store.transactions), but its work is then left to the next start
                listening = [t for t in tasks if t.get_name() == "dispatcher-wake"]
                for task in listening:
                    task.cancel()
                waiting = [t for t in tasks if t not in listening] or listening
                # the desk's background folds end (or are cancelled, their range left pending for the next start's
                # round) before the database closes: a fold outliving it failed on a closed connection pool
                closing = asyncio.create_task(desk.close(wait_seconds=SHUTDOWN_SECONDS), name="desk-close")
                # without an in-process worker there is no loop to wait for (asyncio.wait refuses an empty set)
                _, late = await asyncio.wait(waiting, timeout=SHUTDOWN_SECONDS) if waiting else (set(), set())
                for task in late:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await closing
                await state["live"].stop()
        await event_bus.stop()
        close_limit = getattr(state["extras"]["order_sign_in_limit"], "close", None)
        if close_limit is not None:
            await close_limit()
        process_exited()

    graphql = BackorderGraphQL(state, settings)

    async def healthz(request: Request) -> Response:
        """Liveness: the process answers (a restart would not help when only the database is down)."""
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Readiness, for load balancers: 200 when the database answers (and Redis, when configured)."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping_database(), 5)
            checks["database"] = "ok"
        except Exception as error:  # any failure means: do not send traffic here
            checks["database"] = f"down: {type(error).__name__}"
        connected = getattr(event_bus, "connected", None)
        if connected is not None:
            checks["events"] = "ok" if connected else "down: Redis subscription not established"
        healthy = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if healthy else "unavailable", **checks},
                            status_code=200 if healthy else 503)

    routes: list[Any] = [
        Route("/graphql", page("graphiql.html", GRAPHIQL_CSP), methods=["GET"]),
        Route("/graphql", graphql, methods=["POST"]),
        Route("/agent", page("agent.html"), methods=["GET"]),
        Route("/admin", page("agent.html"), methods=["GET"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint(settings.metrics_token, clock)),
        Route("/export/{kind}.csv", download_endpoint(settings, clock, authenticate), methods=["GET"]),
        *notify.routes(),
    ]
    if FRONTEND.is_dir():
        routes.append(Mount("/", PortalFiles(directory=FRONTEND, html=True), name="portal"))
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(RequestIdMiddleware), Middleware(RequestTurns), Middleware(WebsocketMetrics),
                                Middleware(BodyLimit, max_bytes=settings.max_body_bytes)])
    app.state.desk, app.state.bus, app.state.notifications = desk, event_bus, notify
    app.state.webhooks = webhooks
    app.state.live = state["live"]
    return app


PORTAL_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
              "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


# GraphiQL's stylesheet carries its fonts as data: URLs; nothing else differs from the portal's policy
GRAPHIQL_CSP = PORTAL_CSP.replace("img-src", "font-src 'self' data:; img-src")


def _secure(response: Response, csp: str = PORTAL_CSP) -> Response:
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"  # a sign-in link's token must not leak onwards
    return response


class PortalFiles(StaticFiles):
    """The portal's files, which no other site may frame (frame-ancestors works only as a header)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        return _secure(await super().get_response(path, scope))


def page(name: str, csp: str = PORTAL_CSP) -> Callable[[Request], Awaitable[Response]]:
    """A page of frontend/ at its own address (GraphiQL at GET /graphql, the console at /agent), with the
    portal's security headers. In every mode: the page is public, its data needs a token or session."""

    async def serve(request: Request) -> Response:
        return _secure(FileResponse(FRONTEND / name, media_type="text/html"), csp)

    return serve


def make_desk(settings: Settings, bus: EventBus, notify: Notifications, clock: Clock | None = None) -> BackorderDesk:
    """The use cases as the service runs them: events published on `bus`, messages to the outbox in the
    same transaction (serve and every worker build it here, so their changes are told alike)."""
    queries.queues_ranked_by(settings.policy)  # the readers explain a place as this policy ranks queues
    return BackorderDesk(lambda: TortoiseUnitOfWork(
        bus, policy=settings.policy, default_lead_time_days=settings.default_lead_time_days,
        eta_learning=settings.eta_learning,
        before_commit=[notify.recorder, WebhookRecorder(clock), ReceiptMetrics()]), clock)


def app_from_env() -> Starlette:
    """For `serve --workers N`: each server process builds its app from the environment."""
    tune_gc()
    return create_app(Settings.from_env())


def tune_gc() -> None:
    """A server holds many long-lived objects (thousands of websocket subscriptions): with the default
    thresholds the cyclic collector re-scans them all every few hundred allocations, which took 40% of the
    time to fan an event out to 5,000 subscribers (bench/subscriptions.py). Collect young objects less often
    and leave the old generation alone unless it has really grown."""
    import gc

    gc.freeze()  # what start-up allocated (modules, schema) lives for the whole process
    gc.set_threshold(50_000, 20, 100)


def make_bus(redis_url: str | None, channel: str = "backorder:events") -> EventBus:
    """In-process fan-out on one machine; Redis pub/sub when several processes serve the same database."""
    if not redis_url:
        return InProcessBus()
    from domain.store.redis_bus import RedisBus

    return RedisBus(redis_url, channel=channel)


async def refresh_etas_forever(desk: BackorderDesk, stop: asyncio.Event, every_seconds: float) -> None:
    """Re-project the ETAs that time has overtaken (a PO date passed without delivery), now and then
    every `every_seconds`, until `stop` is set. A failed round is logged and tried again next time."""
    while not stop.is_set():
        try:
            folded = await desk.fold_pending_serves()  # receipts recorded as ranges that a crash left unfolded
            if folded:
                log.info("receipts recorded as ranges folded for %d SKU(s)", len(folded))
            staged = await desk.put_away_staged_receipts()  # receipts a crash left part put away (first at start-up)
            if staged:
                log.info("staged receipts put away for %d SKU(s)", len(staged))
            refreshed = await desk.refresh_stale_etas()  # also cancels what passed its "cancel if not by"
            if refreshed:
                log.info("ETAs re-projected for %d SKU(s) whose expected date passed", len(refreshed))
            substituted = await desk.apply_substitute_consents()
            if substituted:
                log.info("substitutes taken for %d backorder(s) whose customers consented", len(substituted))
        except Exception:  # a database hiccup must not end the loop
            log.exception("ETA refresh failed; trying again in %s s", every_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_seconds)


ARRIVALS = frozenset({"StockReceived", "StockAdjusted"})


async def take_substitutes_on_arrival(desk: BackorderDesk, bus: EventBus, stop: asyncio.Event,
                                      settle_seconds: float = 0.2) -> None:
    """Stock arrived: a customer who consented in advance to a listed substitute gets it now, not at the next
    hourly pass. The SKUs of a burst of arrivals are gathered for `settle_seconds`, then one pass runs for them
    (several processes may run it at once: each backorder is taken under its locks, once)."""
    with bus.subscribe() as stream:
        stopping = asyncio.ensure_future(stop.wait())
        while not stop.is_set():
            getting = asyncio.ensure_future(stream.queue.get())
            await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not getting.done():  # stopping: never cancelled inside a transaction
                getting.cancel()
                break
            event = getting.result()
            arrived = {event.sku} if event.kind in ARRIVALS else set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settle_seconds):
                    while True:
                        more = await stream.queue.get()
                        if more.kind in ARRIVALS:
                            arrived.add(more.sku)
            if not arrived:
                continue
            try:
                taken = await desk.apply_substitute_consents(sorted(arrived))
                if taken:
                    log.info("substitutes taken for %d backorder(s) as stock arrived", len(taken))
            except Exception:  # a database hiccup must not end the loop: the hourly pass catches up
                log.exception("taking consented substitutes failed")


async def _wake_on_events(bus: EventBus, notify: Notifications, webhooks: WebhookDispatcher | None = None) -> None:
    """Committed events mean there may be something to send: wake the dispatcher at once."""
    with bus.subscribe() as stream:
        async for _ in stream:
            notify.dispatcher.wake()
            if webhooks is not None:
                webhooks.wake()


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
