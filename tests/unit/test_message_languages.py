"""Which language a message is worded in, when nobody chose one in the portal: the page's (Accept-Language, as the
portal negotiates it) and the shop's goodwill words, one per language, read from the environment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.languages import negotiated_language
from domain.customers import SUPPORTED_LANGUAGES
from notifications.render import goodwill_offer
from notifications.settings import goodwill_texts_from_env

TAGS = st.sampled_from(["en", "en-GB", "de", "de-CH", "DE-at", "fr", "fr-CA", "es", "es-419", "pt-BR", "it", "*",
                        "zh-Hant-TW", "", "x"])
QUALITIES = st.sampled_from([None, "1", "0.9", "0.5", "0.1", "0", "0.000", "junk"])


def _header(entries: list[tuple[str, str | None]]) -> str:
    return ", ".join(tag if q is None else f"{tag};q={q}" for tag, q in entries)


def _expected(entries: list[tuple[str, str | None]]) -> str:
    """The portal's choice, spelled out: the first spoken base language among the highest-ranked."""
    best: tuple[float, int] | None = None
    chosen = "en"
    for order, (tag, q) in enumerate(entries):
        try:
            quality = 1.0 if q is None else float(q)
        except ValueError:
            quality = 0.0
        base = tag.split("-")[0].lower()
        if quality > 0 and base in SUPPORTED_LANGUAGES and (best is None or (-quality, order) < best):
            best, chosen = (-quality, order), base
    return chosen


@given(st.lists(st.tuples(TAGS, QUALITIES), max_size=6))
def test_the_page_language_is_the_best_ranked_one_the_shop_speaks(entries):
    language = negotiated_language(_header(entries))
    assert language in SUPPORTED_LANGUAGES
    assert language == _expected(entries)


@pytest.mark.parametrize(("header", "language"), [
    ("de-CH, de;q=0.9, en;q=0.5", "de"), ("pt-BR, es;q=0.7, en;q=0.3", "es"), ("en;q=0.2, fr;q=0.8", "fr"),
    ("fr;q=0", "en"), (None, "en"), ("", "en"), ("*", "en")])
def test_browsers_headers(header, language):
    assert negotiated_language(header) == language


@given(st.dictionaries(st.sampled_from(SUPPORTED_LANGUAGES), st.text(min_size=1).filter(str.strip), max_size=4),
       st.one_of(st.none(), st.just("SORRY10")), st.sampled_from(SUPPORTED_LANGUAGES))
def test_goodwill_is_never_told_in_another_languages_words(texts, code, language):
    offer = goodwill_offer(texts, code, language)
    if language in texts:
        assert offer == texts[language]
    elif not texts and not code:
        assert offer is None  # the shop offers none
    else:  # a translated default, never another language's words
        assert offer is not None and offer not in texts.values()


def test_goodwill_words_per_language_from_the_environment():
    env = {"BACKORDER_GOODWILL_TEXT": "10% off", "BACKORDER_GOODWILL_TEXT_DE": "10 % Rabatt",
           "BACKORDER_GOODWILL_TEXT_fr": " 10 % de remise ", "BACKORDER_GOODWILL_TEXT_ES": " "}
    assert goodwill_texts_from_env(env) == {"en": "10% off", "de": "10 % Rabatt", "fr": "10 % de remise"}
    assert goodwill_texts_from_env({"BACKORDER_GOODWILL_TEXT_EN": "10% off"}) == {"en": "10% off"}
    with pytest.raises(SystemExit, match="BACKORDER_GOODWILL_TEXT_IT"):
        goodwill_texts_from_env({"BACKORDER_GOODWILL_TEXT_IT": "10% di sconto"})
    with pytest.raises(SystemExit, match="differ"):
        goodwill_texts_from_env({"BACKORDER_GOODWILL_TEXT": "10% off", "BACKORDER_GOODWILL_TEXT_EN": "5% off"})
