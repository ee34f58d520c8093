"""numba kernels for shingling and MinHash: one pass per document, in cache.

The numpy code in `shingles.py`, `hashing.py` and `minhash.py` is the reference; these
kernels give the same values (tests compare them on real and generated text) and are what
`shingle_batch` and `signatures` use when numba imports (see `hashing.numba_kernels`).

Why: the numpy signature kernel makes three memory passes over a (num_perm x block)
scratch (multiply, add, minimum.reduceat), and shingling makes a dozen passes over the
batch's bytes and tokens. Here a document's 128 running minima stay in L1 while its
shingles stream by (eight shingles per pass over the permutations, so the loads of a, b
and the minima are shared; LLVM vectorizes the permutation loop), and shingling walks the
UTF-8 bytes once (by character or by byte), writing token values, then hashes each
document's n-grams in n vectorized passes over its windows.

Every function has one explicit signature, so importing this module compiles them, or with
`cache=True` loads them from numba's on-disk cache (next to this file, or numba's user
cache directory where that is read-only). A process pays that once, on first use; `LOAD_SECONDS`
records what it took. `nogil=True`: the dedup fit runs batches in threads.
"""

from __future__ import annotations

import time

_t0 = time.perf_counter()

import numpy as np  # noqa: E402
from numba import njit, types  # noqa: E402

from corpuskit.dedup.hashing import LENGTH_MIX, NGRAM_MULT, WORD_BASE  # noqa: E402

_U32 = np.uint32
_U64 = np.uint64
_MASK = np.uint64(0xFFFFFFFF)
_EMPTY = np.uint32(0xFFFFFFFF)


def _ro(dtype: types.Type, ndim: int = 1) -> types.Array:
    return types.Array(dtype, ndim, "C", readonly=True)


_BYTES = _ro(types.uint8)
_OFFSETS = _ro(types.int64)
_HASHES = _ro(types.uint32)
_MASKS = _ro(types.boolean)
_OPTS = {"cache": True, "nogil": True}


@njit(inline="always", **_OPTS)
def _fmix32(h):
    """MurmurHash3's 32-bit finalizer of the low 32 bits of h."""
    x = _U32(h & _MASK)
    x ^= x >> _U32(16)
    x = _U32(x * _U32(0x85EBCA6B))
    x ^= x >> _U32(13)
    x = _U32(x * _U32(0xC2B2AE35))
    x ^= x >> _U32(16)
    return x


@njit(inline="always", **_OPTS)
def _space_len(data, p):
    """Byte length of the space character at data[p], 0 if it is not a space.

    Spaces: bytes <= 0x20, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
    U+205F, U+3000 (what `shingles.is_space_py` calls space among valid UTF-8).
    """
    b0 = data[p]
    if b0 <= 0x20:
        return 1
    if b0 != 0xC2 and (b0 < 0xE1 or b0 > 0xE3):
        return 0
    n = data.shape[0]
    b1 = data[p + 1] if p + 1 < n else 0
    if b0 == 0xC2:
        return 2 if b1 == 0x85 or b1 == 0xA0 else 0
    b2 = data[p + 2] if p + 2 < n else 0
    if b0 == 0xE1:
        return 3 if b1 == 0x9A and b2 == 0x80 else 0
    if b0 == 0xE3:
        return 3 if b1 == 0x80 and b2 == 0x80 else 0
    if b1 == 0x80 and (b2 <= 0x8A or b2 == 0xA8 or b2 == 0xA9 or b2 == 0xAF):
        return 3
    if b1 == 0x81 and b2 == 0x9F:
        return 3
    return 0


@njit(inline="always", **_OPTS)
def _char_len(b0):
    return 1 + (b0 >= 0xC0) + (b0 >= 0xE0) + (b0 >= 0xF0)


@njit(inline="always", **_OPTS)
def _word_tokens(data, lo, hi, lowercase, values, t):
    """Values of the words of data[lo:hi] (`word_value_py`) into values[t:]; the new end."""
    i = lo
    while i < hi:
        s = _space_len(data, i)
        if s:
            i += s
            continue
        start = i
        h = _U64(0)
        p = _U64(1)
        while i < hi:
            b = data[i]
            if (b <= 0x20 or b == 0xC2 or 0xE1 <= b <= 0xE3) and _space_len(data, i):
                break
            if lowercase and b >= 0x41 and b <= 0x5A:
                b += 32
            h += _U64(b) * p
            p *= _U64(WORD_BASE)
            i += 1
        length = _U64(i - start)
        values[t] = _fmix32(h ^ (length * _U64(LENGTH_MIX)))
        t += 1
    return t


