"""The domain's words are the business's: no text of domain/ (an error message, a cause) names a GraphQL
operation, since the domain does not know there is an API (`set it up first with upsertLocation` reached the
command-line import too, where there is no such thing). The API adds its own hints (api/types/common.py)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = re.compile(r"^type (Query|Mutation|Subscription) \{\n(.*?)^\}", re.M | re.S)
FIELD = re.compile(r"^  ([a-z][A-Za-z0-9]*)\b", re.M)


def _operations() -> set[str]:
    schema = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    names = {name for _, body in OPERATIONS.findall(schema) for name in FIELD.findall(body)}
    # only names that are plainly the API's (camelCase); a one-word field such as `kpis` is also a plain word
    return {name for name in names if re.search(r"[a-z][A-Z]", name)}


def _texts(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_text_of_the_domain_names_an_api_operation():
    operations = _operations()
    assert {"upsertLocation", "acceptSubstitute", "placeOrder"} <= operations  # the parse found them
    found = [f"{path.relative_to(ROOT)}:{line}: {name}"
             for path in sorted((ROOT / "domain").rglob("*.py")) if "migrations" not in path.parts
             for line, text in _texts(path) for name in operations if re.search(rf"\b{name}\b", text)]
    assert found == []
