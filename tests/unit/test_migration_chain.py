"""The migrations form one line: numbered 0001, 0002, ... without a gap or a repeat, each depending on the one
before. Two engineers landing migrations with the same number (it happened: two 0018s on main for a few
minutes) would otherwise leave tortoise two leaves to choose between, or apply one twice on some databases."""

from __future__ import annotations

import importlib
import pkgutil

import domain.store.migrations as package


def test_the_migrations_are_one_numbered_chain() -> None:
    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__) if info.name[:4].isdigit())
    numbers = [int(name[:4]) for name in names]
    assert numbers == list(range(1, len(names) + 1)), f"numbers must run 1..n without gaps or repeats: {names}"
    for before, name in zip([None, *names], names, strict=False):
        migration = importlib.import_module(f"{package.__name__}.{name}").Migration
        expected = [] if before is None else [("backorder", before)]
        assert [tuple(d) for d in migration.dependencies] == expected, f"{name} must depend on {before}"
