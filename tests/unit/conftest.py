"""Unit tests run use cases on the in-memory unit of work (tests/unit/fakes.py), which the contract suite
(tests/integration/test_unit_of_work_contract.py) holds to the database's behaviour."""

from __future__ import annotations

import pytest

from domain.clock import FixedClock
from domain.services import BackorderDesk
from tests.unit.fakes import InMemoryStore
from tests.unit.support import NOW


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def desk(store: InMemoryStore) -> BackorderDesk:
    return BackorderDesk(store, FixedClock(NOW))
