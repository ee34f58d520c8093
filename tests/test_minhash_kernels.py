"""The numba kernels (corpuskit/dedup/minhash_kernels.py) against the numpy code and datasketch.

`shingle_batch` / `signatures` use the kernels when numba imports; `shingle_batch_numpy` /
`signatures_numpy` are the reference. Both must give the same shingle hashes, modes and
signatures, value for value: on real English and Chinese news, and on generated text full
of the awkward cases (every kind of Unicode space, capitals beyond ASCII, 4-byte
characters, empty documents, documents with fewer tokens than n).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from datasketch import MinHash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpuskit.dedup.hashing import numba_kernels
from corpuskit.dedup.minhash import signatures, signatures_numpy
from corpuskit.dedup.normalize import TokenNormalize
from corpuskit.dedup.shingles import (
    Shingling,
    _chars,
    shingle_batch,
    shingle_batch_numpy,
    shingle_hash_py,
    shingles_py,
    unspaced_share,
)
from corpuskit.text.utf8 import utf8_buffer
from tests.conftest import ROOT, needs_shared

kernels = numba_kernels()
pytestmark = pytest.mark.skipif(kernels is None, reason="numba is not importable")

CONFIGS = [
    Shingling(),
    Shingling(normalize=TokenNormalize(lowercase=False)),
    Shingling(word_ngram=3, char_ngram=2),
    Shingling(mode="char", char_ngram=4),
    Shingling(mode="word", word_ngram=1),
    Shingling(normalize=TokenNormalize(punctuation=True, digits=True)),
]


def assert_same(batch: pl.DataFrame, sh: Shingling) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kernels == numpy reference for shingles, modes and signatures; returns the kernels'."""
    fast, mode = shingle_batch(batch, sh)
    ref, ref_mode = shingle_batch_numpy(batch, sh)
    np.testing.assert_array_equal(mode, ref_mode)
    np.testing.assert_array_equal(fast.offsets, ref.offsets)
    np.testing.assert_array_equal(fast.hashes, ref.hashes)
    assert fast.hashes.dtype == np.uint32 and fast.offsets.dtype == np.int64
    for num_perm, seed in ((128, 1), (7, 3)):
        sig = signatures(fast.hashes, fast.offsets, num_perm, seed)
        np.testing.assert_array_equal(
            sig, signatures_numpy(ref.hashes, ref.offsets, num_perm, seed)
        )
    return fast.hashes, fast.offsets, mode


# ---------------------------------------------------------------- real text


def _ag_news(n: int) -> list[str]:
    path = needs_shared("ag_news") / "test.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [r for _, r in zip(range(n), csv.reader(fh), strict=False)]
    return [f"{title} {desc}" for _, title, desc in rows]


def _cnews(n: int) -> list[str]:
    path = needs_shared("cnews_subset") / "cnews.val.txt"
    lines = path.read_text(encoding="utf-8").splitlines()[:n]
    return [line.split("\t", 1)[1] for line in lines]


@pytest.fixture(scope="module")
def news() -> pl.DataFrame:
    en, zh = _ag_news(1500), _cnews(500)
    texts = [t for pair in zip(en[:500], zh, strict=True) for t in pair] + en[500:]
    langs = [("zh" if i % 2 else "en") if i < 1000 else None for i in range(len(texts))]
    return pl.DataFrame({"text": texts, "lang": langs})


@pytest.mark.parametrize("sh", CONFIGS, ids=lambda sh: repr(sh)[:60])
def test_kernels_equal_numpy_on_news(news, sh):
    for frame in (news, news.drop("lang")):
        for offset in range(0, frame.height, 700):  # batches mixing both languages
            hashes, _, mode = assert_same(frame.slice(offset, 700), sh)
            assert len(hashes) > 10_000
            if sh.mode == "auto" and offset == 0:
                assert 200 < mode.sum() < 500  # the Chinese half (by lang or by script)


def test_kernels_equal_datasketch_on_news(news):
    sample = pl.concat([news.head(40), news.tail(20)])
    s, mode = shingle_batch(sample, Shingling())
    sig = signatures(s.hashes, s.offsets, 128)
    assert mode.sum() == 20
    for i, text in enumerate(sample["text"]):
        c = bool(mode[i])
        m = MinHash(num_perm=128, hashfunc=lambda x, c=c: shingle_hash_py(x, c))
        m.update_batch(shingles_py(text, c, 5))
        assert np.array_equal(m.hashvalues, sig[:, i]), (i, text[:40])


# ---------------------------------------------------------------- generated text

