"""Which GraphQL errors the server logs as errors: its own faults, with their traceback; never an answer
that was meant (not signed in, a permission refused, a business rule's no, a query that does not validate).
Through the schema's real executor, on the real schema and on a tiny one with a resolver that breaks."""

from __future__ import annotations

import logging

import pytest
import strawberry

from api.context import Context
from api.schema import build_schema
from api.schema.execution import Schema
from api.settings import Settings
from domain.errors import InvalidInput


@strawberry.type
class Broken:
    @strawberry.field
    def fault(self) -> int:
        raise RuntimeError("a bug in the server")

    @strawberry.field
    def refusal(self) -> int:
        raise InvalidInput("a business rule said no")


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_fault_is_logged_with_its_traceback_and_a_refusal_is_not(caplog):
    schema = Schema(query=Broken)
    with caplog.at_level(logging.DEBUG):
        refused = await schema.execute("{ refusal }")
        assert refused.errors and errors_logged(caplog) == []
        broken = await schema.execute("{ fault }")
    assert broken.errors
    [record] = errors_logged(caplog)
    assert record.exc_info and isinstance(record.exc_info[1], RuntimeError)


async def test_an_anonymous_visit_of_the_portal_logs_no_error(caplog, db):
    # the page's first question, asked without a session: the answer is "sign in", not a fault. With the store the
    # service always has: a query reads in a snapshot of it, opened before the caller is known (api/schema/execution)
    schema = build_schema(Settings(development=False))
    context = Context(desk=None, settings=Settings(), bus=None, principal=None)  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG):
        result = await schema.execute("{ viewer { role } orders(first: 5) { nodes { id } } }", context_value=context)
        invalid = await schema.execute("{ nosuchfield }", context_value=context)
    assert result.errors and result.errors[0].extensions == {"code": "UNAUTHENTICATED"}
    assert invalid.errors
    assert errors_logged(caplog) == []
