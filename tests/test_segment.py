"""The segmenter: its fast paths equal spaCy's rules, the kernels and the memo equal the
Polars reference path."""

from __future__ import annotations

import json

import polars as pl
import pytest

from corpuskit.text import chars, segment
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


def _rules_map(chunks: list[str]) -> pl.DataFrame:
    """(ch, h, len, flags) of every chunk's tokens by the full rules, no fast path."""
    rules = segment.segmenter().rules
    ch, toks = [], []
    for c in chunks:
        t = rules.tokenize(c)
        ch.extend([c] * len(t))
        toks.extend(t)
    frame = pl.DataFrame({"c": ch, "tok": toks}).with_columns(ch=segment.token_hash(pl.col("c")))
    return segment.Segmenter._token_rows(frame.select("ch", "tok"))


def test_chunk_map_equals_the_rules_on_every_real_chunk():
    ag = needs_shared("ag_news/test.csv")
    articles = needs_shared("article_extraction_html/ground-truth.json")
    shakespeare = needs_shared("tinyshakespeare/input.txt")
    rows = pl.read_csv(ag, has_header=False, new_columns=["label", "title", "description"])
    texts = rows["title"].to_list() + rows["description"].to_list()
    texts += [v["articleBody"] for v in json.loads(articles.read_text(encoding="utf-8")).values()]
    texts.append(shakespeare.read_text(encoding="utf-8"))
    chunks = pl.Series(texts).str.extract_all(chars.NON_WS + "+").explode().drop_nulls()
    chunks = sorted(set(chunks.to_list()) | {w + p for w in TRICKY for p in ["", ".", ",", "!"]})
    uniq = pl.DataFrame({"c": chunks}).with_columns(ch=segment.token_hash(pl.col("c")))
    seg = segment.Segmenter(kernels=False)  # its memo holds the chunks the rules saw
    got = seg._chunk_map(uniq).sort("ch", maintain_order=True)
    want = _rules_map(chunks).sort("ch", maintain_order=True)
    assert len(chunks) > 70_000
    assert got.equals(want)
    # most chunks never reach the Python rules
    assert len(seg._chunks) < 0.4 * len(chunks)


@pytest.mark.parametrize("kernels", [True, False])
def test_tokens_of_a_later_batch_like_a_fresh_segmenter(kernels):
    """Only the memos carry over from call to call: a batch that changes, drops or repeats
    documents of an earlier one segments as a fresh segmenter segments it."""
    base = [
        'The cat sat.\n  On the mat, it said: "hello!"  \nA third line (with e.g. U.S. words).',
        "新华社北京3月5日电 国务院总理今天作报告。\n代表们认为，报告实事求是。",
        "",
        "one\r\ntwo\x1cthree\u2028four\n\nfive six.",
        "Repeated document.\nSecond line.",
        "Repeated document.\nSecond line.",
    ]
    changed = [
        'On the mat, it said: "hello!"\nA third line (with e.g. U.S. words).',  # lines dropped
        base[1],
        "A brand new line.\nThe cat sat.",  # one old line, one new
        "two\nfive six.\n\n",
        base[4],
        base[4] + "\nMore.",
        "新华社北京3月5日电 国务院总理今天作报告。",
        "",
    ]
    unspaced = pl.Series([False, True, False, False, False, False, True, False])
    seg = segment.Segmenter(kernels=kernels)
    assert (seg.kernels is not None) is kernels
    seg.tokens(pl.Series(base), pl.Series([False, True, False, False, False, False]))
    got = seg.tokens(pl.Series(changed), unspaced)
    want = segment.Segmenter(kernels=False).tokens(pl.Series(changed), unspaced)
    assert got.equals(want)
    again = pl.Series([base[5], base[0], base[4], base[5]])
    assert seg.tokens(again).equals(segment.Segmenter(kernels=False).tokens(again))
    assert not hasattr(seg, "_last")  # no table is kept for the next call


def odd_texts(n: int, seed: int = 0) -> list[str]:
    """Short texts of every kind of whitespace and line break Python knows (and a few
    characters that are neither), words, CJK, special cases and punctuation."""
    import random

    rng = random.Random(seed)
    pieces = list("ab .,\n\r\t\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u200b")
    pieces += list("\u2028\u2029\u202f\u205f\u3000\u180e\ufeff中文「」'\"-()$é")
    pieces += ["\r\n", "don't", "U.S.", "e.g.", "Mr.", "http://x.com/a?b", "10a.m.", ":)"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 60))) for _ in range(n)]


def test_kernel_token_table_equals_the_polars_reference():
    ag = needs_shared("ag_news/test.csv")
    cn = needs_shared("cnews_subset/cnews.val.txt")
    rows = pl.read_csv(ag, has_header=False, new_columns=["label", "title", "description"])
    texts = (rows["title"] + "\n" + rows["description"]).to_list()[:3000]
    texts += [line.split("\t", 1)[1] for line in cn.open(encoding="utf-8")][:300]
    texts += odd_texts(3000)
    unspaced = chars.unspaced_mask(pl.DataFrame({"text": texts}))
    fast, ref = segment.Segmenter(kernels=True), segment.Segmenter(kernels=False)
    assert fast.kernels is not None, "numba is installed, the kernels must load"
    series = pl.Series(texts)
    for i in range(0, len(texts), 1000):  # the memo carries over from batch to batch
        x, u = series.slice(i, 1000), unspaced.slice(i, 1000)
        got = fast.tokens(x, u)
        assert got.equals(ref.tokens(x, u)), i
    assert unspaced.sum() > 250 and got.height > 1000
    fast._chunks.clear()  # clearing the memo forgets the stored tokens too
    x = series.slice(0, 1000)
    assert fast.tokens(x).equals(ref.tokens(x))


