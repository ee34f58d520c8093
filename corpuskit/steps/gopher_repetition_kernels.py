"""numba kernel for gopher_repetition's word n-gram statistics, one pass per document.

`_NGrams` (Polars) in `gopher_repetition.py` is the reference: this kernel computes the same
values from the same token hashes (tests compare them on real English and Chinese text) and
is what gopher_repetition uses when numba imports.

Why: the Polars path builds a shifted hash column per n, then a group_by (top n-grams) or an
is_first_distinct + rolling max + group_by (covered characters) over the whole batch for each
of the nine n, and finishes the few documents a bound cannot settle with a Python loop. Here a
document's n-gram hashes live in one small array updated in place from n to n + 1, and a
per-document open-addressing table (cleared by a generation stamp, not by zeroing) answers
"seen before?" for every statistic.

Importing this module imports numba and compiles the kernel, or with `cache=True` loads it
from numba's on-disk cache (next to this file, or numba's user cache directory where that is
read-only); gopher_repetition does that in `setup()`. `LOAD_SECONDS` records what it took.
"""

from __future__ import annotations

import time

_t0 = time.perf_counter()

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

_U64 = np.uint64
_ROW_MIX = np.uint64(0x9E3779B97F4A7C15)
_GRAM_MUL = np.uint64(0x100000001B3)
_SLOT_MUL = np.uint64(0x9E3779B97F4A7C15)
_OPTS = {"cache": True, "nogil": True}


@njit(**_OPTS)
def _find(keys, stamps, stamp, mask, shift, key):
    """Slot of `key` in the table: where it is, or the empty slot where it would go."""
    slot = np.int64((key * _SLOT_MUL) >> shift) & mask
    while stamps[slot] == stamp and keys[slot] != key:
        slot = (slot + 1) & mask
    return slot


