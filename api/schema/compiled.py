"""A compiled executor for queries: a plan per validated operation, run without graphql-core's field-by-field
machinery, falling back to graphql-core for anything it does not cover and for every error.

graphql-core completes each field of an answer through half a dozen generic calls (execute_field, resolve info,
complete_value by type kind, sub-field collection per object, a gather per object with an awaitable): for the
portal's `Orders` document, ~1,240 fields, that was about half of the server's CPU (bench/portal_query.py). Here
the work that depends only on the document is done once: graphql-core's own `collect_fields`/`collect_subfields`
group each selection for its type (fragments, type conditions, @skip/@include under the variables' values), and
each field becomes an entry saying what to call (a plain attribute, or the field's own resolve function, which
keeps strawberry's argument conversion, permission classes and extensions exactly) and how to complete its value
(non-null, list, leaf coercion, object). A run walks the plan; awaitable results are gathered in waves, all the
awaitables found in one pass at once, so loaders batch as they do under graphql-core (or better).

It never shapes an error itself: any error (a resolver raising, a permission refused, a null where the schema
says non-null, a value a scalar cannot serialise, anything unexpected) abandons the run, and graphql-core
executes the operation from the start, so the answer, errors and partial data included, is graphql-core's.
Only queries take this way (a mutation's resolvers must run once, in order); subscriptions, introspection,
abstract types, `is_type_of` checks, middleware, fragment variables, @defer/@stream and an abort signal take
graphql-core's. tests/api/test_compiled_execution.py runs many documents both ways and requires equal answers.
"""

from __future__ import annotations

