"""The domain names the value at fault by its own key (`backorder_id`, `lines.quantity`), never by a GraphQL input
name (`backorderId`, or an `id` that means a backorder in one mutation and a purchase order in another): the API
maps keys to its input paths (api.schema.common.user_errors). This scans every place in domain/ that gives an
error a field: a `field=` / `field_name=` argument, the field argument of the check_* helpers, and their
defaults."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


def is_domain_key(key: str) -> bool:
    """snake_case, dotted into nested values; and never a bare `id`, which says nothing about what it is."""
    return bool(KEY.fullmatch(key)) and "id" not in key.split(".")
# helpers whose second positional argument is the field's key
CHECKERS = {"check_quantity", "check_sku", "check_email", "check_text", "check_code", "check_location", "check_id_key",
            "check_units", "check_amount", "check_timezone", "check_phone"}
FIELD_PARAMS = {"field", "field_name"}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _literals(node: ast.expr) -> list[str]:
    """The literal text of a str constant, or of each literal part of an f-string (`f"{name}.currency"`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [part.value.strip(".") for part in node.values
                if isinstance(part, ast.Constant) and isinstance(part.value, str) and part.value.strip(".")]
    return []


def field_keys(source: str) -> list[tuple[int, str]]:
    """(line, key) for every field key written in this module's source."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in FIELD_PARAMS:
                    found += [(node.lineno, key) for key in _literals(keyword.value)]
            if _name(node.func) in CHECKERS and len(node.args) >= 2:
                found += [(node.lineno, key) for key in _literals(node.args[1])]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            defaults = list(zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=True))
            defaults += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
            found += [(node.lineno, key) for arg, default in defaults if arg.arg in FIELD_PARAMS
                      for key in _literals(default)]
    return found


def _modules() -> list[Path]:
    return sorted(p for p in DOMAIN.rglob("*.py") if "migrations" not in p.parts)


def test_every_field_key_the_domain_gives_an_error_is_snake_case():
    # given every module of the domain, the store included
    keys = [(path.relative_to(DOMAIN.parent), line, key) for path in _modules()
            for line, key in field_keys(path.read_text())]
    # then the scan sees the keys (a scan that finds nothing proves nothing) and each one is a domain key
    assert len(keys) > 80, keys
    assert [(str(path), line, key) for path, line, key in keys if not is_domain_key(key)] == []


@pytest.mark.parametrize("source, key", [
    ('raise InvalidInput("x", field="backorderId")', "backorderId"),
    ('check_quantity(q, "safetyStock", allow_zero=True)', "safetyStock"),
    ('def f(value, field_name: str = "leadTimeDays"): ...', "leadTimeDays"),
    ('raise InvalidInput("x", field=f"{name}.unitPrice")', "unitPrice"),
    ('raise not_found("supplier", key, field="supplierId")', "supplierId"),
    ('raise InvalidState("x", field="id")', "id"),
])
def test_the_scan_finds_a_camel_case_key_wherever_it_is_written(source, key):
    assert [k for _, k in field_keys(source)] == [key]
    assert not is_domain_key(key)
