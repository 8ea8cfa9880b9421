"""How the schema executes: queries by their compiled plans (api/schema/compiled.py), everything else by graphql-core's
executor with a short way for plain leaf fields (and the hand-over of a subscription's executor to the live
updates), the request limits and caches, which errors are masked outside development, and which are logged as
errors."""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import strawberry
from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLResolveInfoHelpers,
    Undefined,
    is_leaf_type,
    is_non_null_type,
)
from strawberry.extensions import MaskErrors, MaxTokensLimiter, ParserCache, SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType
from strawberry.utils.await_maybe import await_maybe
from strawberry.utils.logging import StrawberryLogger

from api.live import CURRENT_EXECUTOR
from api.metrics import GraphQLMetrics
from api.query_limits import LimitedValidation
from api.schema import compiled
from api.settings import Settings
from domain.errors import DomainError, PermissionDenied
from domain.store import current

log = logging.getLogger("backorder.graphql")


class PlainFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor with a short way for the commonest field: a plain attribute (no resolver, no
    permission) holding a scalar or enum. graphql-core builds a resolve info, a node list and a resolver call
    for every field; the portal's query has 1,240 fields, about 1,000 of them such leaves, and that was the
    largest part of its CPU (bench/portal_query.py). Anything else, and any value that is not a clean leaf
    (null where not allowed, a failing coercion), takes graphql-core's own way, errors and all."""

    _plain: dict[tuple[str, str], tuple[str, Any, bool] | None] = {}  # the schema is built once per process

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core's helpers are the executor's own bound methods, held by the executor: a cycle through the
        # request's whole answer (the context, its loaders, every row they hold), so each request's objects
        # waited for the cyclic collector, which then took a seventh of the portal query's CPU under load
        # (bench/portal_query.py). Held weakly they are freed as soon as the request lets go of them.
        self.async_helpers = GraphQLResolveInfoHelpers(gather=_weakly(self.gather_async_work),
                                                       track=_weakly(self.track_async_work))

    def execute_operation(self, serially: bool | None = None) -> Any:
        """A query runs by its compiled plan (api/schema/compiled.py) when it has one; graphql-core's answer
        whenever the plan gives up (every error comes out as graphql-core shapes it, partial data and all)."""
        plan = compiled.plan_for(self) if not serially else None
        if plan is None:
            return super().execute_operation(serially)
        try:
            data = compiled.execute_plan(plan, self)
        except Exception:  # noqa: BLE001 - Fallback, or anything the plan did not foresee: graphql-core decides
            compiled.STATS["fallbacks"] += 1
            return super().execute_operation(serially)
        if not self.is_awaitable(data):
            compiled.STATS["compiled"] += 1
            return self.build_response(data)

        async def later() -> Any:
            try:
                done = await data
            except Exception:  # noqa: BLE001 - as above
                compiled.STATS["fallbacks"] += 1
                return await await_maybe(super(PlainFieldsExecutionContext, self).execute_operation(serially))
            compiled.STATS["compiled"] += 1
            return self.build_response(done)

        return later()

    def cancellable_iterable(self, iterable: Any) -> Any:
        """graphql-core hands the executor the subscription's source stream here, in the operation's own task,
        before the stream's first step: the live updates (api/live.py) execute the subscription's document with
        this executor, once for every subscriber who reads an event alike."""
        CURRENT_EXECUTOR.set(self)
        return super().cancellable_iterable(iterable)

    def execute_field(self, parent_type: Any, source: Any, field_details_list: Any, path: Any,
                      position_context: Any) -> Any:
        key = (parent_type.name, field_details_list[0].node.name.value)
        try:
            plain = self._plain[key]
        except KeyError:
            plain = self._plain[key] = self._plain_leaf(parent_type, key[1])
        if plain is not None and not getattr(self.middleware_manager, "middlewares", None):  # no resolve hooks
            name, leaf, nullable = plain
            value = getattr(source, name, Undefined)
            if value is None and nullable:
                return None
            if value is not None and value is not Undefined:
                try:
                    coerced = leaf.coerce_output_value(value)
                except Exception:  # noqa: BLE001 - graphql-core's way below reports it where it happened
                    coerced = None
                if coerced is not None and coerced is not Undefined:
                    return coerced
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _plain_leaf(self, parent_type: Any, field_name: str) -> tuple[str, Any, bool] | None:
        field_def = self.schema.get_field(parent_type, field_name)
        definition = field_def.extensions.get("strawberry-definition") if field_def else None
        resolve = getattr(field_def, "resolve", None)
        if (definition is None or field_def.args or not getattr(resolve, "_is_default", False)
                or getattr(resolve, "__name__", "") != "_get_basic_result"):
            return None  # a resolver, a permission, an exception handler, arguments: the full way
        inner = field_def.type.of_type if is_non_null_type(field_def.type) else field_def.type
        if not is_leaf_type(inner):
            return None
        return definition.python_name, inner, not is_non_null_type(field_def.type)


