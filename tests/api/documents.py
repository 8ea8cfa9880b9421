"""Hypothesis-built GraphQL query documents for any schema: random selections of its fields to a given depth, with
arguments drawn from a pool of values, aliases, inline and named fragments, `__typename`, and @include/@skip
under literals and variables. Many are valid; some are not (a conflicting alias, a bad argument), and those are
kept too: the executors must agree on them as well (tests/api/test_compiled_execution.py)."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
)
from hypothesis import strategies as st

DIRECTIVES = ["", "", "", " @include(if: $yes)", " @skip(if: $yes)", " @include(if: $no)", " @skip(if: false)",
              " @include(if: false)"]


def named(kind: Any) -> Any:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def _literal(kind: Any, pool: dict[str, list[Any]]) -> st.SearchStrategy[str] | None:
    """A literal of an argument's type from the pool, or None when none can be made (an input object)."""
    inner = named(kind)
    listed = isinstance(kind.of_type if isinstance(kind, GraphQLNonNull) else kind, GraphQLList)
    if isinstance(inner, GraphQLEnumType):
        one: st.SearchStrategy[str] = st.sampled_from(sorted(inner.values))
    elif isinstance(inner, GraphQLScalarType):
        one = st.sampled_from(pool.get(inner.name) or pool.get("String") or ["x"]).map(_quoted)
    elif isinstance(inner, GraphQLInputObjectType):
        return None
    else:  # pragma: no cover - arguments are inputs
        return None
    return one.map(lambda v: f"[{v}]") if listed else one


def _quoted(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def _arguments(draw: Any, field: Any, pool: dict[str, list[Any]]) -> str | None:
    given: list[str] = []
    for name, arg in sorted(field.args.items()):
        required = isinstance(arg.type, GraphQLNonNull) and arg.default_value is None
        literal = _literal(arg.type, pool)
        if literal is None:
            if required:
                return None  # an input object we do not build: the field is left out
            continue
        if required or draw(st.booleans()):
            given.append(f"{name}: {draw(literal)}")
    return f"({', '.join(given)})" if given else ""


@st.composite
def selection_set(draw: Any, kind: GraphQLObjectType, depth: int, pool: dict[str, list[Any]]) -> str:
    names = sorted(name for name in kind.fields if not name.startswith("__"))
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=5, unique=True))
    parts: list[str] = []
    for name in chosen:
        field = kind.fields[name]
        arguments = draw(_arguments(field, pool))
        if arguments is None:
            continue
        inner = named(field.type)
        below = ""
        if isinstance(inner, GraphQLObjectType):
            if depth == 0:
                continue
            below = " " + draw(selection_set(inner, depth - 1, pool))
        elif not isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            continue  # interfaces and unions: none in these schemas
        alias = draw(st.sampled_from(["", "", f"{name}Again: "]))
        part = f"{alias}{name}{arguments}{draw(st.sampled_from(DIRECTIVES))}{below}"
        if draw(st.integers(0, 5)) == 0:
            part = f"... on {kind.name}{draw(st.sampled_from(DIRECTIVES))} {{ {part} }}"
        elif draw(st.integers(0, 5)) == 0:
            part = f"... {{ {part} }}"
        parts.append(part)
    parts.append(draw(st.sampled_from(["", "", "__typename", "kind: __typename"])))
    if not any(parts):
        parts.append("__typename")
    return "{ " + " ".join(p for p in parts if p) + " }"


@st.composite
def query_document(draw: Any, schema: GraphQLSchema, pool: dict[str, list[Any]], depth: int = 3) -> str:
    """A query on `schema`'s Query type, perhaps through a named fragment, declaring the variables it uses."""
    query_type = schema.query_type
    assert query_type is not None
    body = draw(selection_set(query_type, depth, pool))
    fragment = ""
    if draw(st.booleans()):
        fragment = f"\nfragment Part on {query_type.name} {body}"
        body = "{ ...Part" + draw(st.sampled_from(["", " @include(if: $yes)"])) + " }"
    used = [name for name in ("yes", "no") if f"${name}" in body + fragment]
    declared = f"({', '.join(f'${name}: Boolean!' for name in used)})" if used else ""
    return f"query Drawn{declared} {body}{fragment}"


VARIABLES = {"yes": True, "no": False}
