"""Shingling: word n-grams for spaced languages, character n-grams for Chinese/Japanese/Thai.

Tokens (the reference definition is `tokens_py`; "space" is any character that
`str.isspace()` or that is an ASCII control character):

- word mode: the runs of non-space characters (`text.split()`);
- char mode: every non-space character (spaces between CJK words are noise).

A shingle is n consecutive tokens; a document with fewer than n tokens has one shingle (all
its tokens), an empty one none. `lowercase` folds case first (full Unicode in word mode,
ASCII in char mode, which is all the Latin a Chinese text carries); `punctuation` and
`digits` apply `normalize.py` before tokenizing.

`shingle_batch` walks the batch's UTF-8 buffer once per document with the numba kernel
`kernels.shingle_hashes` when numba imports (bytes to token values to n-gram hashes in one
compiled call). `shingle_batch_numpy` is the reference and the fallback, giving the same
hashes: it runs with numpy over the buffer, a few passes over its bytes and the rest over
tokens: character starts are one byte mask, a character's value is its UTF-8 bytes read as
one little-endian uint32, a word's value comes from one prefix sum over the
bytes, and the n-gram hashes from n shifted array operations over all tokens of the batch
(`hashing.ngram_hashes`). The mode of each document comes from its `lang` value, or from
the share of Han/Kana/Thai/... characters among its letters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from corpuskit.dedup.hashing import (
    char_value_py,
    fmix32,
    ngram_hash_py,
    ngram_hashes,
    numba_kernels,
    word_value_py,
    word_values,
)
from corpuskit.dedup.normalize import Normalize, TokenNormalize, normalized
from corpuskit.text.utf8 import utf8_buffer

# Languages written without spaces between words: character shingles.
CHAR_LANGUAGES: tuple[str, ...] = ("zh", "ja", "th", "lo", "km", "my", "bo", "yue", "wuu")

_U8 = np.uint8
_U32 = np.uint32


@dataclass(frozen=True)
class Shingling:
    """How documents are cut into shingles."""

    mode: str = "auto"  # auto | word | char
    word_ngram: int = 5
    char_ngram: int = 5
    char_languages: tuple[str, ...] = CHAR_LANGUAGES
    script_ratio: float = 0.3
    normalize: TokenNormalize = field(default_factory=TokenNormalize)


@dataclass
class Shingles:
    """Shingle hashes of a batch: doc i owns hashes[offsets[i]:offsets[i + 1]] (may be empty)."""

    hashes: np.ndarray  # uint32
    offsets: np.ndarray  # int64, n_docs + 1

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def of(self, i: int) -> np.ndarray:
        return self.hashes[self.offsets[i] : self.offsets[i + 1]]


def empty_shingles(n_docs: int) -> Shingles:
    return Shingles(np.zeros(0, dtype=np.uint32), np.zeros(n_docs + 1, dtype=np.int64))


# ---------------------------------------------------------------- characters


@dataclass
class _Chars:
    """The non-space characters of a buffer: byte starts, lead bytes, per-doc offsets."""

    starts: np.ndarray  # int64 byte positions
    lead: np.ndarray  # uint8 first byte
    offsets: np.ndarray  # int64, n_docs + 1, into starts
    spaces: tuple[np.ndarray, np.ndarray]  # multi-byte spaces: (byte start, byte length)


def _pad(data: np.ndarray, k: int) -> np.ndarray:
    return np.concatenate([data, np.zeros(k, dtype=np.uint8)])


def _multibyte_spaces(
    data: np.ndarray, pos: np.ndarray, b0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which candidate positions (lead byte b0 in C2, E1-E3) start a multi-byte space.

    U+0085, U+00A0 (C2 85, C2 A0); U+1680 (E1 9A 80); U+2000-U+200A, U+2028, U+2029,
    U+202F (E2 80 xx); U+205F (E2 81 9F); U+3000 (E3 80 80). Returns (mask, byte lengths).
    """
    padded = _pad(data, 2)
    b1, b2 = np.take(padded, pos + 1), np.take(padded, pos + 2)
    two = (b0 == 0xC2) & ((b1 == 0x85) | (b1 == 0xA0))
    e280 = (b0 == 0xE2) & (b1 == 0x80)
    three = (
        ((b0 == 0xE1) & (b1 == 0x9A) & (b2 == 0x80))
        | (e280 & ((b2 <= 0x8A) | (b2 == 0xA8) | (b2 == 0xA9) | (b2 == 0xAF)))
        | ((b0 == 0xE2) & (b1 == 0x81) & (b2 == 0x9F))
        | ((b0 == 0xE3) & (b1 == 0x80) & (b2 == 0x80))
    )
    return two | three, np.where(three, 3, 2)