def _weakly(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` of an executor, called through a weak reference to the executor (nothing runs for a resolver
    after its execution has ended; if something did, it would hear so)."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> Any:
        bound = ref()
        if bound is None:
            raise RuntimeError("the execution this resolver belonged to has ended")
        return bound(*args)

    return call


class QuietMaskErrors(MaskErrors):
    """MaskErrors, less its check of every result against a runtime Protocol (typing's isinstance walks the
    protocol's members: 4% of the CPU fanning one event out to 5,000 subscribers, bench/subscriptions.py)."""

    def _process_result(self, result: object) -> None:
        if getattr(result, "errors", None):
            super()._process_result(result)


def should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        return False  # validation and syntax errors speak about the query, not the server
    return not isinstance(original, (DomainError, PermissionDenied, GraphQLError))


class Schema(strawberry.Schema):
    """strawberry's schema, logging as errors only the errors of the server. strawberry logs every error of every
    answer with its traceback at ERROR: a visitor not yet signed in (the portal asks who is there), a business
    rule's no, a query that does not validate, each filled the log with tracebacks that hid real faults. The
    answer is the same either way; only what masking would hide (an unexpected exception) is a fault."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            if should_mask(error):
                StrawberryLogger.error(error, execution_context)
            else:
                log.debug("answered with an error: %s", error.message)


def payload_of(result: ExecutionResult, executor: Any, settings: Settings) -> dict[str, Any]:
    """A `next` message's payload for a result the live updates executed themselves (api/live.py), as strawberry's
    stream makes it: the server's own errors logged, and masked outside development."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        errors = list(result.errors)
        schema = getattr(executor.schema, "_strawberry_schema", None)
        if isinstance(schema, Schema):
            schema.process_errors(errors)
        if not settings.development:
            errors = QuietMaskErrors(should_mask_error=should_mask, error_message="Unexpected error.")._process_errors(
                errors)
        payload["errors"] = [error.formatted for error in errors]
    return payload


class OneSnapshot(SchemaExtension):
    """A query's reads in one snapshot of the store, in which whether a receipt's served range is still pending was
    asked once (domain.store.current): the tables when none is, the views when one is; once a request, not once a
    read. The snapshot opens as soon as the operation is known to be a query (before validation, which asks who is
    calling for introspection), and who is calling (an HTTP request's `Caller`) is its first read, whose statement
    answers the question too: the session's or token's read was one statement a request already. Mutations keep
    their own transactions (the caller read before them, outside any); a subscription's events are read one by one
    as they come. The snapshot ends with the operation; what the caller's read left to write (a token's use) after."""

    async def on_operation(self) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as self._held:
            yield
        caller = getattr(self.execution_context.context, "caller", None)
        if caller is not None:
            await caller.settle()

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        caller = getattr(context, "caller", None)

        async def identify(asking: current.Asking | None) -> None:
            if caller is not None:
                await caller.identify(context, asking)
        if self.execution_context.operation_type is OperationType.QUERY:
            await self._held.enter_async_context(current.snapshot(first=identify))
        else:
            await identify(None)
        yield


def extensions(settings: Settings) -> list[Any]:
    """The schema's extensions, as factories: a fresh extension per request."""
    made: list[Any] = [
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        # parsed and validated documents cached across requests: 5,000 browsers subscribing with the same
        # document after a restart cost one validation, not 5,000 (bench/subscriptions.py)
        lambda: ParserCache(maxsize=256),
        # before the validation: a query's snapshot opens, and who is calling is read in it, before it asks
        OneSnapshot,
        # depth, aliases and size in linear time, before graphql-core's rules (strawberry's limiters expanded
        # fragments exponentially: a fragment bomb froze the server); introspection for staff
        lambda: LimitedValidation(max_depth=settings.max_query_depth, max_aliases=settings.max_aliases,
                                  max_fields=settings.max_document_fields,
                                  introspection_for=settings.introspection, maxsize=256),
    ]
    if not settings.development:
        made.append(lambda: QuietMaskErrors(should_mask_error=should_mask, error_message="Unexpected error."))
    made.append(GraphQLMetrics)  # innermost: it counts errors by code before they are masked
    return made