@njit(inline="always", **_OPTS)
def _char_tokens(data, lo, hi, lowercase, values, t):
    """Values of the non-space characters of data[lo:hi] (`char_value_py`); the new end."""
    n = data.shape[0]
    i = lo
    while i < hi:
        b0 = data[i]
        if 0x80 <= b0 < 0xC0:  # not a character start (never in valid UTF-8)
            i += 1
            continue
        s = _space_len(data, i)
        if s:
            i += s
            continue
        length = _char_len(b0)
        raw = _U64(b0)
        for k in range(1, length):
            if i + k < n:
                raw |= _U64(data[i + k]) << _U64(8 * k)
        if lowercase and raw >= 0x41 and raw <= 0x5A:
            raw += _U64(32)
        values[t] = _fmix32(raw)
        t += 1
        i += length
    return t


@njit(
    types.Tuple((types.uint32[::1], types.int64[::1]))(
        _BYTES, _OFFSETS, _MASKS, types.int64, types.int64, types.boolean
    ),
    **_OPTS,
)
def shingle_hashes(data, offsets, char_docs, word_n, char_n, lowercase):
    """Shingle hashes of every document and their offsets (`shingles.Shingles`).

    Doc i is data[offsets[i]:offsets[i+1]], cut into characters where char_docs[i], else
    into words (ASCII case folded when `lowercase`; Unicode folding happens before), then
    into n-grams hashed as `ngram_hash_py` (one shingle of all tokens when fewer than n).
    """
    n_docs = offsets.shape[0] - 1
    values = np.empty(data.shape[0], np.uint32)  # a token has at least one byte
    tok = np.zeros(n_docs + 1, np.int64)
    t = 0
    for d in range(n_docs):
        if char_docs[d]:
            t = _char_tokens(data, offsets[d], offsets[d + 1], lowercase, values, t)
        else:
            t = _word_tokens(data, offsets[d], offsets[d + 1], lowercase, values, t)
        tok[d + 1] = t
    out_off = np.zeros(n_docs + 1, np.int64)
    for d in range(n_docs):
        m = tok[d + 1] - tok[d]
        n = char_n if char_docs[d] else word_n
        out_off[d + 1] = out_off[d] + (m - n + 1 if m >= n else min(m, 1))
    out = np.empty(out_off[n_docs], np.uint32)
    for d in range(n_docs):
        first, m = tok[d], tok[d + 1] - tok[d]
        n = char_n if char_docs[d] else word_n
        o = out_off[d]
        if m >= n:  # n passes over the document's windows (in L1; each pass vectorizes)
            width = m - n + 1
            win = out[o : o + width]
            win[:] = values[first : first + width]
            for j in range(1, n):
                src = values[first + j : first + j + width]
                for w in range(width):
                    win[w] = _U32(win[w] * _U32(NGRAM_MULT) + src[w])
            mix = _U32(_U32(n) * _U32(LENGTH_MIX))
            for w in range(width):
                win[w] = _fmix32(_U64(win[w] ^ mix))
        elif m > 0:
            h = _U64(0)
            for j in range(m):
                h = h * _U64(NGRAM_MULT) + _U64(values[first + j])
            out[o] = _fmix32(h ^ (_U64(m) * _U64(LENGTH_MIX)))
    return out, out_off


@njit(types.void(_HASHES, _OFFSETS, _HASHES, _HASHES, types.uint32[:, ::1]), **_OPTS)
def minhash(hashes, offsets, a, b, out):
    """out[k, d] = min over doc d's shingle hashes h of a[k] * fmix32(h) + b[k] mod 2**32.

    EMPTY (0xFFFFFFFF) for a document without shingles, as `minhash.signatures_numpy`.
    """
    num_perm = a.shape[0]
    sig = np.empty(num_perm, np.uint32)
    for d in range(offsets.shape[0] - 1):
        sig[:] = _EMPTY
        i, hi = offsets[d], offsets[d + 1]
        while i + 8 <= hi:  # eight shingles per pass: a, b and the minima loaded once
            x0 = _fmix32(_U64(hashes[i]))
            x1 = _fmix32(_U64(hashes[i + 1]))
            x2 = _fmix32(_U64(hashes[i + 2]))
            x3 = _fmix32(_U64(hashes[i + 3]))
            x4 = _fmix32(_U64(hashes[i + 4]))
            x5 = _fmix32(_U64(hashes[i + 5]))
            x6 = _fmix32(_U64(hashes[i + 6]))
            x7 = _fmix32(_U64(hashes[i + 7]))
            for k in range(num_perm):
                ak, bk = a[k], b[k]
                m0 = min(_U32(ak * x0 + bk), _U32(ak * x1 + bk))
                m1 = min(_U32(ak * x2 + bk), _U32(ak * x3 + bk))
                m2 = min(_U32(ak * x4 + bk), _U32(ak * x5 + bk))
                m3 = min(_U32(ak * x6 + bk), _U32(ak * x7 + bk))
                sig[k] = min(sig[k], min(min(m0, m1), min(m2, m3)))
            i += 8
        while i < hi:
            x = _fmix32(_U64(hashes[i]))
            for k in range(num_perm):
                sig[k] = min(sig[k], _U32(a[k] * x + b[k]))
            i += 1
        for k in range(num_perm):
            out[k, d] = sig[k]