def _chars(data: np.ndarray, offsets: np.ndarray) -> _Chars:
    """Every non-space character of the buffer (one byte pass, then work on characters)."""
    token = (data > 0x20) & ((data < 0x80) | (data >= 0xC0))  # lead bytes, no ASCII space
    starts = np.flatnonzero(token)
    lead = np.take(data, starts)
    cand = np.flatnonzero((lead == 0xC2) | ((lead - _U8(0xE1)) <= 2))
    spaces = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    if len(cand):
        space, length = _multibyte_spaces(data, starts[cand], lead[cand])
        if space.any():
            spaces = (starts[cand[space]], length[space])
            keep = np.ones(len(starts), dtype=bool)
            keep[cand[space]] = False
            starts, lead = starts[keep], lead[keep]
    return _Chars(starts, lead, np.searchsorted(starts, offsets), spaces)


def unspaced_share(chars: _Chars, data: np.ndarray) -> np.ndarray:
    """Per document: unspaced-script characters / letters (digits and punctuation aside).

    Unspaced: a 3-byte character led by E3-E9 (U+3000-U+9FFF: CJK punctuation, kana,
    CJK ideographs), E0 B8-BF (Thai, Lao, Tibetan), E1 80-82 (Myanmar) or E1 9E-9F (Khmer).
    Letters: those, ASCII letters, and every other non-ASCII character except the
    punctuation and symbol blocks led by C2 (U+0080-U+00BF), E2 (U+2000-U+2FFF) and EF
    (U+F000-U+FFFF, fullwidth forms), so a Chinese table of numbers stays Chinese.
    """
    lead = chars.lead
    hit = (lead - _U8(0xE3)) <= 6
    rare = np.flatnonzero((lead - _U8(0xE0)) <= 1)
    if len(rare):
        nxt = np.take(_pad(data, 1), chars.starts[rare] + 1)
        ok = ((lead[rare] == 0xE0) & (nxt >= 0xB8)) | (
            (lead[rare] == 0xE1) & ((nxt <= 0x82) | (nxt == 0x9E) | (nxt == 0x9F))
        )
        hit[rare[ok]] = True
    ascii_letter = ((lead | _U8(0x20)) - _U8(0x61)) <= 25
    other = (lead >= 0xC3) & (lead != 0xE2) & (lead != 0xEF)
    n_hit = _per_doc_sum(hit, chars.offsets)
    n_letters = _per_doc_sum(ascii_letter | other | hit, chars.offsets)
    return n_hit / np.maximum(n_letters, 1)


