"""ad_filter counts promo and spam terms of texts without a CJK character with the patterns
that can match there: the counts must be those of the whole alternation."""

from __future__ import annotations

import numpy as np
import polars as pl

from corpuskit import registry
from corpuskit.steps import ad_filter as af
from corpuskit.steps.patterns import Pattern
from tests.test_segment import odd_texts


def test_needs_wide_only_where_every_match_holds_a_cjk_character():
    assert af.needs_wide("代开|代办(?:各类|各种)?发票")
    assert af.needs_wide("发票[^。\\n]{0,12}(?:点数|优惠)")
    assert af.needs_wide("(?i:[特惠]价)")
    assert af.needs_wide("ＱＱ")  # full-width forms
    assert not af.needs_wide("reply-to:|您好")  # one branch is ASCII
    assert not af.needs_wide("(?:您好)?hello")  # optional
    assert not af.needs_wide("[^。]+")  # a negated class
    assert not af.needs_wide("[a-z好]")
    assert not af.needs_wide("\\p{Han}+")  # Rust syntax Python cannot read: not known
    assert not af.needs_wide("(")


def test_no_character_outside_the_wide_ranges_has_a_case_variant_inside():
    def wide(c: str) -> bool:
        return af._wide(ord(c), ord(c))

    for code in range(0x110000):
        c = chr(code)
        variants = {c.lower(), c.upper(), c.casefold(), c.swapcase()}
        if any(len(v) == 1 and wide(v) != wide(c) for v in variants):
            raise AssertionError(hex(code))
        if wide(c):
            assert all(wide(x) for v in variants for x in v), hex(code)


def test_top_branches_and_the_narrow_pattern():
    assert af.top_branches("a|(?:b|c)|[|]") == ["a", "(?:b|c)", "[|]"]
    assert af.top_branches("x\\|y|[]|]|[^]|]") == ["x\\|y", "[]|]", "[^]|]"]
    assert af.top_branches("a|(?i)b|c") is None  # the flag reaches "c": not split
    p = Pattern("reply-to:|^\\W*(?:您好|你好)[!！]|hello", False, "spam:zh")
    assert af.narrow_pattern(p) == Pattern("reply-to:|hello", False, "spam:zh")
    assert af.narrow_pattern(Pattern("您好|你好", False, "x")) is None
    keep = Pattern("a|(?i)b|您好", False, "x")
    assert af.narrow_pattern(keep) is keep
    assert af.narrow_regex("(?i)qq|客服|wechat") == "(?i)qq|wechat"  # the leading flag stays
    texts = pl.Series([*odd_texts(2000, seed=7), "售价 1,690元 or $19.99, ￥5 £3", "12 元"])
    wide = af.maybe_wide(texts)
    for k in af.NARROW_SIGNALS:
        regex = af.SIGNALS[k]
        assert af.narrow_regex(regex) != regex
        got = af.count_terms(texts, regex, af.narrow_regex(regex), wide)
        assert got.to_list() == texts.str.count_matches(regex).to_list()


def test_maybe_wide_finds_every_cjk_text():
    texts = [*odd_texts(3000, seed=4), "“quoted” — dash", "⺀", "\u2e7f", "日本", "ｘ", "𠀀", ""]
    got = af.maybe_wide(pl.Series(texts))
    want = np.array([any(af._wide(ord(c), ord(c)) for c in t) for t in texts])
    assert (got | ~want).all()  # never misses one
    assert not got[texts.index("“quoted” — dash")] and not got[texts.index("\u2e7f")]
    assert got[texts.index("⺀")] and got[texts.index("𠀀")]


def test_counts_equal_the_whole_alternation():
    cls = registry.steps()["ad_filter"]
    step = cls(cls.Config(extra_terms=("hello",)), name="ad_filter")
    step.ensure_ready()
    assert step._spam_narrow and step._spam_narrow != step._spam_regex
    texts = [
        *odd_texts(2000, seed=6),
        "您好！代开发票，贵公司负责人 reply-to: x  you have won a prize, txt WIN to 80086",
        "Hi 您好！ free shipping 特价 buy now, hello",
        "Dear friend, you have won! Claim your cash prize now. Free spins, no deposit.",
    ]
    series = pl.Series(texts)
    wide = af.maybe_wide(series)
    assert wide.any() and not wide.all()
    for regex, narrow in (
        (step._spam_regex, step._spam_narrow),
        (step._promo_regex, step._promo_narrow),
    ):
        got = af.count_terms(series, regex, narrow, wide)
        assert got.to_list() == series.str.count_matches(regex).to_list()
        assert got.sum() >= 3
    out = step.annotate(pl.DataFrame({"text": [*texts, None]}))
    assert out["ad_spam"].to_list()[:-1] == series.str.count_matches(step._spam_regex).to_list()
    assert out["ad_spam"][-1] == 0
