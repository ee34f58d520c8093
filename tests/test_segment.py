"""The English chunk fast path (letters, maybe one trailing , ; : ! ?) equals the full rules."""

from __future__ import annotations

import polars as pl

from corpuskit import segment
from tests.conftest import needs_shared

TRICKY = ["cannot", "Cannot", "gonna", "Mr", "e", "a", "I", "Im", "dont", "ca", "U", "lol", "The"]


def fast_path(c: str, specials: dict) -> list[str] | None:
    word = c[:-1] if c[-1:] in segment._SIMPLE_SUFFIXES else c
    if not (word.isascii() and word.isalpha()) or c in specials:
        return None
    return [c] if word is c else [*specials.get(word, (word,)), c[-1]]


def check(chunks: set[str]) -> int:
    rules = segment.segmenter().rules
    checked = 0
    for c in sorted(chunks):
        fast = fast_path(c, rules.specials)
        if fast is not None:
            checked += 1
            assert fast == list(rules.tokenize(c)), c
    return checked


def test_fast_path_on_special_cases():
    assert check({w + p for w in TRICKY for p in ["", ",", ";", ":", "!", "?"]}) > 50


def test_fast_path_on_real_chunks():
    ag = needs_shared("ag_news/test.csv")
    rows = pl.read_csv(ag, has_header=False, new_columns=["label", "title", "description"])
    chunks = {c for t in rows["title"].to_list() + rows["description"].to_list() for c in t.split()}
    assert check(chunks) > 10_000


def test_tokens_through_the_segmenter_match_spacy():
    spacy = __import__("pytest").importorskip("spacy")
    text = "We cannot stop, he said; gonna win! Mr. Smith's U.S. visit: e-mail me?"
    want = [t.text for t in spacy.blank("en")(text)]
    seg = segment.segmenter()
    seg._chunks.clear()
    toks = seg.tokens(pl.Series([text]), pl.Series([False]))
    lengths = [len(w) for w in want]
    assert toks["len"].to_list() == lengths