@njit(inline="always", **_OPTS)
def _script_byte(b0, b1, b2):
    """(unspaced-script character?, letter?) for the byte b0 followed by b1, b2.

    Continuation bytes and ASCII spaces are neither, so every byte can be looked at
    independently (the loop vectorizes); of the multi-byte spaces only U+1680 and U+3000
    would count, and are excluded.
    """
    e1, e3 = b0 == 0xE1, b0 == 0xE3
    space = (e1 & (b1 == 0x9A) & (b2 == 0x80)) | (e3 & (b1 == 0x80) & (b2 == 0x80))
    hit = (
        ((b0 >= 0xE3) & (b0 <= 0xE9))
        | ((b0 == 0xE0) & (b1 >= 0xB8))
        | (e1 & ((b1 <= 0x82) | (b1 == 0x9E) | (b1 == 0x9F)))
    )
    low = b0 | 0x20
    letter = hit | ((low >= 0x61) & (low <= 0x7A)) | ((b0 >= 0xC3) & (b0 != 0xE2) & (b0 != 0xEF))
    keep = np.int32(1) - np.int32(space)
    return np.int32(hit) * keep, np.int32(letter) * keep


@njit(types.UniTuple(types.int64[::1], 2)(_BYTES, _OFFSETS), **_OPTS)
def script_counts(data, offsets):
    """Per document: (unspaced-script characters, letters), as `shingles.unspaced_share`."""
    n_docs = offsets.shape[0] - 1
    n = data.shape[0]
    hits = np.zeros(n_docs, np.int64)
    letters = np.zeros(n_docs, np.int64)
    for d in range(n_docs):
        lo, hi = offsets[d], offsets[d + 1]
        end = max(lo, min(hi, n - 2))  # below it, b1 and b2 are in the buffer
        h = np.int64(0)
        c = np.int64(0)
        a0, a1, a2 = data[lo:end], data[lo + 1 : end + 1], data[lo + 2 : end + 2]
        for i in range(end - lo):  # slices: no index wraparound checks, so it vectorizes
            x, y = _script_byte(np.int32(a0[i]), np.int32(a1[i]), np.int32(a2[i]))
            h += x
            c += y
        for i in range(end, hi):
            b1 = np.int32(data[i + 1]) if i + 1 < n else np.int32(0)
            b2 = np.int32(data[i + 2]) if i + 2 < n else np.int32(0)
            x, y = _script_byte(np.int32(data[i]), b1, b2)
            h += x
            c += y
        hits[d] = h
        letters[d] = c
    return hits, letters


@njit(types.boolean[::1](_BYTES, _OFFSETS, _MASKS, _MASKS), **_OPTS)
def needs_lower(data, offsets, docs, cased):
    """Per document (only where docs[i]): holds a character with case beyond ASCII.

    `cased` is indexed by first byte << 8 | second byte (`shingles._CASED`).
    """
    n_docs = offsets.shape[0] - 1
    n = data.shape[0]
    out = np.zeros(n_docs, np.bool_)
    for d in range(n_docs):
        if not docs[d]:
            continue
        for i in range(offsets[d], offsets[d + 1]):
            b0 = data[i]
            if b0 >= 0xC3:
                nxt = data[i + 1] if i + 1 < n else 0
                if cased[(np.int64(b0) << 8) | np.int64(nxt)]:
                    out[d] = True
                    break
    return out


LOAD_SECONDS = time.perf_counter() - _t0  # numba import plus compile or cache load
