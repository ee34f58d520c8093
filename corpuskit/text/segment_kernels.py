"""numba kernels for the segmenter's spaced path: chunks, their distinct keys, the token table.

`corpuskit.text.segment` keeps the Polars path (`str.extract_all` of the chunks, a join with the
chunk -> tokens mapping) as the reference; these kernels give the same token table (tests
compare them on real and generated text) and are what `Segmenter` uses when numba imports.

Why: on a batch of English documents the Polars path spent most of its time exploding
every whitespace-free chunk into its own string, hashing it, finding the distinct ones and
joining their tokens back, although most chunks were seen before. Here one pass over the
UTF-8 bytes finds the chunks (with their line numbers and a 64-bit key of their bytes), a
per-batch hash table finds the distinct keys, a per-process hash table (the chunk index)
finds their tokens in a per-process store of every distinct chunk's tokens, and the token
table is copied out of that store: only chunks never seen before become Python strings.

Whitespace and line breaks are Python's (`str.split()` / `str.splitlines()`), as the
reference's regexes have them: whitespace is Unicode White_Space plus \\x1c-\\x1f; a line
ends at \\n, \\r\\n, \\r, \\x0b, \\x0c, \\x1c, \\x1d, \\x1e, \\x85, \\u2028 or \\u2029.

Importing this module imports numba and compiles the kernels, or with `cache=True` loads
them from numba's on-disk cache; `LOAD_SECONDS` records what it took.
"""

from __future__ import annotations

import time

_t0 = time.perf_counter()

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

_OPTS = {"cache": True, "nogil": True}
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_SLOT_MUL = np.uint64(0x9E3779B97F4A7C15)


# Byte classes: 0 part of a chunk, 1 whitespace, 2 a line break, 3 "\r" (with "\n" after
# it one line break), 4 the lead byte of a multi-byte character that may be whitespace.
_CLASS = np.zeros(256, dtype=np.uint8)
_CLASS[[0x09, 0x1F, 0x20]] = 1
_CLASS[[0x0A, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E]] = 2
_CLASS[0x0D] = 3
_CLASS[[0xC2, 0xE1, 0xE2, 0xE3]] = 4


@njit(inline="always", **_OPTS)
def _wide_space(data, i, end):
    """(width, is_line_break) of the multi-byte whitespace character at data[i], or (0, 0)."""
    b = data[i]
    if b == 0xC2:
        if i + 1 < end:
            c = data[i + 1]
            if c == 0x85:
                return 2, 1
            if c == 0xA0:
                return 2, 0
        return 0, 0
    if i + 2 >= end:
        return 0, 0
    c = data[i + 1]
    d = data[i + 2]
    if b == 0xE1:
        if c == 0x9A and d == 0x80:
            return 3, 0
    elif b == 0xE2:
        if c == 0x80:
            if d <= 0x8A or d == 0xAF:
                return 3, 0
            if d == 0xA8 or d == 0xA9:
                return 3, 1
        elif c == 0x81 and d == 0x9F:
            return 3, 0
    elif c == 0x80 and d == 0x80:  # 0xE3: U+3000
        return 3, 0
    return 0, 0


@njit(inline="always", **_OPTS)
def _space(data, i, end, cls):
    """(width, is_line_break) of the whitespace character at data[i], or (0, 0)."""
    k = cls[data[i]]
    if k == 0:
        return 0, 0
    if k == 1:
        return 1, 0
    if k == 2:
        return 1, 1
    if k == 3:
        if i + 1 < end and data[i + 1] == 0x0A:
            return 2, 1  # \r\n: one line break
        return 1, 1
    return _wide_space(data, i, end)


@njit(inline="always", **_OPTS)
def _fmix64(h):
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


@njit(**_OPTS)
def scan_chunks(data, offsets, docs, first_line, cls, row, line, start, stop, key):
    """The whitespace-free chunks of documents `docs` (indices into offsets), in order.

    Writes, per chunk: its document, its line (first_line[document] plus the line breaks
    before it), its byte range and a 64-bit key of its bytes (FNV-1a, finalized); the
    output arrays must have room for every chunk (one per byte is enough).
    `cls` is _CLASS. Returns the number of chunks."""
    n = 0
    for di in range(docs.shape[0]):
        d = docs[di]
        i = offsets[d]
        end = offsets[d + 1]
        ln = first_line[d]
        while i < end:
            if cls[data[i]]:
                w, brk = _space(data, i, end, cls)
                if w:
                    ln += brk
                    i += w
                    continue
            a = i
            h = _FNV_OFFSET
            while i < end:
                b = data[i]
                if cls[b] and _space(data, i, end, cls)[0]:
                    break
                h = (h ^ np.uint64(b)) * _FNV_PRIME
                i += 1
            row[n] = d
            line[n] = ln
            start[n] = a
            stop[n] = i
            key[n] = _fmix64(h ^ np.uint64(i - a))
            n += 1
    return n


