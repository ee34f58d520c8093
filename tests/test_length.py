"""length_filter: characters, words (spaCy-English or jieba), lines, CJK share, symbol share."""

from __future__ import annotations

import polars as pl
import pytest
from pydantic import ValidationError

from corpuskit.schema import REASON_COLUMN
from corpuskit.steps.length_filter import LengthConfig, LengthFilter


def run(texts: list[str], lang: list[str] | None = None, **config) -> pl.DataFrame:
    step = LengthFilter(LengthConfig(**config), name="length_filter")
    step.ensure_ready()
    data = {"id": [str(i) for i in range(len(texts))], "text": texts}
    if lang is not None:
        data["lang"] = lang
    return step.process(pl.DataFrame(data)).batch


CASES = [
    # (id, text, lang, config, expected reason)
    ("chars_ok", "twelve chars", None, {"min_chars": 12, "max_chars": 12}, None),
    ("too_short", "short", None, {"min_chars": 6}, "too_short"),
    ("too_long", "a bit too long", None, {"max_chars": 5}, "too_long"),
    ("words_ok", "One, two; three four.", None, {"min_words": 4, "max_words": 4}, None),
    ("too_few_words", "One, two; three four.", None, {"min_words": 5}, "too_few_words"),
    ("too_many_words", "One, two; three four.", None, {"max_words": 3}, "too_many_words"),
    ("zh_words", "我们今天去北京。", "zh", {"min_words": 4, "max_words": 4}, None),
    ("zh_too_few_words", "我们今天去北京。", "zh", {"min_words": 5}, "too_few_words"),
    ("too_few_lines", "one\n\n   \ntwo\n", None, {"min_lines": 3}, "too_few_lines"),
    ("too_many_lines", "one\n\n   \ntwo\n", None, {"max_lines": 1}, "too_many_lines"),
    ("lines_ok", "one\n\n   \ntwo\n", None, {"min_lines": 2, "max_lines": 2}, None),
    ("low_cjk_ratio", "中文 abc", None, {"min_cjk_ratio": 0.5}, "low_cjk_ratio"),
    ("high_cjk_ratio", "中文 abc", None, {"max_cjk_ratio": 0.3}, "high_cjk_ratio"),
    ("too_many_symbols", "a!! b## c", None, {"max_symbol_ratio": 0.5}, "too_many_symbols"),
    ("symbols_ok", "a!! b## c", None, {"max_symbol_ratio": 0.6}, None),
    ("first_rule_wins", "x", None, {"min_chars": 5, "min_words": 3}, "too_short"),
]


@pytest.mark.parametrize(
    ("text", "lang", "config", "expected"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_length_rules(text, lang, config, expected):
    out = run([text], [lang] if lang else None, **config)
    assert out[REASON_COLUMN][0] == (f"length_filter:{expected}" if expected else None)


def test_signal_values():
    out = run(
        ["One, two; three four.\n\nfive!", "中文 abc", ""],
        min_words=0,
        min_lines=0,
        min_cjk_ratio=0,
        max_symbol_ratio=1,
    )
    assert out["length_chars"].to_list() == [28, 6, 0]
    # spaCy tokens without punctuation; "中文 abc" is 40% CJK, so jieba words: 中文, abc
    assert out["length_words"].to_list() == [5, 2, 0]
    assert out["length_lines"].to_list() == [2, 1, 0]
    assert out["cjk_ratio"].to_list() == pytest.approx([0.0, 0.4, 0.0])
    assert out["symbol_ratio"].to_list() == pytest.approx([4 / 23, 0.0, 0.0])


def test_unset_bounds_compute_nothing():
    out = run(["some text"], min_chars=1)
    assert out["length_chars"][0] == 9
    for col in ("length_words", "length_lines", "cjk_ratio", "symbol_ratio"):
        assert out[col][0] is None
    assert set(LengthFilter.columns) <= set(out.columns)


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        ("min_chars", "max_chars"),
        ("min_words", "max_words"),
        ("min_lines", "max_lines"),
        ("min_cjk_ratio", "max_cjk_ratio"),
    ],
)
def test_bounds_must_be_ordered(lo, hi):
    small = 0.2 if "ratio" in lo else 2
    with pytest.raises(ValidationError, match=hi):
        LengthConfig(**{lo: small * 2, hi: small})


def test_ratios_are_bounded():
    with pytest.raises(ValidationError):
        LengthConfig(max_symbol_ratio=1.5)