@njit(**_OPTS)
def ngram_stats(h, lens, offsets, rows, sep, length, todo, top_ns, dup_ns, dup_fracs, top, dup):
    """Per document d with todo[d]: tokens offsets[d]:offsets[d + 1] (hashes `h`, lengths
    `lens`), batch row rows[d], separator width sep[d], text length length[d]. Fills:

    top[d, k]: datatrove's find_top_duplicate for n = top_ns[k] over the text length: count
    x characters (joining separators included) of the most frequent n-gram, ties to the first
    seen; 0 without an n-gram.
    dup[d, k]: for n = dup_ns[k] and threshold dup_fracs[k], what `_NGrams.duplicated` gives:
    the characters of words covered by repeated min(n, 5)-grams over the length where that is
    at most the threshold; else, for n > 5, the characters covered by repeated n-grams where
    that is at most the threshold; else datatrove's greedy find_all_duplicate. 0 without an
    n-gram.

    Hashes are mixed as the reference mixes them (row into the word hash, then
    g(n) = g(n - 1) * 0x100000001B3 + word), so both paths see the same n-gram identities.
    """
    n_docs = offsets.shape[0] - 1
    most = 1
    for d in range(n_docs):
        if todo[d]:
            most = max(most, offsets[d + 1] - offsets[d])
    bits = 2
    while (1 << bits) < 2 * most:
        bits += 1
    mask = np.int64((1 << bits) - 1)
    shift = _U64(64 - bits)
    keys = np.zeros(1 << bits, dtype=np.uint64)
    stamps = np.zeros(1 << bits, dtype=np.int64)
    counts = np.zeros(1 << bits, dtype=np.int64)
    firsts = np.zeros(1 << bits, dtype=np.int64)
    max_n = 1
    for k in range(top_ns.shape[0]):
        max_n = max(max_n, top_ns[k])
    for k in range(dup_ns.shape[0]):
        max_n = max(max_n, dup_ns[k])
    want_top = np.zeros(max_n + 1, dtype=np.bool_)
    for k in range(top_ns.shape[0]):
        want_top[top_ns[k]] = True
    want_cover = np.zeros(max_n + 1, dtype=np.bool_)
    for k in range(dup_ns.shape[0]):
        want_cover[dup_ns[k]] = True
        want_cover[min(dup_ns[k], 5)] = True
    grams = np.zeros(most, dtype=np.uint64)
    widths = np.zeros(most, dtype=np.int64)
    slot_of = np.zeros(most, dtype=np.int64)
    repeat = np.zeros(most, dtype=np.bool_)
    cover = np.zeros(max_n + 1)
    stamp = 0
    for d in range(n_docs):
        if not todo[d]:
            continue
        a = offsets[d]
        nw = offsets[d + 1] - a
        mix = _U64(rows[d]) * _ROW_MIX
        big = length[d]
        for i in range(nw):
            grams[i] = h[a + i] + mix
            widths[i] = lens[a + i]
        for k in range(top_ns.shape[0]):
            top[d, k] = 0.0
        for k in range(dup_ns.shape[0]):
            dup[d, k] = 0.0
        for n in range(1, max_n + 1):
            m = max(nw - n + 1, 0)  # no n-gram: every statistic of this n is 0
            if n > 1:
                for i in range(m):
                    grams[i] = grams[i] * _GRAM_MUL + (h[a + i + n - 1] + mix)
                    widths[i] += lens[a + i + n - 1]
            # a table pass: for a top n-gram, for the covered characters of n <= 5, and for
            # an n > 5 only where repeated 5-grams cover more than its threshold
            need = want_top[n] or (want_cover[n] and n <= 5)
            if n > 5:
                for k in range(dup_ns.shape[0]):
                    if dup_ns[k] == n:
                        if cover[5] > dup_fracs[k]:
                            need = True
                        else:
                            dup[d, k] = cover[5]
            if not need:
                continue
            stamp += 1
            for i in range(m):
                s = _find(keys, stamps, stamp, mask, shift, grams[i])
                slot_of[i] = s
                if stamps[s] == stamp:
                    counts[s] += 1
                    repeat[i] = True
                else:
                    stamps[s] = stamp
                    keys[s] = grams[i]
                    counts[s] = 1
                    firsts[s] = i
                    repeat[i] = False
            if want_top[n] and m > 0:
                best_cnt = 1
                best_pos = 0
                for i in range(m):
                    s = slot_of[i]
                    if firsts[s] == i and counts[s] > best_cnt:
                        best_cnt = counts[s]
                        best_pos = i
                width = widths[best_pos] + (n - 1) * sep[d]
                for k in range(top_ns.shape[0]):
                    if top_ns[k] == n:
                        top[d, k] = (width * best_cnt) / big
            if want_cover[n]:
                chars = 0
                until = 0
                for i in range(nw):
                    if i < m and repeat[i]:
                        until = i + n
                    if i < until:
                        chars += lens[a + i]
                cover[n] = chars / big
            for k in range(dup_ns.shape[0]):
                if dup_ns[k] != n:
                    continue
                frac = dup_fracs[k]
                if cover[min(n, 5)] <= frac:
                    dup[d, k] = cover[min(n, 5)]
                elif n > 5 and cover[n] <= frac:
                    dup[d, k] = cover[n]
                else:
                    # datatrove's find_all_duplicate: skip n words after a repeated n-gram
                    stamp += 1
                    repeated = 0
                    i = 0
                    while i < m:
                        s = _find(keys, stamps, stamp, mask, shift, grams[i])
                        if stamps[s] == stamp:
                            repeated += widths[i]
                            i += n
                        else:
                            stamps[s] = stamp
                            keys[s] = grams[i]
                            i += 1
                    dup[d, k] = repeated / big
    return top, dup


def warm() -> None:
    """Run the kernel once on a tiny input (compiles or loads it for these argument types)."""
    h = np.array([1, 2, 1, 2, 1, 2], dtype=np.uint64)
    lens = np.ones(6, dtype=np.int64)
    ngram_stats(
        h,
        lens,
        np.array([0, 6], dtype=np.int64),
        np.zeros(1, dtype=np.int64),
        np.ones(1, dtype=np.int64),
        np.array([11.0]),
        np.ones(1, dtype=np.bool_),
        np.array([2], dtype=np.int64),
        np.array([5, 6], dtype=np.int64),
        np.array([0.15, 0.14]),
        np.zeros((1, 1)),
        np.zeros((1, 2)),
    )


warm()
LOAD_SECONDS = time.perf_counter() - _t0  # numba import plus compile or cache load