import asyncio
import inspect
import keyword
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from graphql import (
    DirectiveNode,
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    VariableNode,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetails, collect_fields, collect_subfields
from graphql.execution.values import get_argument_values
from graphql.language import Node
from graphql.pyutils import Path

Pending = list[tuple[Any, dict[Any, Any] | list[Any], Any, Callable[..., Any], Path]]
Complete = Callable[[Any, Any, Pending, "_Run"], Any]  # (value, response path or None for a leaf, pending, run)

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_PLANS: OrderedDict[tuple[int, int, tuple[Any, ...]], tuple[Any, Any, _Plan | None]] = OrderedDict()
_DIRECTIVE_VARIABLES: OrderedDict[int, tuple[OperationDefinitionNode, tuple[str, ...] | None]] = OrderedDict()
MAX_PLANS = 256
STATS = {"compiled": 0, "fallbacks": 0}  # runs of each kind in this process (the tests read them)
ENABLED = True  # False: graphql-core executes everything (tests/api/test_compiled_execution.py compares the two)


class Fallback(Exception):
    """This run cannot give graphql-core's answer by itself (an error, or something not covered)."""


class Unsupported(Exception):
    """The operation uses something the plan does not cover: graphql-core executes it."""


class _Field:
    """One response key of an object's selection: how to get its value and how to complete it."""

    __slots__ = ("args", "attr", "call", "complete", "field_def", "key", "leaf", "nodes", "parent_name",
                 "parent_type", "resolve", "text", "typename")

    def __init__(self, key: str, parent_type: GraphQLObjectType) -> None:
        self.key = key
        self.parent_type = parent_type
        self.parent_name = parent_type.name
        self.attr: str | None = None  # a plain attribute (strawberry's basic field): no resolve info needed
        self.resolve: Callable[..., Any] | None = None
        self.call: Callable[[Any, Path, _Run], Any] | None = None  # (source, path, run): the resolver's result
        self.typename: str | None = None  # `__typename`
        self.args: list[FieldDetails] | None = None  # the field takes arguments: coerced once per run
        self.field_def: Any = None
        self.nodes: list[Any] = []
        self.complete: Complete = _identity
        self.leaf: Complete | None = None  # a plain attribute completed without a path (a leaf or a list of leaves)
        self.text = False  # String or ID: a str is its own answer


def _identity(value: Any, path: Path, pending: Pending, run: _Run) -> Any:
    return value


class _Plan:
    def __init__(self, root_type: GraphQLObjectType, fields: list[_Field]) -> None:
        self.root_type = root_type
        self.fields = fields
        self.execute = _compiled(fields)


class _Run:
    """The state of one execution: the executor (resolve info, variables, awaitable test) and coerced arguments."""

    __slots__ = ("args", "context", "executor", "is_awaitable")

    def __init__(self, executor: Any) -> None:
        self.executor = executor
        self.context = executor.context_value
        self.is_awaitable = executor.is_awaitable
        self.args: dict[int, dict[str, Any]] = {}

    def arguments(self, field: _Field) -> dict[str, Any]:
        found = self.args.get(id(field))
        if found is None:
            assert field.args is not None
            details = field.args[0]
            executor = self.executor
            found = self.args[id(field)] = get_argument_values(
                field.field_def, details.node, executor.variable_values, details.fragment_variable_values,
                executor.hide_suggestions)
        return found


# -- running a plan ----------------------------------------------------------------------------
def execute_plan(plan: _Plan, executor: Any) -> Any:
    """The operation's data, or an awaitable of it; raises Fallback where graphql-core must answer instead."""
    run = _Run(executor)
    pending: Pending = []
    try:
        data = plan.execute(executor.root_value, None, pending, run)
    except BaseException:
        _close(pending)
        raise
    if not pending:
        return data
    return _drain(data, pending, run)


async def _drain(data: dict[str, Any], pending: Pending, run: _Run) -> dict[str, Any]:
    try:
        while pending:
            wave = pending[:]
            pending.clear()
            values = await asyncio.gather(*(entry[0] for entry in wave), return_exceptions=True)
            for (_, target, key, complete, path), value in zip(wave, values, strict=True):
                if isinstance(value, BaseException):
                    if isinstance(value, Exception):
                        raise Fallback from value
                    raise value
                target[key] = complete(value, path, pending, run)
    except BaseException:
        _close(pending)
        raise
    return data


def _close(pending: Pending) -> None:
    """Coroutines that will not be awaited now (the run is abandoned) are closed, not left to warn."""
    for entry in pending:
        if inspect.iscoroutine(entry[0]):
            entry[0].close()
    pending.clear()


def _compiled(fields: list[_Field]) -> Callable[[Any, Path | None, Pending, _Run], dict[str, Any]]:
    """One object's selection as a Python function, generated once per plan: the walk is then straight-line code
    (`out["sku"] = source.sku`), where a loop over the fields asked each one which kind it was, on every object
    of every request (the loop's own time was a seventh of the portal query's CPU, bench/portal_profile.py). What
    it does per field is what graphql-core's execute_fields does for these kinds, in the selection's order:
    - a plain attribute holding a leaf: read and completed without a response path (text is its own answer);
    - a plain attribute holding an object or a list: completed under its path;
    - `__typename`: the type's name;
    - anything else: its resolver called (`call`), an awaitable result left in its place to be filled when its
      wave is gathered (`_drain`), any other completed at once."""
    namespace: dict[str, Any] = {"Path": Path}
    code = ["def execute(source, path, pending, run):", "    out = {}"]
    if any(f.call is not None for f in fields):
        code.append("    is_awaitable = run.is_awaitable")
    for n, field in enumerate(fields):
        namespace.update({f"K{n}": field.key, f"P{n}": field.parent_name, f"C{n}": field.complete,
                          f"L{n}": field.leaf, f"T{n}": field.typename, f"R{n}": field.call, f"A{n}": field.attr})
        if field.attr is not None:
            read = (f"source.{field.attr}" if field.attr.isidentifier() and not keyword.iskeyword(field.attr)
                    else f"getattr(source, A{n})")
            if field.leaf is None:
                code.append(f"    out[K{n}] = C{n}({read}, Path(path, K{n}, P{n}), pending, run)")
            elif field.text:
                code += [f"    value = {read}",
                         f"    out[K{n}] = value if type(value) is str else L{n}(value, path, pending, run)"]
            else:
                code.append(f"    out[K{n}] = L{n}({read}, path, pending, run)")
        elif field.typename is not None:
            code.append(f"    out[K{n}] = T{n}")
        else:
            code += [f"    field_path = Path(path, K{n}, P{n})",
                     f"    result = R{n}(source, field_path, run)",
                     "    if is_awaitable(result):",
                     f"        out[K{n}] = None  # its place in the answer's order; filled when its wave is gathered",
                     f"        pending.append((result, out, K{n}, C{n}, field_path))",
                     "    else:",
                     f"        out[K{n}] = C{n}(result, field_path, pending, run)"]
    code.append("    return out")
    exec(compile("\n".join(code), f"<compiled selection of {fields[0].parent_name if fields else '?'}>", "exec"),
         namespace)
    return namespace["execute"]  # type: ignore[no-any-return]


def _resolver_call(field: _Field) -> Callable[[Any, Path, _Run], Any]:
    """The field's resolver as graphql-core calls it: with a resolve info for this path, and the coerced
    arguments when it takes any."""
    resolve, field_def, nodes, parent_type = field.resolve, field.field_def, field.nodes, field.parent_type
    assert resolve is not None
    if field.args is None:
        def call(source: Any, path: Path, run: _Run) -> Any:
            return resolve(source, run.executor.build_resolve_info(field_def, nodes, parent_type, path))
    else:
        def call(source: Any, path: Path, run: _Run) -> Any:
            info = run.executor.build_resolve_info(field_def, nodes, parent_type, path)
            return resolve(source, info, **run.arguments(field))
    return call


# -- completing values (graphql-core's complete_value, for the kinds the plan covers) ---------------
def _non_null(inner: Complete) -> Complete:
    def complete(value: Any, path: Path, pending: Pending, run: _Run) -> Any:
        completed = inner(value, path, pending, run)
        if completed is None:
            raise Fallback  # graphql-core's "Cannot return null for non-nullable field"
        return completed

    return complete


def _list(item: Complete, item_is_leaf: bool) -> Complete:
    def complete(value: Any, path: Path, pending: Pending, run: _Run) -> Any:
        if value is None or value is Undefined:
            return None
        if type(value) is not list and type(value) is not tuple:
            raise Fallback  # other iterables, async iterables, errors: graphql-core's way
        is_awaitable = run.is_awaitable
        out: list[Any] = []
        try:
            for index, element in enumerate(value):
                if is_awaitable(element):
                    out.append(None)
                    pending.append((element, out, index, item, Path(path, index, None)))
                elif item_is_leaf:
                    out.append(item(element, path, pending, run))
                else:
                    out.append(item(element, Path(path, index, None), pending, run))
        except BaseException:
            for element in value[len(out):]:  # the run is abandoned: what it will never await is closed
                if inspect.iscoroutine(element):
                    element.close()
            raise
        return out

    return complete


def _leaf(leaf: Any, non_null: bool) -> Complete:
    """Completes a scalar or enum as graphql-core's complete_leaf_value does (null where allowed), with a short
    way for the commonest values: text, a 32-bit int, a bool, an enum member already seen."""
    coerce = leaf.coerce_output_value
    missing = _missing_non_null if non_null else _missing
    if leaf is GraphQLString or leaf is GraphQLID:
        def complete_text(value: Any, path: Path, pending: Pending, run: _Run) -> Any:
            if type(value) is str:
                return value
            return missing() if value is None or value is Undefined else _coerced(coerce, value)

        return complete_text
    if leaf is GraphQLInt:
        def complete_int(value: Any, path: Path, pending: Pending, run: _Run) -> Any:
            if type(value) is int and _INT_MIN <= value <= _INT_MAX:
                return value
            return missing() if value is None or value is Undefined else _coerced(coerce, value)

        return complete_int
    if leaf is GraphQLBoolean:
        def complete_bool(value: Any, path: Path, pending: Pending, run: _Run) -> Any:
            if type(value) is bool:
                return value
            return missing() if value is None or value is Undefined else _coerced(coerce, value)

        return complete_bool
    if isinstance(leaf, GraphQLEnumType):
        names: dict[Any, Any] = {}  # an enum member's name, found once (strawberry's looks through every value)

        def complete_enum(value: Any, path: Path, pending: Pending, run: _Run) -> Any:
            if isinstance(value, Enum):
                name = names.get(value)
                if name is None:
                    name = names[value] = _coerced(coerce, value)
                return name
            return missing() if value is None or value is Undefined else _coerced(coerce, value)

        return complete_enum

    def complete(value: Any, path: Path, pending: Pending, run: _Run) -> Any:
        return missing() if value is None or value is Undefined else _coerced(coerce, value)

    return complete


def _missing() -> None:
    return None


def _missing_non_null() -> None:
    raise Fallback  # graphql-core's "Cannot return null for non-nullable field"


_NOT_AWAITABLE = frozenset({datetime, date, time, Decimal, float, int, str, bool})  # the scalars' usual values


def _coerced(coerce: Callable[[Any], Any], value: Any) -> Any:
    if type(value) not in _NOT_AWAITABLE and (isinstance(value, Exception) or inspect.isawaitable(value)):
        raise Fallback  # graphql-core raises the one and awaits the other
    try:
        coerced = coerce(value)
    except Exception as error:
        raise Fallback from error
    if coerced is None or coerced is Undefined:
        raise Fallback
    return coerced


def _object(fields: list[_Field]) -> Complete:
    execute = _compiled(fields)

    def complete(value: Any, path: Path, pending: Pending, run: _Run) -> Any:
        if value is None or value is Undefined:
            return None
        if isinstance(value, Exception):
            raise Fallback
        return execute(value, path, pending, run)

    return complete


# -- building plans ----------------------------------------------------------------------------
def plan_for(executor: Any) -> _Plan | None:
    """The cached plan of the executor's operation under its variables' @skip/@include values, or None when
    graphql-core must execute it."""
    operation: OperationDefinitionNode = executor.operation
    if (not ENABLED or operation.operation is not OperationType.QUERY or executor.abort_signal is not None
            or getattr(executor, "hooks", None) is not None
            or getattr(executor.middleware_manager, "middlewares", None)):
        return None
    directive_variables = _directive_variables(operation, executor.fragment_definitions)
    if directive_variables is None:
        return None
    coerced = executor.variable_values.coerced
    key = (id(executor.schema), id(operation), tuple(_hashable(coerced.get(name)) for name in directive_variables))
    entry = _PLANS.get(key)
    if entry is not None and entry[0] is executor.schema and entry[1] is operation:
        _PLANS.move_to_end(key)
        return entry[2]
    try:
        plan: _Plan | None = _build(executor)
    except (Unsupported, RecursionError):
        plan = None
    _PLANS[key] = (executor.schema, operation, plan)  # both kept alive: their ids stay unique
    while len(_PLANS) > MAX_PLANS:
        _PLANS.popitem(last=False)
    return plan


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _directive_variables(operation: OperationDefinitionNode,
                         fragments: dict[str, FragmentDefinitionNode]) -> tuple[str, ...] | None:
    """The variables @skip/@include read anywhere in the operation or the document's fragments (the plan differs
    with their values), or None when another directive is used (the plan would not know what it means). An
    operation belongs to one document, so the answer is kept by operation."""
    cached = _DIRECTIVE_VARIABLES.get(id(operation))
    if cached is not None and cached[0] is operation:
        return cached[1]
    names: set[str] = set()
    result: tuple[str, ...] | None
    try:
        stack: list[Any] = [operation, *fragments.values()]
        while stack:
            node = stack.pop()
            if isinstance(node, DirectiveNode):
                if node.name.value not in ("skip", "include"):
                    raise Unsupported
                names.update(argument.value.name.value for argument in node.arguments or ()
                             if isinstance(argument.value, VariableNode))
                continue
            for key in node.keys:
                child = getattr(node, key, None)
                if isinstance(child, Node):
                    stack.append(child)
                elif isinstance(child, tuple | list):
                    stack.extend(c for c in child if isinstance(c, Node))
        result = tuple(sorted(names))
    except Unsupported:
        result = None
    _DIRECTIVE_VARIABLES[id(operation)] = (operation, result)
    while len(_DIRECTIVE_VARIABLES) > MAX_PLANS:
        _DIRECTIVE_VARIABLES.popitem(last=False)
    return result


def _build(executor: Any) -> _Plan:
    schema = executor.schema
    if any(isinstance(d, FragmentDefinitionNode) and d.variable_definitions
           for d in executor.fragment_definitions.values()):
        raise Unsupported  # fragment variables (experimental)
    root_type = schema.get_root_type(OperationType.QUERY)
    if root_type is None:
        raise Unsupported
    grouped, defer_usages, _ = collect_fields(schema, executor.fragments, executor.variable_values, root_type,
                                              executor.operation, executor.hide_suggestions)
    if defer_usages:
        raise Unsupported
    return _Plan(root_type, _fields(executor, root_type, grouped))


def _fields(executor: Any, parent_type: GraphQLObjectType, grouped: dict[str, list[FieldDetails]]) -> list[_Field]:
    schema = executor.schema
    fields: list[_Field] = []
    for key, details in grouped.items():
        if any(d.defer_usage is not None or d.fragment_variable_values is not None for d in details):
            raise Unsupported
        name = details[0].node.name.value
        field = _Field(key, parent_type)
        if name == "__typename":
            field.typename = parent_type.name
            fields.append(field)
            continue
        if name.startswith("__"):
            raise Unsupported  # introspection: graphql-core's
        field_def = schema.get_field(parent_type, name)
        if field_def is None:
            continue  # graphql-core leaves an unknown field out of the answer (validation refuses it first)
        field.field_def = field_def
        field.nodes = [d.node for d in details]
        if field_def.args or details[0].node.arguments:
            field.args = details
        resolve = field_def.resolve
        definition = field_def.extensions.get("strawberry-definition")
        if resolve is None:
            raise Unsupported  # graphql-core's default resolver (not a strawberry field)
        if (definition is not None and field.args is None and getattr(resolve, "_is_default", False)
                and getattr(resolve, "__name__", "") == "_get_basic_result"
                and definition.default_resolver is getattr):
            field.attr = definition.python_name  # a plain attribute: no resolver, permission or extension
        else:
            field.resolve = resolve
            field.call = (_direct_call(schema, field, definition) if field.args is None else None) \
                or _resolver_call(field)
        field.complete = _completer(executor, field_def.type, details)
        if field.attr is not None and _is_leafy(field_def.type):
            field.leaf = field.complete
            named = field_def.type.of_type if isinstance(field_def.type, GraphQLNonNull) else field_def.type
            field.text = named is GraphQLString or named is GraphQLID
        fields.append(field)
    return fields


def _direct_call(schema: Any, field: _Field, definition: Any) -> Callable[[Any, Path, _Run], Any] | None:
    """The field's own function called as strawberry's resolve would call it, when there is nothing between them
    (no arguments, permission classes, extensions or exception handlers): strawberry's wrapper (resolve info to
    Info, argument conversion, the extension chain, get_result) cost more than most of the portal's resolvers.
    Its Info builds graphql-core's resolve info only if the function reads more than the context (`_LazyInfo`)."""
    resolve = field.resolve
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    converter = getattr(strawberry_schema, "schema_converter", None)
    resolver = getattr(definition, "base_resolver", None)
    if (converter is None or resolver is None or definition.extensions or definition.arguments
            or getattr(resolve, "__name__", "") not in ("_resolver", "_async_resolver")
            or not hasattr(converter, "_get_field_exception_handlers")
            or converter._get_field_exception_handlers(definition) or not callable(resolver.wrapped_func)):
        return None
    function = resolver.wrapped_func
    info_class = _lazy_info_class(strawberry_schema.config.info_class)  # type: ignore[union-attr]
    with_self = resolver.self_parameter is not None
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None
    source_names = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p is not None]
    parameters = list(inspect.signature(function).parameters.values())
    if (with_self and info_name is not None and not source_names and len(parameters) == 2
            and parameters[1].name == info_name
            and parameters[1].kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)):
        def method(source: Any, path: Path, run: _Run) -> Any:  # `def f(self, info)`, the commonest
            return function(source, info_class(run, field, definition, path))

        return method

    def call(source: Any, path: Path, run: _Run) -> Any:
        kwargs = {name: source for name in source_names}
        if info_name is not None:
            kwargs[info_name] = info_class(run, field, definition, path)
        return function(source, **kwargs) if with_self else function(**kwargs)

    return call


