"""Stable, vectorized hashing: whole texts (exact dedup) and token sequences (shingles).

Whole texts: Polars' own string hash with two seeds, 128 bits per text. It is the fastest
hash at hand (about 10 GB/s) and is stable within one Polars version, which is all a run
needs; the cached reference index of `dedup_against` records the Polars version in its key.

Tokens and shingles: 32-bit hashes computed with numpy over a batch's UTF-8 buffer, equal
to the pure-Python references below (`word_value_py`, `char_value_py`, `ngram_hash_py`),
so tests can feed datasketch the very same shingle hashes. All arithmetic is mod 2**32 on
uint32 arrays (numpy wraps), which keeps it SIMD-friendly and halves memory traffic.

The numpy functions here and in `shingles.py` / `minhash.py` are the reference and the
fallback; `numba_kernels()` gives the compiled kernels (`minhash_kernels.py`) that the batch
functions use when numba is importable.
"""

from __future__ import annotations

import threading
from types import ModuleType

import numpy as np
import polars as pl

from corpuskit import jit

MASK32 = 0xFFFFFFFF
WORD_BASE = 0x01000193  # odd: invertible mod 2**32 (the FNV prime)
NGRAM_MULT = 0x9E3779B1  # odd
LENGTH_MIX = 0x85EBCA77
TEXT_SEEDS = (0x5EED0001, 0x5EED0002)

_U32 = np.uint32


# ---------------------------------------------------------------- compiled kernels


def numba_kernels() -> ModuleType | None:
    """`corpuskit.dedup.minhash_kernels` (numba), or None to use the numpy code.

    None where numba does not import or the kernels fail to compile (with a warning), or
    where the environment sets CORPUSKIT_NUMBA=0. The first call in a process imports numba
    and loads (or compiles) the kernels; `LOAD_SECONDS` records what it took.
    """
    return jit.kernels("corpuskit.dedup.minhash_kernels")


# ---------------------------------------------------------------- mixing


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (a bijection that avalanches every input bit)."""
    h = h ^ (h >> _U32(16))
    h *= _U32(0x85EBCA6B)
    h ^= h >> _U32(13)
    h *= _U32(0xC2B2AE35)
    h ^= h >> _U32(16)
    return h


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer."""
    x = x ^ (x >> np.uint64(33))
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


def fmix32_py(h: int) -> int:
    h &= MASK32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK32
    return h ^ (h >> 16)


# ---------------------------------------------------------------- references (pure Python)


def word_value_py(word: str) -> int:
    """Token value of a word: a polynomial hash of its UTF-8 bytes, mixed with its length."""
    h, p = 0, 1
    data = word.encode("utf-8")
    for b in data:
        h = (h + b * p) & MASK32
        p = (p * WORD_BASE) & MASK32
    return fmix32_py(h ^ ((len(data) * LENGTH_MIX) & MASK32))


def char_value_py(char: str) -> int:
    """Token value of a character: its UTF-8 bytes read as a little-endian integer, mixed."""
    return fmix32_py(int.from_bytes(char.encode("utf-8"), "little"))


def ngram_hash_py(values: list[int]) -> int:
    """Hash of a token sequence (a shingle): Horner's rule mod 2**32, mixed with the length."""
    h = 0
    for v in values:
        h = (h * NGRAM_MULT + v) & MASK32
    return fmix32_py(h ^ ((len(values) * LENGTH_MIX) & MASK32))


# ---------------------------------------------------------------- whole texts


def text_hash_exprs(text: pl.Expr) -> list[pl.Expr]:
    """Two independent 64-bit hashes of each text (`h1`, `h2`): 128 bits for exact matching."""
    return [text.hash(seed=TEXT_SEEDS[0]).alias("h1"), text.hash(seed=TEXT_SEEDS[1]).alias("h2")]


# ---------------------------------------------------------------- byte buffers


class _Powers:
    """WORD_BASE**k and its inverse powers mod 2**32 for k < n, grown on demand.

    Shared by threads: both tables are swapped in as one tuple, so a reader never sees a
    new power table with an old (shorter) inverse table.
    """

    def __init__(self, base: int) -> None:
        self.base = base
        self.tables = (np.ones(0, dtype=np.uint32), np.ones(0, dtype=np.uint32))
        self._lock = threading.Lock()

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        tables = self.tables
        if len(tables[0]) >= n:
            return tables
        with self._lock:
            if len(self.tables[0]) < n:
                size = max(n, 2 * len(self.tables[0]), 1 << 16)
                self.tables = (
                    _power_table(self.base, size),
                    _power_table(pow(self.base, -1, 1 << 32), size),
                )
            return self.tables


def _power_table(base: int, n: int) -> np.ndarray:
    table = np.full(n, base, dtype=np.uint32)
    table[0] = 1
    return np.cumprod(table, dtype=np.uint32)  # wraps mod 2**32, which is the point


_WORD_POWERS = _Powers(WORD_BASE)


def word_values(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """`word_value_py` of every byte span data[starts[i]:ends[i]], from one prefix sum."""
    n = len(data)
    pw, inv = _WORD_POWERS.get(n + 1)
    prefix = np.zeros(n + 1, dtype=np.uint32)
    np.cumsum(data * pw[:n], out=prefix[1:], dtype=np.uint32)
    h = (prefix[ends] - prefix[starts]) * inv[starts]
    h ^= (ends - starts).astype(np.uint32) * _U32(LENGTH_MIX)
    return fmix32(h)


def ngram_hashes(values: np.ndarray, token_offsets: np.ndarray, n: int) -> np.ndarray:
    """`ngram_hash_py` of every shingle of every document, flat, in document order.

    Doc i owns tokens values[token_offsets[i]:token_offsets[i+1]]; its shingles are its
    windows of n tokens, or the whole token list when it has fewer (none when empty).
    Returns the hashes and the shingle offsets per document.
    """
    n_tokens = np.diff(token_offsets)
    counts = np.where(n_tokens >= n, n_tokens - n + 1, np.minimum(n_tokens, 1))
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = len(values)
    long_docs = n_tokens >= n
    short = np.flatnonzero((n_tokens > 0) & ~long_docs)
    # without short documents the kept windows are the output as they are
    out = None if not len(short) and total >= n else np.empty(int(offsets[-1]), np.uint32)
    if total >= n and long_docs.any():
        # every window of the flat token array, then drop those crossing a document end
        width = total - n + 1
        h = values[:width].copy()
        for j in range(1, n):
            h *= _U32(NGRAM_MULT)
            h += values[j : j + width]
        h ^= _U32((n * LENGTH_MIX) & MASK32)
        h = fmix32(h)
        keep = np.ones(width, dtype=bool)
        ends = token_offsets[1:]
        for j in range(1, n):  # windows starting j tokens before a document's end
            pos = ends - j
            keep[pos[(pos >= token_offsets[:-1]) & (pos < width)]] = False
        if out is None:
            return h[keep], offsets
        out[np.repeat(long_docs, counts)] = h[keep]
    if out is None:
        return np.zeros(0, dtype=np.uint32), offsets
    if len(short):
        first = token_offsets[short]
        m = n_tokens[short]
        h = values[first].copy()
        for j in range(1, int(m.max())):
            more = m > j
            h = np.where(more, h * _U32(NGRAM_MULT) + values[np.minimum(first + j, total - 1)], h)
        h ^= m.astype(np.uint32) * _U32(LENGTH_MIX)
        out[offsets[short]] = fmix32(h)
    return out, offsets
