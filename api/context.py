"""Per-request context: who is asking (the principal), the use cases, and fresh DataLoaders.

Loaders are built per request (never module-level) so one request's cache never leaks into another.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import time as systime
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from api.settings import Settings
from domain import events as ev
from domain import model as m
from domain.bus import EventBus
from domain.clock import Clock
from domain.currency import ExchangeRate
from domain.customers import NotificationPreferences
from domain.errors import PermissionDenied
from domain.eta import InboundSupply
from domain.goodwill import Goodwill
from domain.services import BackorderDesk
from domain.store import current
from domain.store import queries as q
from domain.store.portal import SignedIn, get_preferences, languages_by_email
from domain.store.tokens import token_is_active

K = TypeVar("K")
V = TypeVar("V")
log = logging.getLogger("backorder.session")


_NEVER = datetime(9999, 1, 1, tzinfo=UTC)


class PortalSession:
    """Whether the portal session behind a customer principal still holds, answered without I/O.

    A websocket keeps the principal it connected with for hours, so every event asks this: past the expiry
    (by the desk's clock) or signed out in this process, the answer is no at once; a sign-out in another
    process is seen by re-reading the session in the background once the last look is RECHECK_SECONDS old,
    and only while the customer's own events flow. One object per session token, shared by its connections.
    """

    RECHECK_SECONDS = 30.0
    _live: weakref.WeakValueDictionary[str, PortalSession] = weakref.WeakValueDictionary()

    def __init__(self, token: str, expires_at: datetime,
                 still_open: Callable[[str, datetime], Awaitable[bool]]) -> None:
        self._token = token
        self.expires_at = expires_at
        self._still_open = still_open
        self.clock: Clock | None = None  # the desk's, bound by the Context (tests move it)
        self.ended = False
        self._checked = systime.monotonic()
        self._recheck: asyncio.Task[None] | None = None
        self._digest: str | None = None
        self.token_key: str | None = None  # a console session also ends when the API token it came from does
        self._token_digest: str | None = None

    @classmethod
    def track(cls, token: str, expires_at: datetime,
              still_open: Callable[[str, datetime], Awaitable[bool]]) -> PortalSession:
        """The session's object, just read from the database and found open."""
        session = cls._live.get(token)
        if session is None or session.ended:
            session = cls(token, expires_at, still_open)
            cls._live[token] = session
        session._checked = systime.monotonic()
        return session

    @classmethod
    def for_api_token(cls, token_id: str) -> PortalSession:
        """An API token seen as a session that never expires but may be revoked: a websocket keeps its
        principal for hours, and the token's revocation must still end its subscriptions."""
        return cls.track(cls.api_token_key(token_id), _NEVER, lambda key, now: token_is_active(token_id))

    @staticmethod
    def api_token_key(token_id: str) -> str:
        return f"api-token:{token_id}"

    @classmethod
    def end_api_token(cls, token_id: str, now: datetime) -> ev.SessionEnded:
        """The token's own connections and every console session opened with it end, here and (published on
        the bus) on every process."""
        key = cls.api_token_key(token_id)
        for session in list(cls._live.values()):
            if session.token_key == key:
                cls.end(session.key)
        return cls.ended_event(key, now)

    @classmethod
    def end(cls, token: str) -> None:
        """Signed out here: connections made with this token get nothing more, starting now."""
        session = cls._live.pop(token, None)
        if session is not None:
            session.ended = True

    @staticmethod
    def digest(token: str) -> str:
        """How a session is named in a SessionEnded event: the key is a bearer secret, its digest is not."""
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def ended_event(cls, token: str, now: datetime) -> ev.SessionEnded:
        """Ends the session here, and says so to every process (published on the bus): each ends the live
        updates it feeds the session at once, instead of at its next re-read of the session (up to 30 s)."""
        cls.end(token)
        return ev.SessionEnded(occurred_at=now, session=cls.digest(token))

    @property
    def key(self) -> str:
        return self._token

    def is_named_by(self, event: ev.SessionEnded) -> bool:
        if self._digest is None:
            self._digest = self.digest(self._token)
        if self.token_key is not None and self._token_digest is None:
            self._token_digest = self.digest(self.token_key)
        return event.session in (self._digest, self._token_digest)

    def has_ended(self, now: datetime | None = None) -> bool:
        """Known to be over: signed out here, found ended by a re-check, or expired. Never starts a re-check."""
        if not self.ended and (now or self._now()) >= self.expires_at:
            self.ended = True
        return self.ended

    def is_live(self) -> bool:
        """Not known to be over; re-reads the session in the background when the last look is old."""
        now = self._now()
        if self.has_ended(now):
            return False
        if self._recheck is None and systime.monotonic() - self._checked >= self.RECHECK_SECONDS:
            try:
                self._recheck = asyncio.get_running_loop().create_task(self._reread(now), context=current.for_a_task())
            except RuntimeError:  # no loop (a plain function call): the next event will ask again
                pass
        return True

    async def confirm(self) -> bool:
        """Still open, asking the database first when the last look is RECHECK_SECONDS old: before an
        event is sent after a quiet spell, not on the answer from before it. One read per session per
        RECHECK_SECONDS, shared by all its connections."""
        now = self._now()
        if self.has_ended(now):
            return False
        if systime.monotonic() - self._checked >= self.RECHECK_SECONDS:
            recheck = self._recheck
            if recheck is None:
                recheck = self._recheck = asyncio.ensure_future(self._reread(now))
            await asyncio.shield(recheck)
        return not self.ended

    def _now(self) -> datetime:
        return (self.clock or Clock()).now()

    async def _reread(self, now: datetime) -> None:
        try:
            if not await self._still_open(self._token, now):
                self.ended = True
                type(self)._live.pop(self._token, None)
        except Exception:  # the database is away: keep the last answer, ask again later
            log.warning("could not re-check a portal session", exc_info=True)
        finally:
            self._checked = systime.monotonic()
            self._recheck = None


@dataclass(frozen=True)
class Principal:
    """Who is calling. Staff roles see everything; a customer (the portal) only their own data, and a
    customer who signed in with an order number only that order (no account: no preferences)."""

    role: str  # "agent" | "admin" | "customer"
    name: str
    customer_email: str | None = None
    order_id: str | None = None  # set when a customer got in with order number + email: that order only
    session: PortalSession | None = field(default=None, compare=False, repr=False)

    @property
    def is_staff(self) -> bool:
        return self.role in ("agent", "admin")

    @property
    def has_account(self) -> bool:
        """May see and change account-wide things (preferences, every order): not a one-order sign-in."""
        return self.is_staff or (self.customer_email is not None and self.order_id is None)

    def is_live(self) -> bool:
        """False once the portal session it came from was signed out or expired."""
        return self.session is None or self.session.is_live()

    def session_ended(self) -> bool:
        """The portal session (or API token) it came from is known to be over (cheap: for a check on every
        event). A token's revocation elsewhere is seen by a background re-read at most every 30 s."""
        if self.session is None:
            return False
        if self.is_staff:
            return not self.session.is_live()
        return self.session.has_ended()

    async def confirm_live(self) -> bool:
        """The session (or API token) still holds, re-read first if the last look is old: asked before
        each live update is sent."""
        return self.session is None or await self.session.confirm()

    def can_see_customer(self, email: str) -> bool:
        if self.is_staff:
            return True
        return self.customer_email is not None and self.customer_email == email and self.is_live()

    def can_see_order(self, order_id: str, customer_email: str) -> bool:
        if self.is_staff:
            return True
        if self.order_id is not None and self.order_id != order_id:
            return False
        return self.can_see_customer(customer_email)


class Loader(DataLoader[K, V]):
    """strawberry's DataLoader (batched, cached for the request), holding what it has as plain values too: a
    primed or loaded value is read by `peek` with a dict lookup, where DataLoader.load made (or looked up) a
    future, and `fetch_many` loads the keys it lacks with one call of the batch function and no future or gather
    per key. The portal's page reads a few hundred related objects this way, primed by its prefetch
    (bench/portal_query.py: futures, their callbacks and gathers were a tenth of its CPU)."""

    def __init__(self, load_fn: Callable[[list[K]], Awaitable[Sequence[V]]],
                 fetch: Callable[[Sequence[K]], Awaitable[dict[K, V]]] | None = None, default: Any = None) -> None:
        super().__init__(load_fn=load_fn)
        self.values: dict[K, V] = {}
        self._fetch, self._default = fetch, default

    def peek(self, key: K) -> tuple[bool, Any]:
        """(True, the value) when it is held already, else (False, None): nothing is loaded or scheduled."""
        try:
            return True, self.values[key]
        except KeyError:
            pass
        future = self.cache_map.get(key)
        if future is not None and future.done() and not future.cancelled() and future.exception() is None:
            value = self.values[key] = future.result()
            return True, value
        return False, None

    def load(self, key: K) -> Awaitable[V]:
        if key in self.values and self.cache_map.get(key) is None:  # primed as a value: its future, made now
            future: asyncio.Future[V] = self.loop.create_future()
            future.set_result(self.values[key])
            self.cache_map.set(key, future)
        return super().load(key)

    def prime_many(self, data: Mapping[K, V], force: bool = False) -> None:
        """As DataLoader.prime_many, keeping values instead of making a resolved future for each."""
        for key, value in data.items():
            if force or (key not in self.values and not self.cache_map.get(key)):
                self.values[key] = value
                if force and self.cache_map.get(key) is not None:
                    self.cache_map.delete(key)
        batch = self.batch
        if batch is not None and not batch.dispatched and any(task.key in data for task in batch.tasks):
            for task in batch.tasks:  # loads waiting for this batch: answered by the primed value
                if task.key in data and not task.future.done():
                    task.future.set_result(data[task.key])
            batch.tasks = [task for task in batch.tasks if not task.future.done()]

    def clear(self, key: K) -> None:
        held = key in self.values
        self.values.pop(key, None)
        if self.cache_map.get(key) is not None or not held:
            super().clear(key)  # a key never held: KeyError, as DataLoader says

    def clear_many(self, keys: Iterable[K]) -> None:
        for key in keys:
            self.clear(key)

    def clear_all(self) -> None:
        self.values.clear()
        super().clear_all()

    async def fetch_many(self, keys: Sequence[K]) -> list[V]:
        """The values of `keys`: those not held and not on their way read with one call of the batch function,
        the others as held (or awaited)."""
        if self._fetch is None:
            return await self.load_many(keys)
        missing = [key for key in dict.fromkeys(keys) if key not in self.values and self.cache_map.get(key) is None]
        if missing:
            found = await self._fetch(missing)
            default = self._default
            self.prime_many({key: found[key] if key in found else (default() if callable(default) else default)
                             for key in missing})
        out: list[V] = []
        for key in keys:
            held, value = self.peek(key)
            out.append(value if held else await self.load(key))
        return out


def _mapped(fetch: Callable[[Sequence[K]], Awaitable[dict[K, V]]], default: Any = None) -> Loader[K, V]:
    async def load(keys: list[K]) -> list[V]:
        found = await fetch(list(dict.fromkeys(keys)))
        return [found.get(k, default() if callable(default) else default) for k in keys]

    return Loader(load, fetch, default)


R = TypeVar("R")


def load_now(loader: Loader[K, V], key: K, then: Callable[[V], R]) -> Any:
    """`then(value)` at once when the loader already holds the value (a prefetch loaded it), else an awaitable
    of it. graphql-core completes a plain value in place; every awaitable costs it a task and a gather, and the
    portal's query has a few hundred related objects (bench/portal_query.py)."""
    held, value = loader.peek(key)
    if held:
        return then(value)
    return _later(loader.load(key), then)


def load_many_now(loader: Loader[K, V], keys: Sequence[K], then: Callable[[list[V]], R]) -> Any:
    """As `load_now`, for several keys."""
    values: list[V] = []
    for key in keys:
        held, value = loader.peek(key)
        if not held:
            return _later(asyncio.gather(*(loader.load(k) for k in keys)), then)
        values.append(value)
    return then(values)


def held_many(loader: Loader[K, V], keys: Sequence[K]) -> list[V] | None:
    """The values of `keys` when the loader holds them all (a prefetch loaded them), else None: nothing loads."""
    values = loader.values
    try:
        return [values[key] for key in keys]
    except KeyError:
        pass
    out: list[V] = []
    for key in keys:
        held, value = loader.peek(key)
        if not held:
            return None
        out.append(value)
    return out


async def _later(pending: Awaitable[Any], then: Callable[[Any], Any]) -> Any:
    result = then(await pending)
    while inspect.isawaitable(result):  # `then` may itself load what is not there yet
        result = await result
    return result


class Loaders:
    """One set per request (per event for a subscription); each DataLoader is built on first use, so a
    subscription with thousands of listeners does not build nine loaders per listener per event."""

    @cached_property
    def product_by_sku(self) -> Loader[str, m.Product | None]:
        return _mapped(q.products_by_sku)

    @cached_property
    def stock_by_sku(self) -> Loader[str, list[m.StockLevel]]:
        return _mapped(q.stock_by_sku, list)

    @cached_property
    def waiting_by_sku(self) -> Loader[str, int]:
        return _mapped(q.waiting_by_sku, lambda: 0)

    @cached_property
    def inbound_by_sku(self) -> Loader[str, list[InboundSupply]]:
        return _mapped(q.inbound_by_sku, list)

    @cached_property
    def order_by_id(self) -> Loader[str, m.Order | None]:
        return _mapped(q.orders_by_id)

    @cached_property
    def queue_by_sku(self) -> Loader[str, list[str]]:
        return _mapped(q.queues_by_sku, list)

    @cached_property
    def backorder_by_id(self) -> Loader[str, m.Backorder | None]:
        return _mapped(q.backorders_by_id)

    @cached_property
    def placed_in_turn_by_backorder(self) -> Loader[str, bool]:
        return _mapped(q.placed_in_turn, lambda: False)

    @cached_property
    def history_by_backorder(self) -> Loader[str, list[m.HistoryEntry]]:
        return _mapped(q.history_by_backorder, list)

    @cached_property
    def goodwill_by_backorder(self) -> Loader[str, list[Goodwill]]:
        return _mapped(q.goodwill_by_backorder, list)

    @cached_property
    def language_by_email(self) -> Loader[str, str]:
        return _mapped(languages_by_email, "en")

    @cached_property
    def customer_by_email(self) -> Loader[str, m.Customer | None]:
        return _mapped(q.customers_by_email)

    @cached_property
    def preferences_by_email(self) -> Loader[str, NotificationPreferences]:
        async def load(emails: list[str]) -> list[NotificationPreferences]:
            return [await get_preferences(email) for email in emails]  # one customer's, in practice

        return Loader(load)

    def signed_in(self, account: SignedIn) -> None:
        """What the session's read brought with it (the customer and their preferences) is this request's: the
        fields that ask for them read no further."""
        self.customer_by_email.prime(account.email, account.customer)
        self.preferences_by_email.prime(account.email, account.preferences)
        self.language_by_email.prime(account.email, account.preferences.language)

    @cached_property
    def purchase_order_by_id(self) -> Loader[str, m.PurchaseOrder | None]:
        return _mapped(q.purchase_orders_by_id)

    @cached_property
    def supplier_by_id(self) -> Loader[str, m.Supplier | None]:
        return _mapped(q.suppliers_by_id)

    @cached_property
    def exchange_rate_by_pair(self) -> Loader[tuple[str, str], ExchangeRate | None]:
        return _mapped(q.exchange_rates_by_pair)


# who is calling, read (given the snapshot's question, or None outside a snapshot of its own), and what to do once the
# request's snapshot ended (an API token's use recorded: a write), if anything
ReadCaller = Callable[["current.Asking | None"],
                      Awaitable["tuple[Principal | None, Callable[[], Awaitable[Any]] | None]"]]


class Caller:
    """Who an HTTP request comes from, read when its operation runs (api/schema/execution.py, `OneSnapshot`): a
    query's as the first read of its snapshot, whose statement then also answers whether a receipt's range is pending
    (domain.store.current), one statement where the check was one more. Read once a request (a batch's operations
    share it); the writes the read asks for wait for `settle`, after the snapshot (read only)."""

    def __init__(self, read: ReadCaller) -> None:
        self._read = read
        self._lock = asyncio.Lock()
        self._done = False
        self._then: Callable[[], Awaitable[Any]] | None = None

    async def identify(self, context: Context, asking: current.Asking | None) -> None:
        async with self._lock:
            if self._done:
                return
            principal, self._then = await self._read(asking)
            context.signed_in_as(principal)
            self._done = True

    async def settle(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            await then()


@dataclass
class Context:
    desk: BackorderDesk
    settings: Settings
    bus: EventBus
    principal: Principal | None
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # pluggable services (e.g. the link sender)
    loaders: Loaders = field(default_factory=Loaders)
    # the portal's session cookie, only when the request came from our own pages: read it here, never from
    # the request (signOut read it there and so let any site end a customer's session)
    session_cookie: str | None = None
    cookies_allowed: bool = True  # the request passed that same-origin check (signOut needs it too)
    live: Any = None  # api.live.LiveUpdates: the process's fan-out of live updates (subscriptions only)

    # an HTTP request's caller, read when its operation runs (None once read, and for a websocket: read at once)
    caller: Caller | None = None

    def __post_init__(self) -> None:
        self.signed_in_as(self.principal)

    def signed_in_as(self, principal: Principal | None) -> None:
        self.principal = principal
        # a portal session expires by the desk's clock, the one tests move
        if principal is not None and principal.session is not None:
            principal.session.clock = self.desk.clock

    def forget_reads(self) -> None:
        """After a mutation: later reads of this request go to the database, not to what the loaders hold."""
        self.loaders = Loaders()

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise PermissionDenied("sign in: send an API token as 'Authorization: Bearer ...'")
        return self.principal
