"""The request's loaders (api.context.Loader): strawberry's DataLoader, holding values as plain values. Whatever
is done to one (loads, primes with what the store holds, fetch_many, clears, in any order and interleaving), it
answers what a plain DataLoader over the same batch function answers, in no more batch calls than it plus one
per fetch_many; `peek` sees only what is held."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.dataloader import DataLoader

from api.context import Loader, _mapped, load_many_now, load_now
from tests.api.fuzzing import DERANDOMIZE

KEYS = st.sampled_from(["a", "b", "c", "d", "missing"])
STEP = st.one_of(
    st.tuples(st.just("load"), KEYS),
    st.tuples(st.just("load_many"), st.lists(KEYS, max_size=4)),
    st.tuples(st.just("prime"), KEYS),
    st.tuples(st.just("fetch_many"), st.lists(KEYS, max_size=4)),
    st.tuples(st.just("clear"), KEYS),
    st.tuples(st.just("now"), KEYS),
    st.tuples(st.just("many_now"), st.lists(KEYS, max_size=4)),
    st.tuples(st.just("tick")),
)
STORED = {"a": 1, "b": 2, "c": 3, "d": 4}


def _source(calls: list[list[str]]) -> Any:
    async def fetch(keys: Any) -> dict[str, int]:
        calls.append(list(keys))
        await asyncio.sleep(0)
        return {k: STORED[k] for k in keys if k in STORED}

    return fetch


async def _play(steps: list[tuple[Any, ...]], ours: bool) -> tuple[list[Any], int]:
    calls: list[list[str]] = []
    fetch = _source(calls)
    if ours:
        loader: Any = _mapped(fetch, lambda: -1)
    else:
        async def load(keys: list[str]) -> list[int]:
            found = await fetch(list(dict.fromkeys(keys)))
            return [found.get(k, -1) for k in keys]

        loader = DataLoader(load_fn=load)
    seen: list[Any] = []
    pending: list[Any] = []
    for step in steps:
        kind = step[0]
        if kind == "load":
            pending.append(loader.load(step[1]))
        elif kind == "load_many":
            pending.append(loader.load_many(step[1]))
        elif kind == "prime":  # with what the store holds, as a prefetch primes: which one wins cannot matter
            loader.prime(step[1], STORED.get(step[1], -1))
        elif kind == "fetch_many":  # awaited at once, as the prefetch does; load_many is a plain DataLoader's way
            seen.append(await (loader.fetch_many(step[1]) if ours else loader.load_many(step[1])))
        elif kind == "clear":
            try:
                loader.clear(step[1])
            except KeyError:
                seen.append("never held")
        elif kind == "now":
            pending.append(load_now(loader, step[1], lambda v: v) if ours else loader.load(step[1]))
        elif kind == "many_now":
            pending.append(load_many_now(loader, step[1], lambda v: v) if ours else loader.load_many(step[1]))
        else:
            seen.extend([await p if asyncio.isfuture(p) or asyncio.iscoroutine(p) else p for p in pending])
            pending.clear()
    seen.extend([await p if asyncio.isfuture(p) or asyncio.iscoroutine(p) else p for p in pending])
    return seen, len(calls)


@settings(max_examples=300, deadline=None, database=None, derandomize=DERANDOMIZE)
@given(st.lists(STEP, max_size=14))
def test_a_loader_answers_as_strawberrys_dataloader_in_no_more_batches(steps: list[tuple[Any, ...]]) -> None:
    ours, our_calls = asyncio.run(_play(steps, ours=True))
    plain, plain_calls = asyncio.run(_play(steps, ours=False))
    assert ours == plain
    assert our_calls <= plain_calls + sum(1 for step in steps if step[0] == "fetch_many")


def test_peek_sees_primed_and_loaded_values_and_nothing_else() -> None:
    async def run() -> None:
        calls: list[list[str]] = []
        loader: Loader[str, int] = _mapped(_source(calls), lambda: -1)
        # given: one primed value, one loaded, one never asked for
        loader.prime("a", 10)
        assert await loader.load("b") == 2
        # then: peek holds the first two at once and schedules nothing for the third
        assert loader.peek("a") == (True, 10) and loader.peek("b") == (True, 2)
        assert loader.peek("c") == (False, None)
        assert loader.batch is not None and [task.key for task in loader.batch.tasks] == ["b"]  # nothing for "c"
        # and fetch_many reads only what it lacks, in one call, with the missing key's default
        assert await loader.fetch_many(["a", "c", "missing", "c"]) == [10, 3, -1, 3]
        assert calls == [["b"], ["c", "missing"]]

    asyncio.run(run())