_LAZY_INFO: dict[type, type] = {}


def _lazy_info_class(info_class: type) -> Any:
    """The schema's Info class, building its resolve info (`_raw_info`, a 14-field tuple) only when it is read:
    the portal's resolvers read `info.context` alone, a few hundred times a page."""
    found = _LAZY_INFO.get(info_class)
    if found is not None:
        return found

    class _LazyInfo(info_class):  # type: ignore[valid-type,misc]
        def __init__(self, run: _Run, field: _Field, definition: Any, path: Path) -> None:  # noqa: D107
            self._run, self._plan_field, self._field, self._path, self._raw = run, field, definition, path, None

        @property
        def _raw_info(self) -> Any:
            raw = self._raw
            if raw is None:
                field = self._plan_field
                raw = self._raw = self._run.executor.build_resolve_info(field.field_def, field.nodes,
                                                                        field.parent_type, self._path)
            return raw

        @property
        def context(self) -> Any:
            return self._run.context

    _LazyInfo.__name__ = _LazyInfo.__qualname__ = f"Lazy{info_class.__name__}"
    _LAZY_INFO[info_class] = _LazyInfo
    return _LazyInfo


def _is_leafy(return_type: Any) -> bool:
    """A leaf or a list of leaves (however wrapped in non-null): its completion needs no response path."""
    while isinstance(return_type, GraphQLNonNull | GraphQLList):
        return_type = return_type.of_type
    return is_leaf_type(return_type)


def _completer(executor: Any, return_type: Any, details: list[FieldDetails]) -> Complete:
    if isinstance(return_type, GraphQLNonNull):
        if is_leaf_type(return_type.of_type):
            return _leaf(return_type.of_type, non_null=True)
        return _non_null(_completer(executor, return_type.of_type, details))
    if isinstance(return_type, GraphQLList):
        item_type = return_type.of_type
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        return _list(_completer(executor, item_type, details), is_leaf_type(inner))
    if is_leaf_type(return_type):
        return _leaf(return_type, non_null=False)
    if is_object_type(return_type):
        if return_type.is_type_of is not None:
            raise Unsupported
        grouped, defer_usages, _ = collect_subfields(executor.schema, executor.fragments, executor.variable_values,
                                                     executor.operation, return_type, details,
                                                     executor.hide_suggestions)
        if defer_usages:
            raise Unsupported
        return _object(_fields(executor, return_type, grouped))
    raise Unsupported  # interfaces and unions: graphql-core resolves their runtime type
