"""What the dispatcher reads to word messages: each kind of row (backorders with their queue counts, products,
orders, goodwill, exchange rates, preferences, customers, the signing key) read for many messages at once and
kept for one batch of sends, so rewording a batch at send time costs one statement per kind, not one per
message. A batch lasts milliseconds: what it reads is as true as a read per message would be."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

from domain.customers import NotificationPreferences
from domain.goodwill import Goodwill
from domain.model import Backorder, Customer, Order, Product
from domain.pricing import ExchangeRate
from domain.store import queries as q
from domain.store.portal import preferences_by_email, signing_key

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Kept:
    """One kind of row, by key: what was asked for is read once (in one statement per call), misses included."""

    def __init__(self, read: Callable[[list[Any]], Awaitable[dict[Any, Any]]]) -> None:
        self._read = read
        self._rows: dict[Any, Any] = {}
        self._asked: set[Any] = set()

    async def get(self, keys: Iterable[K]) -> dict[K, Any]:
        wanted = list(dict.fromkeys(keys))
        missing = [k for k in wanted if k not in self._asked]
        if missing:
            self._rows.update(await self._read(missing))
            self._asked.update(missing)
        return {k: self._rows[k] for k in wanted if k in self._rows}


class Reads:
    """The rows a batch of messages is worded from; `Reads()` per digest composed, one per batch of sends."""

    def __init__(self) -> None:
        self._backorders = _Kept(self._read_backorders)
        self._products = _Kept(lambda skus: q.products_by_sku(skus))
        self._orders = _Kept(lambda ids: q.orders_by_id(ids))
        self._goodwill = _Kept(self._read_goodwill)
        self._rates = _Kept(lambda pairs: q.exchange_rates_by_pair(sorted(pairs)))
        self._preferences = _Kept(lambda emails: preferences_by_email(emails))
        self._customers = _Kept(lambda emails: q.customers_by_email(emails))
        self._key: bytes | None = None

    @staticmethod
    async def _read_backorders(ids: list[str]) -> dict[str, tuple[Backorder, bool]]:
        # the backorders and, for each, whether every one ahead of it was placed before it (one statement)
        backorders, in_turn = await q.backorders_with_turns(ids)
        return {i: (b, in_turn.get(i, False)) for i, b in backorders.items()}

    @staticmethod
    async def _read_goodwill(ids: list[str]) -> dict[str, list[Goodwill]]:
        given = await q.goodwill_by_backorder(ids)
        return {i: list(given.get(i, [])) for i in ids}

    async def backorders(self, ids: Iterable[str]) -> tuple[dict[str, Backorder], dict[str, bool]]:
        found = await self._backorders.get(ids)
        return {i: b for i, (b, _) in found.items()}, {i: in_turn for i, (_, in_turn) in found.items()}

    async def products(self, skus: Iterable[str]) -> dict[str, Product]:
        return await self._products.get(skus)

    async def orders(self, ids: Iterable[str]) -> dict[str, Order]:
        return await self._orders.get(ids)

    async def goodwill(self, backorder_ids: Iterable[str]) -> dict[str, list[Goodwill]]:
        return await self._goodwill.get(backorder_ids)

    async def rates(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], ExchangeRate]:
        return await self._rates.get(pairs)

    async def preferences(self, email: str) -> NotificationPreferences:
        return (await self._preferences.get([email]))[email]

    async def customer(self, email: str) -> Customer | None:
        return (await self._customers.get([email])).get(email)

    async def key(self) -> bytes:
        if self._key is None:
            self._key = await signing_key()
        return self._key

    async def prime(self, emails: Sequence[str], backorder_ids: Sequence[str], order_ids: Sequence[str],
                    goodwill_for: Sequence[str], skus: Sequence[str]) -> None:
        """Read for a whole batch at once what its messages will ask for, one statement per kind: the customers and
        their preferences, the backorders, their orders and goodwill, their products and those products'
        alternatives (offered, or named in a long delay's options)."""
        await self._preferences.get(emails)
        await self._customers.get(emails)
        backorders, _ = await self.backorders(backorder_ids)
        await self._orders.get(order_ids)
        await self._goodwill.get(goodwill_for)
        products = await self._products.get([*skus, *(b.sku for b in backorders.values())])
        await self._products.get([s for p in products.values() for s in p.substitutes])