def test_whitespace_words_count_like_python_split():
    texts = [*odd_texts(3000, seed=1), "", " a  b ", "x\u3000y\x1fz", "one\r\ntwo"]
    got = segment.whitespace_words(pl.Series(texts)).to_list()
    assert got == [len(t.split()) for t in texts]
    regex = pl.Series(texts).str.count_matches(chars.NON_WS + "+").to_list()
    assert got == regex


def real_and_odd_texts() -> tuple[list[str], pl.Series]:
    ag = needs_shared("ag_news/test.csv")
    cn = needs_shared("cnews_subset/cnews.val.txt")
    rows = pl.read_csv(ag, has_header=False, new_columns=["label", "title", "description"])
    texts = (rows["title"] + "\n" + rows["description"]).to_list()[:2000]
    texts += [line.split("\t", 1)[1] for line in cn.open(encoding="utf-8")][:200]
    texts += [*odd_texts(2000, seed=2), None]
    return texts, chars.unspaced_mask(pl.DataFrame({"text": texts}))


def test_word_counts_are_the_token_table_rows():
    texts, unspaced = real_and_odd_texts()
    series = pl.Series(texts)
    ref = segment.Segmenter(kernels=False)
    for kernels in (True, False):
        seg = segment.Segmenter(kernels=kernels)
        for i in range(0, len(texts), 1500):
            x, u = series.slice(i, 1500), unspaced.slice(i, 1500)
            table = ref.tokens(x, u)
            want = table.group_by("row").len().sort("row")
            got = seg.word_counts(x, u)
            assert got.dtype == pl.Int64 and len(got) == len(x)
            assert got.gather(want["row"]).to_list() == want["len"].to_list(), (kernels, i)
            assert got.sum() == table.height
    assert unspaced.sum() > 150
    # without the mask every text is spaced
    x = series.slice(0, 500)
    assert seg.word_counts(x).to_list() == ref.word_counts(x).to_list()


def test_sentence_boundaries_kernel_equals_the_polars_reference():
    texts, unspaced = real_and_odd_texts()
    spaced = pl.Series(texts).filter(~unspaced)
    lines = spaced.fill_null("").str.split("\n").explode()
    fast, ref = segment.Segmenter(kernels=True), segment.Segmenter(kernels=False)
    for x in (spaced, lines, pl.Series(["", "Hi. Bye! ok", "! Hello", "A.\nB. c", "... x ?? y"])):
        got = fast.sentence_boundaries(x)
        assert got.to_list() == ref.sentence_boundaries(x).to_list()
    # spaCy's sentencizer: [Hi.][Bye!][ok], [!][Hello], [A.] [B. c] ("B." one token), [... x ??][y]
    assert got.to_list() == [0, 2, 1, 0, 1]
    assert fast.sentence_boundaries(spaced).sum() > 1000


def test_chunk_index_grows_and_clears():
    seg = segment.Segmenter(kernels=True)
    words = pl.Series([" ".join(f"w{i}x{j}" for j in range(50)) for i in range(400)])
    table = seg.tokens(words)
    assert len(seg._chunks) == 20_000 and seg._chunks.key.size >= 40_000
    assert seg.tokens(words).equals(table)  # found again after the table grew
    seg._chunks.clear()
    assert len(seg._chunks) == 0 and seg.tokens(words).equals(table)


def test_word_stats_equal_sums_over_the_token_table():
    texts, unspaced = real_and_odd_texts()
    series = pl.Series(texts)
    words = segment.word_hashes(["the", "of", "a", "的", "是", "U.S.", ",", "don't", "n't"])
    ref = segment.Segmenter(kernels=False)
    fast = segment.Segmenter(kernels=True)
    for i in range(0, len(texts), 1500):
        x, u = series.slice(i, 1500), unspaced.slice(i, 1500)
        table = ref.tokens(x, u)
        nonsym = (table["flags"] & segment.NONSYM) > 0
        want = (
            table.with_columns(
                n=pl.lit(1, pl.Int64),
                ns=nonsym.cast(pl.Int64),
                ns_len=pl.when(nonsym).then(table["len"]).otherwise(0).cast(pl.Int64),
                alpha=((table["flags"] & segment.ALPHA) > 0).cast(pl.Int64),
            )
            .group_by("row")
            .agg(pl.col("n", "ns", "ns_len", "alpha").sum())
        )
        hits = table.filter(pl.col("h").is_in(words.implode())).select("row", "h", "len", "flags")
        for seg in (fast, ref):
            stats, found = seg.word_stats(x, u, words)
            assert stats.height == len(x) and stats.dtypes == [pl.Int64] * 4
            got = stats.with_row_index("row").join(want.cast({"row": pl.UInt32}), on="row")
            for k in ("n", "ns", "ns_len", "alpha"):
                assert got[k].to_list() == got[f"{k}_right"].to_list(), (k, i)
            assert stats["n"].sum() == table.height
            assert found.equals(hits), i
    assert hits.height > 100 and hits["row"].n_unique() > 50


def test_member_is_isin():
    import numpy as np

    rng = np.random.default_rng(0)
    for n_among in (0, 1, 7, 300):
        among = rng.integers(0, 2**64, size=n_among, dtype=np.uint64)
        values = np.concatenate(
            [rng.integers(0, 2**64, size=500, dtype=np.uint64), among, among[:3], [0, 2**64 - 1]]
        ).astype(np.uint64)
        rng.shuffle(values)
        assert np.array_equal(segment._member(values, among), np.isin(values, among))
