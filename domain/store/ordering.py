"""Text keys ordered as Python orders them (by code point), on both dialects: the one way the store sorts or
compares text.

SQLite compares text by its bytes (BINARY, code point order for UTF-8). PostgreSQL compares by the database's
collation, and a server set up with a language's locale (en_US.UTF-8, ICU "en") ignores punctuation and case at
first: "A-2" sorts after "A1" and "b" before "C". Then a queue's tie between equal order times broke differently
from the domain's `sorted`, pages of SKUs came in another order than on SQLite, and locks were not taken in the
order the code promised. COLLATE "C" is that byte order on PostgreSQL, whatever the database's collation.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import RawSQL


def by_code_point(column: str, dialect: str) -> str:
    """`column` (quoted SQL) as an ORDER BY term or comparison operand in code point order."""
    return f'{column} COLLATE "C"' if dialect == "postgres" else column


def text_key(query: Any, field: str) -> tuple[Any, str]:
    """`query` with `field` (a text column of its model) annotated in code point order, and the annotation's name
    to order and compare by (`order_by(name)`, `filter(**{name + "__gt": after})`)."""
    dialect = query.model._meta.db.capabilities.dialect
    name = f"{field}_in_code_point_order"
    return query.annotate(**{name: RawSQL(by_code_point(f'"{field}"', dialect))}), name

