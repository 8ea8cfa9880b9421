"""The portal's catalogues (frontend/i18n/<language>.json) against the page and against each other: every
word the page asks for exists in English, every language has every entry with the same placeholders, and
no text in index.html goes untranslated. Plain files, no browser: these fail before a German customer
sees an English sentence or a raw key."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from domain.model import BackorderStatus

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
LANGUAGES = ("en", "de", "fr", "es")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def portal_script() -> str:
    """The portal's code: portal.js and its modules in portal/."""
    files = [FRONTEND / "portal.js", *sorted((FRONTEND / "portal").glob("*.js"))]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def catalogue(code: str) -> dict[str, str | dict[str, str]]:
    return json.loads((FRONTEND / "i18n" / f"{code}.json").read_text(encoding="utf-8"))


def forms(entry: str | dict[str, str]) -> list[str]:
    return list(entry.values()) if isinstance(entry, dict) else [entry]


def test_the_page_lists_the_languages_it_has_catalogues_for():
    script = portal_script()
    listed = re.search(r"const PAGE_LANGUAGES = \[([^\]]*)\]", script)
    assert listed is not None
    assert tuple(re.findall(r'"(\w+)"', listed.group(1))) == LANGUAGES
    assert sorted(p.stem for p in (FRONTEND / "i18n").glob("*.json")) == sorted(LANGUAGES)


@pytest.mark.parametrize("code", LANGUAGES[1:])
def test_every_language_has_every_entry_with_the_same_placeholders(code):
    english, other = catalogue("en"), catalogue(code)
    assert sorted(other) == sorted(english)
    for key, entry in english.items():
        wanted = {name for form in forms(entry) for name in PLACEHOLDER.findall(form)}
        for form in forms(other[key]):
            # each form says everything the English says (a plural form may leave out {count}), nothing more
            assert wanted - {"count"} <= set(PLACEHOLDER.findall(form)) <= wanted, (code, key, form)
        if isinstance(entry, dict) or isinstance(other[key], dict):
            assert isinstance(other[key], dict) and {"one", "other"} <= set(other[key]), (code, key)


def test_every_key_the_page_asks_for_exists():
    english = catalogue("en")
    script = portal_script()
    page = (FRONTEND / "index.html").read_text(encoding="utf-8")
    asked = set(re.findall(r'\bt\(\s*"([\w.]+)"', script))
    asked |= set(re.findall(r'data-i18n(?:-aria-label)?="([\w.]+)"', page))
    # keys the script builds: a status per backorder status, and IN_STOCK for a line without a backorder
    asked |= {f"status.{s.value}" for s in BackorderStatus} | {"status.IN_STOCK"}
    asked |= set(re.findall(r'"((?:order|signIn|prefs)\.[\w.]+)"', script))  # picked by a condition
    assert len(asked) > 60
    assert sorted(asked - set(english)) == []


class _Untranslated(HTMLParser):
    """Text in index.html whose element carries no data-i18n (the script and title aside)."""

    SKIP = {"script", "style", "title"}
    VOID = {"meta", "link", "input", "br", "img", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append((tag, any(name == "data-i18n" for name, _ in attrs)))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if data.strip() and self.stack and self.stack[-1][0] not in self.SKIP and not self.stack[-1][1]:
            self.found.append(data.strip())


def test_no_text_in_the_page_goes_untranslated():
    parser = _Untranslated()
    parser.feed((FRONTEND / "index.html").read_text(encoding="utf-8"))
    assert parser.found == []
