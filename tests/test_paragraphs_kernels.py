"""The numba twin of corpuskit.text.paragraphs gives the Polars reference's results exactly:
on every gold document (English and Chinese news, forum posts, books, mail, web pages) and on
generated text made of the pieces each rule looks at."""

from __future__ import annotations

import textwrap

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpuskit.text.chars import cjk_ratio
from corpuskit.text.paragraphs import Paragraphs, Wrapping, paragraph_kernels, paragraphs
from tests.test_paragraphs import BRIEF, POST, WRAPPED, ZH_WRAPPED, gold_texts

pytest.importorskip("numba")

WRAPPINGS = [
    Wrapping(),
    Wrapping(keep_headlines=False),
    Wrapping(min_width=10, max_width=30, fill=0.3, slack=0.5, slack_unspaced=1),
]


def assert_same(text: pl.Series, uns: pl.Series, wrapping: Wrapping, join: bool) -> Paragraphs:
    want = paragraphs(text, uns, wrapping, join, kernels=False)
    got = paragraphs(text, uns, wrapping, join)
    assert got.headline.dtype == want.headline.dtype == pl.UInt32
    assert got.text.name == want.text.name
    diff = ~pl.Series(
        [a == b for a, b in zip(got.text.to_list(), want.text.to_list(), strict=True)]
    ) | ~(got.headline.eq_missing(want.headline))
    if diff.any():
        i = diff.arg_true()[0]
        raise AssertionError(
            f"document {i}: {text[i]!r}\nreference: {want.headline[i]} {want.text[i]!r}\n"
            f"kernel:    {got.headline[i]} {got.text[i]!r}"
        )
    return want


def test_kernels_load():
    assert paragraph_kernels() is not None


@pytest.mark.parametrize("wrapping", WRAPPINGS)
def test_kernel_equals_reference_on_inline_texts(wrapping):
    docs = [WRAPPED, POST, BRIEF, ZH_WRAPPED, "", "one line", "a\r\nb\x85c\u2028d\n\n", None]
    docs += ["Two Words\n" + WRAPPED, "１２３４．" + ZH_WRAPPED.replace("\n", "\n１２３４．")]
    text = pl.Series("text", docs)
    for uns in (False, True):
        assert_same(text, pl.Series([uns] * len(docs)), wrapping, True)


def test_kernel_equals_reference_on_gold_documents():
    docs, _ = gold_texts_all()
    text = pl.Series("text", docs)
    uns = text.to_frame().select(cjk_ratio(pl.col("text")) > 0.3).to_series()
    want = assert_same(text, uns, Wrapping(), True)
    assert want.headline.is_not_null().sum() > 100  # the gold sets exercise both outputs
    assert (want.text != text).sum() > 100
    assert_same(text, uns, Wrapping(keep_headlines=False), True)
    assert_same(text, uns, Wrapping(), False)
    assert_same(text, ~uns, Wrapping(), True)


def gold_texts_all() -> tuple[list[str], list[str]]:
    import sys

    from tests.conftest import ROOT, SHARED

    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (../shared/corpora ships beside the repo in CI only)")
    sys.path.insert(0, str(ROOT / "bench"))
    from quality import gold

    ids = [d["id"] for d in gold.load_docs()]
    return gold_texts(ids)


# Pieces each rule looks at: words (title case, small words, capitals), sentence ends and
# closers, CJK text and punctuation, list markers, quotes, dates and times, hyphens,
# whitespace of every kind and every line break.
PIECES = [
    "The", "Of", "the", "of", "a", "an", "and", "from", "Word", "word", "U.S.", "Dec.",
    "eBay", "it's", "don’t", "well-", "known", "x", "ÉCOLE", "ǅ", "ﬁ", "Ⅷ", "٣", "１２",
    "中文", "分享到", "我们", "ｶﾀ", "カタ", "한국", "，", "。", "！", "？", "、", "；", "：",
    ".", "!", "?", "...", "…", ",", ";", ":", "-", '"', "'", ")", "(", "]", "[", "»", "”",
    "」", "）", "（", "1.", "2)", "(3)", "１．", "一、", "a)", "b.", "•", "-", "*", "※",
    "2015/07/03", "2015-7-3 12:30", "1999.12.31 1:02:03", "评论12条", "20150", ">", "|>",
    "JD>", "}", "：", "> ", ": ", "http://a.b/c", "😀", "\u0301", "\ufe0f", "\U000e0100",
    " ", "  ", "\t", "\u3000", "\xa0", "\u2003", "\x1f", "\n", "\n", "\n\n", "\r\n", "\r",
    "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029",
]  # fmt: skip


TOKENS = [p for p in PIECES if p.strip() and "\n" not in p and "\r" not in p]
TOKENS += ["Reuters", "said", "market", "Monday", "shares", "Fortune", "我亲自找那个同事问了，"]
SPACES = [p for p in PIECES if not p.strip()]


@st.composite
def documents(draw) -> str:
    """Paragraphs of tokens hard-wrapped at a width (textwrap), each line maybe indented,
    quoted or made a list item, paragraphs apart or not, any line break between lines."""
    width = draw(st.sampled_from([12, 30, 45, 60, 72, 90, 130]))
    paras = draw(
        st.lists(
            st.tuples(
                st.lists(st.sampled_from(TOKENS), min_size=1, max_size=50),
                st.sampled_from(["", "", "", " ", "\t", "\u3000", "> ", "1. ", "１．"]),
                st.sampled_from(["\n", "\n\n", "\n \n", "\n\u3000\n"]),
            ),
            min_size=1,
            max_size=4,
        )
    )
    breaks = draw(st.sampled_from(["\n", "\n", "\r\n", "\u2029", "\x85"]))
    text = ""
    for words, prefix, after in paras:
        lines = textwrap.wrap(" ".join(words), width, break_long_words=False)
        text += prefix + "\n".join(lines) + after
    text = text.replace("\n", breaks)
    return text + draw(st.sampled_from(["", "", *SPACES]))


@settings(deadline=None, max_examples=60)
@given(
    st.lists(st.tuples(documents(), st.booleans()), min_size=1, max_size=6),
    st.sampled_from(WRAPPINGS),
    st.booleans(),
)
def test_kernel_equals_reference_on_generated_text(docs, wrapping, join):
    text = pl.Series("text", [d for d, _ in docs])
    uns = pl.Series([u for _, u in docs])
    assert_same(text, uns, wrapping, join)


def test_character_table_needs_no_plane_beyond_the_ones_read():
    from corpuskit.text import paragraphs_kernels as K

    assert np.array_equal(K.build_table(((0, 0x110000),)), K.build_table())
