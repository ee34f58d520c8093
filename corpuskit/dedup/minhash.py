"""MinHash signatures for a whole batch (a numba kernel, or numpy), and LSH band hashes.

The permutations are datasketch's default scheme ("affine32", datasketch >= 2.0): the
32-bit input hash is pre-mixed with MurmurHash3's 32-bit finalizer, then permutation k is
h -> a[k] * h + b[k] mod 2**32 with a[k] odd, drawn from `np.random.RandomState(seed)`
exactly as datasketch draws them. So a signature equals `datasketch.MinHash(num_perm,
seed, hashfunc=shingles.shingle_hash_py)` fed the same shingles, value for value.

Two implementations give the same values. `signatures` uses the numba kernel
(`kernels.minhash`: per document, its running minima stay in L1 while the shingles stream
by, fmix32 fused in) when numba imports; `signatures_numpy` is the reference and the
fallback. Vectorization there: the shingle hashes of a batch are one flat array, with
document offsets. For a block of up to BLOCK shingles, one outer product
`a[:, None] * h[None, :] + b` (perm-major, so each row is a contiguous SIMD loop) and one
`np.minimum.reduceat` along the rows give every permutation's minimum for every document
in the block; a document split across blocks takes the minimum of its pieces.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from corpuskit.dedup.hashing import fmix32, fmix64, numba_kernels

EMPTY = np.uint32(0xFFFFFFFF)  # signature value of a document without shingles
BLOCK = 16384  # shingles per outer product: 128 perms x 16k x 4 B = 8 MB of scratch


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (a odd, b), uint32, for `seed`."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.flags.writeable = False
    b.flags.writeable = False
    return a, b


def signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int = 1) -> np.ndarray:
    """MinHash signatures, perm-major: (num_perm, n_docs) uint32.

    `hashes` are the 32-bit shingle hashes (what a `hashfunc` gives datasketch), doc i
    owning hashes[offsets[i]:offsets[i+1]].
    A document without shingles gets EMPTY everywhere.
    """
    kernels = numba_kernels()
    if kernels is None:
        return signatures_numpy(hashes, offsets, num_perm, seed)
    a, b = permutations(num_perm, seed)
    out = np.empty((num_perm, len(offsets) - 1), dtype=np.uint32)
    kernels.minhash(
        np.ascontiguousarray(hashes, dtype=np.uint32),
        np.ascontiguousarray(offsets, dtype=np.int64),
        a,
        b,
        out,
    )
    return out


def signatures_numpy(
    hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int = 1
) -> np.ndarray:
    """`signatures` with numpy only (outer products in blocks): the reference."""
    a, b = permutations(num_perm, seed)
    n_docs = len(offsets) - 1
    out = np.full((num_perm, n_docs), EMPTY, dtype=np.uint32)
    total = int(offsets[-1]) if n_docs else 0
    if total == 0:
        return out
    x = fmix32(hashes.astype(np.uint32))
    a_col, b_col = a[:, None], b[:, None]
    buf = np.empty((num_perm, min(BLOCK, total)), dtype=np.uint32)
    for lo in range(0, total, BLOCK):
        hi = min(lo + BLOCK, total)
        d0 = int(np.searchsorted(offsets, lo, side="right")) - 1  # the doc holding shingle lo
        d1 = int(np.searchsorted(offsets, hi, side="left"))  # docs d0..d1-1 overlap the block
        seg = np.concatenate(([lo], offsets[d0 + 1 : d1])) - lo
        docs = np.arange(d0, d1)
        nonempty = np.diff(np.append(seg, hi - lo)) > 0  # reduceat needs non-empty segments
        seg, docs = seg[nonempty], docs[nonempty]
        block = buf[:, : hi - lo]
        np.multiply(a_col, x[None, lo:hi], out=block)
        block += b_col
        mins = np.minimum.reduceat(block, seg, axis=1)
        out[:, docs] = np.minimum(out[:, docs], mins)
    return out


def band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(bands, n_docs) uint64: one hash of each band's `rows` signature values."""
    n = sig.shape[1]
    out = np.empty((bands, n), dtype=np.uint64)
    for k in range(bands):
        h = np.full(n, np.uint64(0x27D4EB2F165667C5), dtype=np.uint64)
        for j in range(k * rows, (k + 1) * rows):
            h = (h ^ sig[j].astype(np.uint64)) * np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(29)
        out[k] = fmix64(h)
    return out


# ---------------------------------------------------------------- LSH parameters


def _gauss_legendre(lo: float, hi: float, n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(n)
    half = (hi - lo) / 2
    return lo + half * (x + 1), w * half


def false_positive_probability(threshold: float, b: int, r: int) -> float:
    """Integral over s in [0, t] of P(candidate | s) = 1 - (1 - s^r)^b (datasketch's FP)."""
    s, w = _gauss_legendre(0.0, threshold)
    return float(np.sum(w * (1 - (1 - s**r) ** b)))


def false_negative_probability(threshold: float, b: int, r: int) -> float:
    """Integral over s in [t, 1] of P(missed | s) = (1 - s^r)^b (datasketch's FN)."""
    s, w = _gauss_legendre(threshold, 1.0)
    return float(np.sum(w * (1 - s**r) ** b))


@lru_cache(maxsize=64)
def optimal_bands_rows(
    threshold: float,
    num_perm: int,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
) -> tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm minimizing the weighted FP + FN areas.

    The same search as datasketch's `MinHashLSH._optimal_param`; the integrals are exact
    here (Gauss-Legendre with 256 nodes integrates these polynomials of degree <= b*r
    exactly for num_perm <= 511) where datasketch uses scipy's adaptive quadrature.
    """
    s_lo, w_lo = _gauss_legendre(0.0, threshold)
    s_hi, w_hi = _gauss_legendre(threshold, 1.0)
    best, opt = float("inf"), (1, 1)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = np.sum(w_lo * (1 - (1 - s_lo**r) ** b))
            fn = np.sum(w_hi * (1 - s_hi**r) ** b)
            err = fp * false_positive_weight + fn * false_negative_weight
            if err < best:
                best, opt = err, (b, r)
    return opt