@njit(**_OPTS)
def distinct(key, inverse):
    """Number each distinct key by first appearance: inverse[j] is key[j]'s number. Returns
    the index of each distinct key's first appearance."""
    n = key.shape[0]
    bits = 4
    while (1 << bits) < 2 * n:
        bits += 1
    mask = np.int64((1 << bits) - 1)
    shift = np.uint64(64 - bits)
    slots = np.full(1 << bits, -1, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    m = 0
    for j in range(n):
        k = key[j]
        s = np.int64((k * _SLOT_MUL) >> shift) & mask
        while slots[s] >= 0 and key[first[slots[s]]] != k:
            s = (s + 1) & mask
        if slots[s] < 0:
            slots[s] = m
            first[m] = j
            m += 1
        inverse[j] = slots[s]
    return first[:m]


@njit(inline="always", **_OPTS)
def _probe(table_key, table_slot, k):
    """The position of key k in an open-addressing table (power-of-two size, linear
    probing, slot -1 empty): where it is, or the empty position where it would go."""
    size = table_key.shape[0]
    bits = 0
    while (1 << bits) < size:
        bits += 1
    mask = np.int64(size - 1)
    s = np.int64((k * _SLOT_MUL) >> np.uint64(64 - bits)) & mask
    while table_slot[s] >= 0 and table_key[s] != k:
        s = (s + 1) & mask
    return s


@njit(**_OPTS)
def index_find(table_key, table_slot, keys, out):
    """out[j]: the store slot of chunk key keys[j] in the per-process chunk index, or -1."""
    for j in range(keys.shape[0]):
        out[j] = table_slot[_probe(table_key, table_slot, keys[j])]


@njit(**_OPTS)
def index_add(table_key, table_slot, keys, slots):
    """Enter keys[j] -> slots[j] in the chunk index (the table must have room)."""
    for j in range(keys.shape[0]):
        s = _probe(table_key, table_slot, keys[j])
        table_key[s] = keys[j]
        table_slot[s] = slots[j]


@njit(**_OPTS)
def gather_bytes(data, start, stop):
    """The byte ranges concatenated, and their offsets: an Arrow string array's buffers."""
    n = start.shape[0]
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    for j in range(n):
        offsets[j + 1] = offsets[j] + stop[j] - start[j]
    out = np.empty(offsets[n], dtype=np.uint8)
    for j in range(n):
        out[offsets[j] : offsets[j + 1]] = data[start[j] : stop[j]]
    return out, offsets


@njit(**_OPTS)
def expand(slot, row, line, chunk_start, chunk_count, tok_h, tok_len, tok_flags, out_row,
           out_line, out_h, out_len, out_flags):  # fmt: skip
    """Each chunk's tokens from the store (chunk j is store slot slot[j]), in order."""
    t = 0
    for j in range(slot.shape[0]):
        s = slot[j]
        a = chunk_start[s]
        for k in range(a, a + chunk_count[s]):
            out_row[t] = row[j]
            out_line[t] = line[j]
            out_h[t] = tok_h[k]
            out_len[t] = tok_len[k]
            out_flags[t] = tok_flags[k]
            t += 1
    return t


@njit(**_OPTS)
def sentence_boundaries(slot, row, line, chunk_start, chunk_count, tok_flags, sent_end, punct,
                        out):  # fmt: skip
    """out[row] += the sentencizer's boundaries in each line: words (flags without `punct`
    and `sent_end`) with a `sent_end` token between them and the line's previous word or
    start. Chunks in text order (chunk j is store slot slot[j]); a line is (row, line)."""
    seen = False
    cur_row = -1
    cur_line = -1
    for j in range(slot.shape[0]):
        if row[j] != cur_row or line[j] != cur_line:
            cur_row = row[j]
            cur_line = line[j]
            seen = False
        s = slot[j]
        a = chunk_start[s]
        for k in range(a, a + chunk_count[s]):
            f = tok_flags[k]
            if f & sent_end:
                seen = True
            elif (f & punct) == 0:
                if seen:
                    out[cur_row] += 1
                seen = False


@njit(**_OPTS)
def word_sums(slot, row, chunk_start, chunk_count, tok_len, tok_flags, nonsym, alpha, member,
              out_n, out_ns, out_ns_len, out_alpha):  # fmt: skip
    """Per row (out_*[row]): tokens, tokens with `nonsym` and their length, tokens with
    `alpha`, over each chunk's tokens in the store (chunk j is store slot slot[j]).
    Returns the number of tokens with member[token] set."""
    m = 0
    for j in range(slot.shape[0]):
        s = slot[j]
        r = row[j]
        a = chunk_start[s]
        for k in range(a, a + chunk_count[s]):
            f = tok_flags[k]
            out_n[r] += 1
            if f & nonsym:
                out_ns[r] += 1
                out_ns_len[r] += tok_len[k]
            if f & alpha:
                out_alpha[r] += 1
            if member[k]:
                m += 1
    return m


@njit(**_OPTS)
def expand_members(slot, row, chunk_start, chunk_count, tok_h, tok_len, tok_flags, member,
                   out_row, out_h, out_len, out_flags):  # fmt: skip
    """`expand` of the tokens with member[token] set only (row, h, len, flags)."""
    t = 0
    for j in range(slot.shape[0]):
        s = slot[j]
        a = chunk_start[s]
        for k in range(a, a + chunk_count[s]):
            if member[k]:
                out_row[t] = row[j]
                out_h[t] = tok_h[k]
                out_len[t] = tok_len[k]
                out_flags[t] = tok_flags[k]
                t += 1
    return t


@njit(**_OPTS)
def word_counts(data, offsets, cls, out):
    """out[d]: the whitespace-separated words of text d (Python's `len(text.split())`)."""
    for d in range(offsets.shape[0] - 1):
        i = offsets[d]
        end = offsets[d + 1]
        n = 0
        inside = False
        while i < end:
            w = _space(data, i, end, cls)[0] if cls[data[i]] else 0
            if w:
                inside = False
                i += w
            else:
                if not inside:
                    n += 1
                    inside = True
                i += 1
        out[d] = n


def chunks(data: np.ndarray, offsets: np.ndarray, docs: np.ndarray, first_line: np.ndarray):
    """(row, line, start, stop, key) arrays of the chunks of documents `docs`."""
    size = int(offsets[-1] - offsets[0]) + 1  # a chunk has at least one byte
    row = np.empty(size, dtype=np.int64)
    line = np.empty(size, dtype=np.int64)
    start = np.empty(size, dtype=np.int64)
    stop = np.empty(size, dtype=np.int64)
    key = np.empty(size, dtype=np.uint64)
    n = scan_chunks(data, offsets, docs, first_line, _CLASS, row, line, start, stop, key)
    return row[:n], line[:n], start[:n], stop[:n], key[:n]


def warm() -> None:
    """Run every kernel once on a tiny input (compiles or loads them)."""
    data = np.frombuffer("a b\r\nc\u2028d\xa0e".encode(), dtype=np.uint8)
    offsets = np.array([0, data.size], dtype=np.int64)
    row, line, start, stop, key = chunks(data, offsets, np.zeros(1, dtype=np.int64),
                                         np.zeros(1, dtype=np.int64))  # fmt: skip
    inverse = np.empty(key.size, dtype=np.int64)
    first = distinct(key, inverse)
    gather_bytes(data, start[first], stop[first])
    word_counts(data, offsets, _CLASS, np.empty(1, dtype=np.uint32))
    table_key = np.zeros(16, dtype=np.uint64)
    table_slot = np.full(16, -1, dtype=np.int64)
    index_add(table_key, table_slot, key[first], np.arange(first.size, dtype=np.int64))
    index_find(table_key, table_slot, key, np.empty(key.size, dtype=np.int64))
    n = row.size
    ones = np.ones(n, dtype=np.int64)
    z = np.zeros(1, dtype=np.int64)
    member = np.ones(n, dtype=np.bool_)
    word_sums(inverse, row, np.arange(n, dtype=np.int64), ones, np.zeros(n, dtype=np.uint32),
              np.zeros(n, dtype=np.uint8), 1, 2, member, z, z.copy(), z.copy(),
              z.copy())  # fmt: skip
    expand_members(inverse, row, np.arange(n, dtype=np.int64), ones, np.zeros(n, dtype=np.uint64),
                   np.zeros(n, dtype=np.uint32), np.zeros(n, dtype=np.uint8), member,
                   np.empty(n, dtype=np.uint32), np.empty(n, dtype=np.uint64),
                   np.empty(n, dtype=np.uint32), np.empty(n, dtype=np.uint8))  # fmt: skip
    sentence_boundaries(inverse, row, line, np.arange(n, dtype=np.int64), ones,
                        np.zeros(n, dtype=np.uint8), 8, 4, np.zeros(1, dtype=np.int64))  # fmt: skip
    expand(inverse, row, line, np.arange(n, dtype=np.int64), ones,
           np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint32),
           np.zeros(n, dtype=np.uint8), np.empty(n, dtype=np.uint32),
           np.empty(n, dtype=np.uint32), np.empty(n, dtype=np.uint64),
           np.empty(n, dtype=np.uint32), np.empty(n, dtype=np.uint8))  # fmt: skip


warm()
LOAD_SECONDS = time.perf_counter() - _t0  # numba import plus compile or cache load
