"""Depth and alias limits on a GraphQL document, in time linear in its size.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter walk every fragment spread anew, so a document whose
fragments each spread the next one twice costs 2^n steps: 814 anonymous bytes at 22 levels froze the server
for 10 s, at 40 levels for more than 300 s, before authentication. Here each fragment is measured once
(memoised), so the same document is refused in microseconds. The limits and the messages are the same.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
)
from strawberry.extensions import ValidationCache

Size = tuple[int, int, int]  # height, aliases, fields


class _Measure:
    """Height (fields nested, leaves included), aliases and fields of selection sets as if every fragment
    spread were written out (aliases counted as strawberry counts them), each fragment measured once."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], cap: int) -> None:
        self.fragments = fragments
        self.cap = cap  # counts stop growing past the cap: a bomb's 2^40 need not be computed
        self.memo: dict[str, Size] = {}
        self.in_progress: set[str] = set()

    def selection_set(self, node: SelectionSetNode | None) -> Size:
        if node is None:
            return 0, 0, 0
        height = aliases = fields = 0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    below: Size = (0, 0, 0)  # introspection is not counted (as strawberry's limiter does not)
                else:
                    below = self.selection_set(selection.selection_set)
                h, a, f = 1 + below[0], below[1] + (1 if selection.alias else 0), below[2] + 1
            elif isinstance(selection, InlineFragmentNode):
                h, a, f = self.selection_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                h, a, f = self.fragment(selection.name.value)
            else:  # pragma: no cover - graphql has no other kind of selection
                continue
            height = max(height, h)
            aliases = min(aliases + a, self.cap)
            fields = min(fields + f, self.cap)
        return height, aliases, fields

    def fragment(self, name: str) -> Size:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.in_progress:
            return 0, 0, 0  # unknown fragments and cycles are other rules' errors
        self.in_progress.add(name)
        self.memo[name] = self.selection_set(definition.selection_set)
        self.in_progress.discard(name)
        return self.memo[name]


def limit_errors(document: DocumentNode, max_depth: int, max_aliases: int,
                 max_fields: int = 5000) -> list[GraphQLError]:
    """What is wrong with `document` against the limits: operations nested deeper than `max_depth` fields
    below their root fields, more than `max_aliases` aliases, more than `max_fields` fields once fragments
    are written out (fragments spreading fragments: graphql-core runs them a fragment once per selection,
    but no client needs them, and they are how a bomb is built)."""
    errors = []
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    measure = _Measure(fragments, cap=max(max_aliases, max_fields) * 1_000)
    total_aliases = total_fields = 0
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        height, aliases, fields = measure.selection_set(definition.selection_set)
        total_aliases += aliases
        total_fields += fields
        if height - 1 > max_depth:
            name = definition.name.value if definition.name else "anonymous"
            errors.append(GraphQLError(f"'{name}' exceeds maximum operation depth of {max_depth}", definition))
    if total_aliases > max_aliases:
        errors.append(GraphQLError(f"{total_aliases} aliases found. Allowed: {max_aliases}"))
    if total_fields > max_fields:
        errors.append(GraphQLError(f"the document has more than {max_fields} fields once its fragments are "
                                   "written out"))
    return errors


def uses_introspection(document: DocumentNode) -> bool:
    """Whether the document asks for the schema (`__schema` or `__type`; `__typename` is not introspection)."""
    return any(isinstance(node, FieldNode) and node.name.value in ("__schema", "__type")
               for node in _walk(document))


def _walk(document: DocumentNode) -> Iterator[Node]:
    stack: list[Node] = list(document.definitions)
    while stack:
        node = stack.pop()
        yield node
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)