_SPACES = [" ", "\t", "\n", "\x0b", "\x1c", "\x01", "\u0085", "\u00a0", "\u1680", "\u2000"]
_SPACES += ["\u2007", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
_NOT_SPACES = ["\u200b", "\u2060", "\u3001", "\u1681", "\u2030", "\x7f", "\u00a1", "\u0084"]
_CHARS = st.one_of(
    st.sampled_from("aAbBzZ09.,!-_'İıẞßΣσЖжǄǅⅫⓐＡａ𐐀𐐨😀中文测试の日本語テスト"),
    st.sampled_from("ภาษาไทยລາວខ្មែរမြန်မာབོད་"),
    st.sampled_from(_NOT_SPACES),
    st.characters(max_codepoint=0x2FF),
    st.characters(min_codepoint=0x3000, max_codepoint=0x30FF),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4E40),
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1F320),
)
_WORDS = st.lists(_CHARS, min_size=1, max_size=6).map("".join)
_TEXTS = st.one_of(
    st.just(""),
    st.lists(st.tuples(_WORDS, st.sampled_from(_SPACES)), max_size=14).map(
        lambda parts: "".join(w + s for w, s in parts)
    ),
    st.lists(st.one_of(_CHARS, st.sampled_from(_SPACES)), max_size=30).map("".join),
)
_LANGS = st.sampled_from([None, "en", "zh", "ZH-Hant", "ja_JP", "th", "ru", "x"])


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.tuples(_TEXTS, _LANGS), max_size=12),
    st.booleans(),
    st.sampled_from(["auto", "auto", "word", "char"]),
    st.integers(1, 6),
    st.integers(1, 6),
    st.booleans(),
)
def test_kernels_equal_numpy_on_generated_text(docs, with_lang, mode, word_n, char_n, lower):
    frame = pl.DataFrame(
        {"text": [t for t, _ in docs], "lang": [lang for _, lang in docs]},
        schema={"text": pl.String, "lang": pl.String},
    )
    if not with_lang:
        frame = frame.drop("lang")
    sh = Shingling(mode, word_n, char_n, normalize=TokenNormalize(lowercase=lower))
    hashes, offsets, chars = assert_same(frame, sh)
    # and both equal the pure-Python definition
    for i, (text, _) in enumerate(docs):
        c = bool(chars[i])
        ref = shingles_py(text, c, char_n if c else word_n, lower)
        assert hashes[offsets[i] : offsets[i + 1]].tolist() == [shingle_hash_py(s, c) for s in ref]
    # the script share behind "auto" (not only its threshold) is the numpy one
    data, doc_offsets = utf8_buffer(frame["text"])
    hits, letters = kernels.script_counts(data, doc_offsets)
    share = unspaced_share(_chars(data, doc_offsets), data)
    np.testing.assert_array_equal(hits / np.maximum(letters, 1), share)


def test_short_and_empty_documents():
    texts = ["", "   ", "a", "a b", "a b c d", "a b c d e", "中", "中文", "\u3000\u00a0"]
    frame = pl.DataFrame({"text": texts})
    hashes, offsets, mode = assert_same(frame, Shingling(word_ngram=5, char_ngram=5))
    assert np.diff(offsets).tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 0]
    assert mode.tolist() == [False] * 6 + [True, True, False]
    assert hashes[offsets[3]] == shingle_hash_py(["a", "b"], False)
    sig = signatures(hashes, offsets, 16)
    assert (sig[:, [0, 1, 8]] == 0xFFFFFFFF).all() and (sig[:, 2:8] != 0xFFFFFFFF).all()
    empty, _ = shingle_batch(frame.head(0), Shingling())
    assert signatures(empty.hashes, empty.offsets, 8).shape == (8, 0)


@pytest.mark.parametrize("num_perm", [1, 7, 64, 128, 256])
def test_signature_kernel_on_random_hashes(num_perm):
    rng = np.random.default_rng(num_perm)
    counts = rng.choice([0, 1, 3, 7, 8, 9, 15, 16, 17, 100, 5000], size=60)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    hashes = rng.integers(0, 2**32, int(offsets[-1]), dtype=np.uint64).astype(np.uint32)
    for seed in (1, 42):
        fast = signatures(hashes, offsets, num_perm, seed)
        np.testing.assert_array_equal(fast, signatures_numpy(hashes, offsets, num_perm, seed))
    # a strided view and int32 offsets are accepted
    strided = np.repeat(hashes, 2)[::2]
    np.testing.assert_array_equal(
        signatures(strided, offsets.astype(np.int32), num_perm),
        signatures_numpy(hashes, offsets, num_perm),
    )


def test_kernels_release_the_gil():
    # the dedup fit runs batches in threads
    for fn in (kernels.shingle_hashes, kernels.minhash, kernels.script_counts, kernels.needs_lower):
        assert fn.targetoptions.get("nogil") is True


def test_numpy_fallback_when_numba_is_off():
    code = (
        "import polars as pl\n"
        "from corpuskit.dedup.hashing import numba_kernels\n"
        "from corpuskit.dedup.minhash import signatures\n"
        "from corpuskit.dedup.shingles import Shingling, shingle_batch, shingle_hash_py\n"
        "assert numba_kernels() is None\n"
        "batch = pl.DataFrame({'text': ['One two three four five six']})\n"
        "s, m = shingle_batch(batch, Shingling())\n"
        "assert s.hashes.tolist() == [shingle_hash_py('one two three four five', False),\n"
        "                             shingle_hash_py('two three four five six', False)]\n"
        "assert signatures(s.hashes, s.offsets, 4).shape == (4, 1)\n"
        "import sys; assert 'numba' not in sys.modules\n"
    )
    env = {**os.environ, "CORPUSKIT_NUMBA": "0", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