def _per_doc_sum(mask: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    cum = np.zeros(len(mask) + 1, dtype=np.int64)
    np.cumsum(mask, out=cum[1:])
    return np.diff(cum[offsets])


def char_mode(
    batch: pl.DataFrame,
    sh: Shingling,
    chars: _Chars | None = None,
    data: np.ndarray | None = None,
    offsets: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean per document: use character shingles?

    From the `lang` column where it is present and not null (its primary subtag is in
    `char_languages`), else from the share of Han/Kana/Thai/... characters among its
    letters (>= `script_ratio`, see `unspaced_share`; counted by `kernels.script_counts`
    unless `chars` is given or numba is off). `data`/`offsets` (the buffer of the texts to
    shingle) and `chars` are what the caller has already computed, if anything.
    """
    if sh.mode != "auto":
        return np.full(batch.height, sh.mode == "char")
    by_lang = known = None
    if "lang" in batch.columns:
        lang = pl.col("lang").cast(pl.String)
        primary = lang.str.to_lowercase().str.replace(r"[-_].*$", "")
        found = batch.select(  # one query: a batch is small, so per-query overhead counts
            by_lang=primary.is_in(list(sh.char_languages)).fill_null(False),
            known=lang.is_not_null(),
        )
        by_lang, known = found["by_lang"].to_numpy(), found["known"].to_numpy()
        if known.all():
            return by_lang
    kernels = numba_kernels() if chars is None else None
    if kernels is not None:
        data, offsets = utf8_buffer(batch["text"]) if offsets is None else (data, offsets)
        hits, letters = kernels.script_counts(data, offsets)
        share = hits / np.maximum(letters, 1)
    else:
        if chars is None or data is None:
            data, offsets = utf8_buffer(batch["text"])
            chars = _chars(data, offsets)
        share = unspaced_share(chars, data)
    by_script = share >= sh.script_ratio
    return by_script if by_lang is None else np.where(known, by_lang, by_script)


# ---------------------------------------------------------------- shingles


def _texts(batch: pl.DataFrame, norm: TokenNormalize) -> pl.Series:
    """The texts to shingle: nulls as empty, punctuation/digits normalized if asked."""
    texts = batch["text"].fill_null("")
    if norm.punctuation or norm.digits:
        plain = Normalize(whitespace=False, punctuation=norm.punctuation, digits=norm.digits)
        texts = texts.to_frame().select(normalized(pl.col("text"), plain, whitespace=False))["text"]
    return texts


def shingle_batch(batch: pl.DataFrame, sh: Shingling) -> tuple[Shingles, np.ndarray]:
    """Shingle hashes of every document of the batch (in batch order), and the char-mode mask."""
    kernels = numba_kernels()
    if kernels is None:
        return shingle_batch_numpy(batch, sh)
    norm = sh.normalize
    texts = _texts(batch, norm)
    data, offsets = utf8_buffer(texts)
    mode = char_mode(batch, sh, None, data, offsets)
    if batch.height == 0:
        return empty_shingles(0), mode
    if norm.lowercase and not mode.all():
        # full Unicode lowercase (Polars) of the word documents with non-ASCII capitals;
        # ASCII folding happens in the kernel, and character documents fold ASCII only
        need = kernels.needs_lower(data, offsets, ~mode, _CASED)
        if need.any():
            idx = pl.Series(np.flatnonzero(need))
            texts = texts.clone().scatter(idx, texts.gather(idx).str.to_lowercase())
            data, offsets = utf8_buffer(texts)
    hashes, shingle_offsets = kernels.shingle_hashes(
        data, offsets, mode, sh.word_ngram, sh.char_ngram, norm.lowercase
    )
    return Shingles(hashes, shingle_offsets), mode


def shingle_batch_numpy(batch: pl.DataFrame, sh: Shingling) -> tuple[Shingles, np.ndarray]:
    """`shingle_batch` with numpy only: the reference."""
    n_docs = batch.height
    norm = sh.normalize
    texts = _texts(batch, norm)
    data, offsets = utf8_buffer(texts)
    need_chars = sh.mode == "char" or (sh.mode == "auto" and not _lang_known(batch))
    chars = _chars(data, offsets) if need_chars else None
    mode = char_mode(batch, sh, chars, data)
    if n_docs == 0:
        return empty_shingles(0), mode
    parts = []
    if mode.any():
        if chars is None:
            chars = _chars(data, offsets)
        parts.append(_char_shingles(data, chars, mode, sh.char_ngram, norm.lowercase))
    if mode.all():
        return parts[0], mode
    if not mode.any():
        return _word_shingles(texts, data, offsets, sh.word_ngram, norm.lowercase), mode
    # word documents get a buffer of their own: most bytes of a mixed batch are CJK
    idx = np.flatnonzero(~mode)
    sub = texts.gather(idx)
    w = _word_shingles(sub, *utf8_buffer(sub), sh.word_ngram, norm.lowercase)
    c = parts[0]  # all documents, none for the word documents
    counts = c.counts
    counts[idx] = w.counts
    merged = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(counts, out=merged[1:])
    hashes = np.empty(int(merged[-1]), dtype=np.uint32)
    for where, part in ((merged[:-1], c), (merged[idx], w)):
        dest = np.repeat(where - part.offsets[:-1], part.counts) + np.arange(len(part.hashes))
        hashes[dest] = part.hashes
    return Shingles(hashes, merged), mode


def _lang_known(batch: pl.DataFrame) -> bool:
    return "lang" in batch.columns and batch["lang"].null_count() == 0


def _char_shingles(
    data: np.ndarray, chars: _Chars, docs: np.ndarray, n: int, lowercase: bool
) -> Shingles:
    """Character n-grams of the documents `docs` marks (the others get none)."""
    starts, lead, offsets = chars.starts, chars.lead, chars.offsets
    if not docs.all():
        counts = np.where(docs, np.diff(offsets), 0)
        keep = np.repeat(docs, np.diff(offsets))
        starts, lead = starts[keep], lead[keep]
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
    length = (lead >= 0xC0).view(_U8) + (lead >= 0xE0).view(_U8) + (lead >= 0xF0).view(_U8)
    padded = _pad(data, 3)
    as_u32 = np.ndarray((len(data),), dtype="<u4", buffer=padded, strides=(1,))
    raw = np.take(as_u32, starts) & (_U32(0xFFFFFFFF) >> (_U32(24) - _U32(8) * length))
    if lowercase:  # ASCII capitals (a multi-byte character's value is >= 0x80)
        raw += ((raw - _U32(0x41)) <= 25).view(_U8).astype(_U32) << _U32(5)
    hashes, shingle_offsets = ngram_hashes(fmix32(raw), offsets, n)
    return Shingles(hashes, shingle_offsets)


def _word_shingles(
    texts: pl.Series, data: np.ndarray, offsets: np.ndarray, n: int, lowercase: bool
) -> Shingles:
    """Word n-grams of every document of the buffer."""
    if lowercase:
        lowered = _unicode_lower(texts, data, offsets)
        if lowered is not None:
            data, offsets = utf8_buffer(lowered)
        upper = (data - _U8(0x41)) <= 25
        data = data + upper.view(_U8) * _U8(32)
    space = data <= 0x20
    cand = np.flatnonzero((data == 0xC2) | ((data - _U8(0xE1)) <= 2))
    if len(cand):
        hit, length = _multibyte_spaces(data, cand, np.take(data, cand))
        for k in range(3):
            pos = cand[hit & (length > k)] + k
            space[pos] = True
    word = ~space
    edge = np.zeros(len(data) + 1, dtype=bool)  # byte i starts a document
    edge[offsets] = True
    before = np.empty(len(data), dtype=bool)  # the byte before is a space or another doc
    before[:1] = True
    before[1:] = space[:-1]
    before |= edge[:-1]
    after = np.empty(len(data), dtype=bool)
    after[-1:] = True
    after[:-1] = space[1:]
    after |= edge[1:]
    starts = np.flatnonzero(word & before)
    ends = np.flatnonzero(word & after) + 1
    values = word_values(data, starts, ends)
    hashes, shingle_offsets = ngram_hashes(values, np.searchsorted(starts, offsets), n)
    return Shingles(hashes, shingle_offsets)


# UTF-8 lead bytes of scripts with case beyond ASCII: Latin-1 letters to Armenian (C3-D6);
# with a second byte: Georgian, Cherokee, Georgian Mtavruli, Latin/Greek extended (E1),
# letterlike symbols, Roman numerals, circled letters, Glagolitic, Latin extended-C, Coptic
# (E2), Cyrillic extended-B, Latin extended-D (EA), fullwidth Latin (EF BC); and every
# 4-byte character (Deseret, Osage, Adlam...).
_CASED_2ND = {
    0xE1: (0x82, 0x83, 0x8E, 0x8F, 0xB2, 0xB3, *range(0xB8, 0xC0)),
    0xE2: (0x84, 0x85, 0x92, 0x93, *range(0xB0, 0xB4)),
    0xEA: (0x99, 0x9A, *range(0x9C, 0xA0)),
    0xEF: (0xBC,),
}
_CASED = np.zeros(1 << 16, dtype=bool)  # indexed by first byte << 8 | second byte
for _b0 in (*range(0xC3, 0xD7), *range(0xF0, 0x100)):
    _CASED[_b0 << 8 : (_b0 + 1) << 8] = True
for _b0, _seconds in _CASED_2ND.items():
    _CASED[[_b0 << 8 | _b1 for _b1 in _seconds]] = True


def _unicode_lower(texts: pl.Series, data: np.ndarray, offsets: np.ndarray) -> pl.Series | None:
    """Polars' Unicode lowercase for the texts that may hold non-ASCII capitals.

    None when no text needs it (numpy folds ASCII).
    """
    pos = np.flatnonzero(data >= 0xC3)
    if not len(pos):
        return None
    pair = np.take(data, pos).astype(np.uint16) << 8 | np.take(_pad(data, 1), pos + 1)
    need = np.diff(np.searchsorted(pos[np.take(_CASED, pair)], offsets)) > 0
    if not need.any():
        return None
    idx = pl.Series(np.flatnonzero(need))
    return texts.clone().scatter(idx, texts.gather(idx).str.to_lowercase())


# ---------------------------------------------------------------- references


def is_space_py(c: str) -> bool:
    return c.isspace() or c <= " "


def tokens_py(text: str, chars: bool, lowercase: bool = True) -> list[str]:
    """Reference tokens of one text (after any punctuation/digit normalization)."""
    if lowercase:
        text = "".join(c.lower() if c.isascii() else c for c in text) if chars else text.lower()
    if chars:
        return [c for c in text if not is_space_py(c)]
    words, current = [], []
    for c in text:
        if is_space_py(c):
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(c)
    if current:
        words.append("".join(current))
    return words


def shingles_py(text: str, chars: bool, n: int, lowercase: bool = True) -> list[list[str]]:
    """Reference shingles (token lists) of one text."""
    tokens = tokens_py(text, chars, lowercase)
    if not tokens:
        return []
    if len(tokens) < n:
        return [tokens]
    return [tokens[i : i + n] for i in range(len(tokens) - n + 1)]


def shingle_hash_py(shingle: list[str] | str, chars: bool) -> int:
    """Reference 32-bit hash of one shingle: what MinHash sees (datasketch's `hashfunc`).

    A string is taken as its tokens joined (characters, or words joined by one space).
    """
    if isinstance(shingle, str):
        shingle = list(shingle) if chars else shingle.split(" ")
    value = char_value_py if chars else word_value_py
    return ngram_hash_py([value(t) for t in shingle])