class LimitedValidation(ValidationCache):
    """Validation with the limits checked first, in linear time: a document past them is refused without
    running graphql-core's rules at all (their cost grows with the document as written out); the rest is
    validated once per document and cached. Introspection is refused to anyone but staff unless allowed."""

    def __init__(self, *, max_depth: int, max_aliases: int, max_fields: int = 5000,
                 introspection_for: str = "staff", maxsize: int = 256) -> None:
        super().__init__(maxsize=maxsize)
        self.max_depth, self.max_aliases, self.max_fields = max_depth, max_aliases, max_fields
        self.introspection_for = introspection_for

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        facts = self._facts(context.graphql_document)
        errors = list(facts.limit_errors)
        if not errors and self.introspection_for != "everyone" and facts.introspection:
            principal = getattr(context.context, "principal", None)
            if self.introspection_for == "nobody" or not getattr(principal, "is_staff", False):
                errors = [GraphQLError("introspection is for staff only: sign in with an API token",
                                       extensions={"code": "PERMISSION_DENIED"})]
        if not errors and _subscription_over_http(context):
            errors = [GraphQLError("a subscription runs over the websocket at /graphql (graphql-transport-ws), "
                                   "not an HTTP request", extensions={"code": "INVALID_INPUT"})]
        if not errors and _reads(context):
            errors = _unstorable_text(facts.strings, context.variables)
        if errors:
            context.pre_execution_errors = errors
            yield
            return
        yield from super().on_validate()


    def _facts(self, document: DocumentNode) -> _DocumentFacts:
        """What the checks learn from the document alone, once per parsed document (the parser's cache hands the
        same document object to every request sending the same text): walking a page's document three times on
        every request was a tenth of the portal query's CPU outside execution (bench/portal_query.py)."""
        key = (id(document), self.max_depth, self.max_aliases, self.max_fields)
        found = _FACTS.get(key)
        if found is not None and found.document is document:
            _FACTS.move_to_end(key)
            return found
        errors = limit_errors(document, self.max_depth, self.max_aliases, self.max_fields)
        facts = _DocumentFacts(document, tuple(errors), uses_introspection(document),
                               tuple(node.value for node in _walk_values(document)))
        if not errors:  # a refused document is not worth keeping (nor are its errors to be shared)
            _FACTS[key] = facts  # the entry keeps the document alive, so its id stays unique
            while len(_FACTS) > _FACTS_SIZE:
                _FACTS.popitem(last=False)
        return facts


@dataclass(frozen=True)
class _DocumentFacts:
    document: DocumentNode
    limit_errors: tuple[GraphQLError, ...]
    introspection: bool
    strings: tuple[str, ...]  # every string literal in it (arguments, defaults)


_FACTS: OrderedDict[tuple[int, int, int, int], _DocumentFacts] = OrderedDict()
_FACTS_SIZE = 256


def _subscription_over_http(context: Any) -> bool:
    """A subscription sent as an HTTP request (GraphiQL falls back to POST while an edit is unregistered)
    would run as a query and fail inside with a masked "Unexpected error."; it gets a plain answer."""
    if str(getattr(context.operation_type, "value", "")) != "subscription":
        return False
    request = getattr(context.context, "request", None)
    return getattr(request, "scope", {}).get("type") == "http"


def _reads(context: Any) -> bool:
    """A query or subscription (a mutation's input is checked by the domain, field by field, as userErrors)."""
    try:
        return str(getattr(context.operation_type, "value", "")) != "mutation"  # strawberry's own enum
    except Exception:  # noqa: BLE001 - no such operation: graphql-core's own validation says so
        return False


def _unstorable_text(literals: tuple[str, ...], variables: dict[str, Any] | None) -> list[GraphQLError]:
    """A string argument no database can compare (NUL: PostgreSQL refuses it; a lone surrogate is not UTF-8)
    is refused before anything runs: the queries' filters hand their strings to SQL."""
    strings: list[Any] = list(literals)
    stack: list[Any] = list((variables or {}).values())
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    if any(not_text(value) for value in strings):
        return [GraphQLError("an argument contains a character that is not valid text (NUL or a lone surrogate)",
                             extensions={"code": "INVALID_INPUT"})]
    return []


def not_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _walk_values(document: DocumentNode) -> Iterator[StringValueNode]:
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, StringValueNode):
            yield node
        elif isinstance(node, Node):
            for key in node.keys:
                child = getattr(node, key, None)
                if isinstance(child, Node):
                    stack.append(child)
                elif isinstance(child, tuple | list):
                    stack.extend(c for c in child if isinstance(c, Node))


__all__ = ["LimitedValidation", "limit_errors", "uses_introspection"]
