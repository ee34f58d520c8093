"""numba twin of `corpuskit.text.paragraphs`: lines, their features, joins and headlines in
one scan per document.

`paragraphs.py` keeps the Polars reference (a (document, line) table, a regex per
feature); this module gives the same `Paragraphs` (tests compare both on real corpora and
on generated text) and is what `paragraphs()` uses where numba imports. Why: the three
line steps (remove_boilerplate_lines, c4_quality, fineweb_quality) each find the
paragraphs of their batch, and the table (an explode, a sort, a dozen window expressions
and regexes per line) cost about 0.08 CPU-seconds per 2,000 English documents each time,
a fifth of the filter set's time.

Every regex of the reference is written out as a scanner over the document's code points
(the comments give the regex). Unicode properties (White_Space, letters, upper-case
letters, decimal digits, word characters, East Asian wide) come from a table per code
point read from Polars' own regex engine, so both sides use one Unicode version.
Arithmetic follows the reference's dtypes: the title-case counts are UInt32 in Polars and
wrap on subtraction, widths compare as float64.

Importing this module imports numba and compiles the kernels, or with `cache=True` loads
them from numba's on-disk cache.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

from corpuskit.text.chars import char_class, regex_members

_OPTS = {"cache": True, "nogil": True}

# bits of the per-code-point table
WS, WIDE, LETTER, UPPER, DIGIT, WORD, END, CLOSER = 1, 2, 4, 8, 16, 32, 64, 128
# Code points the table is read for: the BMP, planes 1-3 (letters, Han extensions) and
# plane 14 (variation selectors: word characters). Planes 4-13 are unassigned and 15-16
# private use: no property the kernel asks about (a test checks the whole range).
_RANGES = ((0, 0x40000), (0xE0000, 0xE1000))


def build_table(ranges: tuple[tuple[int, int], ...] = _RANGES) -> np.ndarray:
    """uint8 per code point (0..0x10FFFF): the bits above, from the reference's regexes."""
    from corpuskit.text.paragraphs import WIDE as WIDE_CLASS
    from corpuskit.text.paragraphs import terminal_sets

    cps = np.concatenate([np.arange(a, b, dtype=np.uint32) for a, b in ranges])
    cps = cps[(cps < 0xD800) | (cps > 0xDFFF)]
    ends, closers = terminal_sets()
    table = np.zeros(0x110000, dtype=np.uint8)
    for bit, pattern in (
        (WS, r"\s"),
        (WIDE, WIDE_CLASS),
        (LETTER, r"\p{L}"),
        (UPPER, r"\p{Lu}"),
        (DIGIT, r"\d"),
        (WORD, r"\w"),
        (END, char_class(ends)),
        (CLOSER, char_class(closers)),
    ):
        table[cps[regex_members(pattern, cps)]] |= bit
    return table


@functools.cache
def _table() -> np.ndarray:
    return build_table()


# --- code points --------------------------------------------------------------------------
TAB, NL, CR, SP = 0x09, 0x0A, 0x0D, 0x20
IDEO_SP = 0x3000
BULLETS = np.array([ord(c) for c in "-*+•·▪◦○●◆◇■□►▶※"], dtype=np.int32)
HAN_NUMERALS = np.array([ord(c) for c in "一二三四五六七八九十"], dtype=np.int32)
SMALL_WORDS = ("a", "an", "the", "of", "to", "in", "on", "for", "and", "or", "at", "by", "with")
SMALL_WORDS += ("as", "from",)  # fmt: skip


@njit(inline="always", **_OPTS)
def _has(tab, c, bit):
    return (tab[c] & bit) != 0


@njit(inline="always", **_OPTS)
def _ascii_alnum(c):
    return (0x30 <= c <= 0x39) or (0x41 <= c <= 0x5A) or (0x61 <= c <= 0x7A)


@njit(inline="always", **_OPTS)
def _ascii_letter(c):
    return (0x41 <= c <= 0x5A) or (0x61 <= c <= 0x7A)


@njit(inline="always", **_OPTS)
def _in(c, arr):
    for x in arr:  # noqa: SIM110 (numba: no generator in any())
        if x == c:
            return True
    return False


@njit(**_OPTS)
def _decode(data, start, end, out):
    """UTF-8 bytes data[start:end] as code points into `out` (large enough); returns n."""
    n = 0
    i = start
    while i < end:
        b = data[i]
        if b < 0x80:
            c = np.int32(b)
            i += 1
        elif b < 0xE0:
            c = ((np.int32(b) & 0x1F) << 6) | (np.int32(data[i + 1]) & 0x3F)
            i += 2
        elif b < 0xF0:
            c = (
                ((np.int32(b) & 0x0F) << 12)
                | ((np.int32(data[i + 1]) & 0x3F) << 6)
                | (np.int32(data[i + 2]) & 0x3F)
            )
            i += 3
        else:
            c = (
                ((np.int32(b) & 0x07) << 18)
                | ((np.int32(data[i + 1]) & 0x3F) << 12)
                | ((np.int32(data[i + 2]) & 0x3F) << 6)
                | (np.int32(data[i + 3]) & 0x3F)
            )
            i += 4
        out[n] = c
        n += 1
    return n


@njit(**_OPTS)
def _encode(cps, start, end, out, pos):
    """Code points cps[start:end] as UTF-8 into out[pos:]; returns the new position."""
    for k in range(start, end):
        c = cps[k]
        if c < 0x80:
            out[pos] = c
            pos += 1
        elif c < 0x800:
            out[pos] = 0xC0 | (c >> 6)
            out[pos + 1] = 0x80 | (c & 0x3F)
            pos += 2
        elif c < 0x10000:
            out[pos] = 0xE0 | (c >> 12)
            out[pos + 1] = 0x80 | ((c >> 6) & 0x3F)
            out[pos + 2] = 0x80 | (c & 0x3F)
            pos += 3
        else:
            out[pos] = 0xF0 | (c >> 18)
            out[pos + 1] = 0x80 | ((c >> 12) & 0x3F)
            out[pos + 2] = 0x80 | ((c >> 6) & 0x3F)
            out[pos + 3] = 0x80 | (c & 0x3F)
            pos += 4
    return pos


@njit(**_OPTS)
def _split_lines(cps, n, starts, ends):
    """Lines of cps[:n] (after normalize_line_breaks, split on "\\n"); returns their count."""
    m = 0
    s = 0
    i = 0
    while i < n:
        c = cps[i]
        if c == NL or c == CR or c == 0x0B or c == 0x0C or (0x1C <= c <= 0x1E):  # noqa: SIM109
            starts[m] = s
            ends[m] = i
            m += 1
            if c == CR and i + 1 < n and cps[i + 1] == NL:
                i += 1
            s = i + 1
        elif c == 0x85 or c == 0x2028 or c == 0x2029:
            starts[m] = s
            ends[m] = i
            m += 1
            s = i + 1
        i += 1
    starts[m] = s
    ends[m] = n
    return m + 1


@njit(**_OPTS)
def _count_wide(cps, a, b, tab):
    k = 0
    for i in range(a, b):
        if _has(tab, cps[i], WIDE):
            k += 1
    return k


@njit(**_OPTS)
def _terminal(cps, a, b, tab):
    """s[a:b] matches `{ends}+{closers}*$`."""
    j = b - 1
    while j >= a:
        c = cps[j]
        if _has(tab, c, END):
            return True
        if not _has(tab, c, CLOSER):
            return False
        j -= 1
    return False


@njit(**_OPTS)
def _quoted(cps, a, b):
    """line[a:b] matches `^[ \\t]*(?:[>|}]|[A-Za-z]{1,4}>|:[ \\t　]|：)`."""
    i = a
    while i < b and (cps[i] == SP or cps[i] == TAB):
        i += 1
    if i >= b:
        return False
    c = cps[i]
    if c == 0x3E or c == 0x7C or c == 0x7D or c == 0xFF1A:
        return True
    if c == 0x3A:
        return i + 1 < b and (cps[i + 1] == SP or cps[i + 1] == TAB or cps[i + 1] == IDEO_SP)
    k = 0
    while i + k < b and k < 5 and _ascii_letter(cps[i + k]):
        k += 1
    return 1 <= k <= 4 and i + k < b and cps[i + k] == 0x3E


@njit(**_OPTS)
def _run(cps, i, b, tab, bit, lo, hi):
    """Length of the run from i of characters with `bit` (or in lo..hi where bit is 0)."""
    k = 0
    while i + k < b:
        c = cps[i + k]
        if bit:
            if not _has(tab, c, bit):
                break
        elif not (lo <= c <= hi):
            break
        k += 1
    return k


@njit(**_OPTS)
def _item(cps, a, b, tab, bullets, numerals):
    """line[a:b] matches LIST_ITEM (paragraphs.py)."""
    i = a
    while i < b and (cps[i] == SP or cps[i] == TAB or cps[i] == IDEO_SP):
        i += 1
    if i >= b:
        return False
    c = cps[i]
    # [-*+•·▪◦○●◆◇■□►▶※]\s
    if _in(c, bullets) and i + 1 < b and _has(tab, cps[i + 1], WS):
        return True
    # [(（]?\d{1,3}[.)、．）](?:\s|$)  and  [(（]\d{1,3}[)）]
    paren = c == 0x28 or c == 0xFF08
    j = i + 1 if paren else i
    d = _run(cps, j, b, tab, DIGIT, 0, 0)
    if 1 <= d <= 3 and j + d < b:
        p = cps[j + d]
        if (p == 0x2E or p == 0x29 or p == 0x3001 or p == 0xFF0E or p == 0xFF09) and (
            j + d + 1 == b or _has(tab, cps[j + d + 1], WS)
        ):
            return True
        if paren and (p == 0x29 or p == 0xFF09):
            return True
    # [０-９]{1,3}[．、]
    d = _run(cps, i, b, tab, 0, 0xFF10, 0xFF19)
    if 1 <= d <= 3 and i + d < b and (cps[i + d] == 0xFF0E or cps[i + d] == 0x3001):
        return True
    # [一二三四五六七八九十]{1,3}[、．]
    d = 0
    while i + d < b and d < 4 and _in(cps[i + d], numerals):
        d += 1
    if 1 <= d <= 3 and i + d < b and (cps[i + d] == 0x3001 or cps[i + d] == 0xFF0E):
        return True
    # [a-zA-Z][.)]\s
    return (
        _ascii_letter(c)
        and i + 2 < b
        and (cps[i + 1] == 0x2E or cps[i + 1] == 0x29)
        and _has(tab, cps[i + 2], WS)
    )


@njit(inline="always", **_OPTS)
def _sep(c):
    return c == 0x2F or c == 0x2D or c == 0x2E  # [/\-.]


@njit(**_OPTS)
def _date_from(cps, p, b, tab):
    r"""s[p:b] matches `\d{4}[/\-.]\d{1,2}[/\-.]\d{1,2}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$`.
    A digit run longer than its `\d{n,m}` leaves a digit where a separator, a space or
    the end must follow, so each run must have exactly the allowed length."""
    if _run(cps, p, b, tab, DIGIT, 0, 0) != 4:
        return False
    i = p + 4
    for _ in range(2):
        if i >= b or not _sep(cps[i]):
            return False
        d = _run(cps, i + 1, b, tab, DIGIT, 0, 0)
        if d < 1 or d > 2:
            return False
        i += 1 + d
    if i == b:
        return True
    w = _run(cps, i, b, tab, WS, 0, 0)
    if w == 0:
        return False
    i += w
    d = _run(cps, i, b, tab, DIGIT, 0, 0)
    if d < 1 or d > 2 or i + d >= b or cps[i + d] != 0x3A:
        return False
    i += d + 1
    if _run(cps, i, b, tab, DIGIT, 0, 0) != 2:
        return False
    i += 2
    if i == b:
        return True
    if cps[i] != 0x3A or _run(cps, i + 1, b, tab, DIGIT, 0, 0) != 2:
        return False
    return i + 3 == b


@njit(**_OPTS)
def _dated(cps, a, b, tab):
    """s[a:b] ends with a date (and time) or 评论N条 (`dated` in paragraphs.py)."""
    # 评论\d+条$
    if b - a >= 4 and cps[b - 1] == 0x6761:
        j = b - 2
        while j >= a and _has(tab, cps[j], DIGIT):
            j -= 1
        if j < b - 2 and j - 1 >= a and cps[j] == 0x8BBA and cps[j - 1] == 0x8BC4:
            return True
    for p in range(a, b - 7):  # noqa: SIM110 (numba: no generator in any())
        if _has(tab, cps[p], DIGIT) and _date_from(cps, p, b, tab):
            return True
    return False


@njit(**_OPTS)
def _words(cps, a, b, tab, bit):
    r"""Matches of `[bit][\p{L}'’\-]*` in s[a:b] (leftmost, non-overlapping)."""
    n = 0
    i = a
    while i < b:
        if _has(tab, cps[i], bit):
            n += 1
            i += 1
            while i < b and (
                _has(tab, cps[i], LETTER) or cps[i] == 0x27 or cps[i] == 0x2019 or cps[i] == 0x2D
            ):
                i += 1
        else:
            i += 1
    return n


@njit(**_OPTS)
def _word_counts(cps, a, b, tab, small):
    r"""(n, caps, small) of `_title_case`: `\p{L}[\p{L}'’\-]*` matches, the same starting
    with `\p{Lu}`, and `\b(?:a|an|...)\b` matches (runs of word characters)."""
    n = _words(cps, a, b, tab, LETTER)
    caps = _words(cps, a, b, tab, UPPER)
    k = 0
    i = a
    while i < b:
        if not _has(tab, cps[i], WORD):
            i += 1
            continue
        j = i
        while j < b and _has(tab, cps[j], WORD):
            j += 1
        length = j - i
        for w in range(small.shape[0]):
            if small[w, 0] == length:
                same = True
                for q in range(length):
                    if cps[i + q] != small[w, q + 1]:
                        same = False
                        break
                if same:
                    k += 1
                    break
        i = j
    return n, caps, k


@njit(**_OPTS)
def _title_case(cps, a, b, tab, small):
    n, caps, k = _word_counts(cps, a, b, tab, small)
    lower = (n - k) & 0xFFFFFFFF  # UInt32 in the reference: wraps
    return n >= 3 and ((lower - caps) & 0xFFFFFFFF) <= lower // 8


@njit(**_OPTS)
def _ellipsis_end(cps, a, b, tab):
    """line[a:b] matches `(?:\\.\\.\\.|…)\\s*$`."""
    j = b - 1
    while j >= a and _has(tab, cps[j], WS):
        j -= 1
    if j >= a and cps[j] == 0x2026:
        return True
    return j - 2 >= a and cps[j] == 0x2E and cps[j - 1] == 0x2E and cps[j - 2] == 0x2E


@njit(**_OPTS)
def _inner_sentence(cps, a, b, tab):
    """line[a:b] matches `[.!?][\\"')\\]]*\\s+[\\"'(\\[]?\\p{Lu}|[。！？]`."""
    for i in range(a, b):
        c = cps[i]
        if c == 0x3002 or c == 0xFF01 or c == 0xFF1F:
            return True
        if c == 0x2E or c == 0x21 or c == 0x3F:
            j = i + 1
            while j < b and (cps[j] == 0x22 or cps[j] == 0x27 or cps[j] == 0x29 or cps[j] == 0x5D):
                j += 1
            w = _run(cps, j, b, tab, WS, 0, 0)
            if w == 0:
                continue
            j += w
            if j < b and (cps[j] == 0x22 or cps[j] == 0x27 or cps[j] == 0x28 or cps[j] == 0x5B):
                j += 1
            if j < b and _has(tab, cps[j], UPPER):
                return True
    return False


@njit(**_OPTS)
def _two_words(cps, a, b, tab):
    r"""line[a:b] matches `\p{L}\S*\s+\S*\p{L}`: two neighbouring tokens (runs of
    non-whitespace) that both hold a letter."""
    prev = False  # the token before the last whitespace run holds a letter
    cur = False
    in_token = False
    for i in range(a, b):
        c = cps[i]
        if _has(tab, c, WS):
            if in_token:
                if prev and cur:
                    return True
                prev = cur
                in_token = False
        else:
            if not in_token:
                in_token = True
                cur = False
            if _has(tab, c, LETTER):
                cur = True
    return in_token and prev and cur


@njit(**_OPTS)
def _upper_start(cps, a, b, tab):
    """line[a:b] matches `^\\s*[\\p{Lu}\\d]`."""
    i = a
    while i < b and _has(tab, cps[i], WS):
        i += 1
    return i < b and (_has(tab, cps[i], UPPER) or _has(tab, cps[i], DIGIT))


@njit(**_OPTS)
def paragraph_buffers(
    data,
    offsets,
    uns,
    tab,
    bullets,
    numerals,
    small,
    min_width,
    max_width,
    fill,
    keep_headlines,
    slack_share,
    slack_unspaced,
    headline_width,
    join_text,
):
    """Per document: the headline's line index (-1: none) and whether a line joins; with
    `join_text`, the UTF-8 buffers of the documents with wrapped lines joined (documents
    without a join copied as they are)."""
    n_docs = offsets.shape[0] - 1
    headline_at = np.full(n_docs, -1, dtype=np.int64)
    joins = np.zeros(n_docs, dtype=np.bool_)
    out = np.empty(data.shape[0] if join_text else 0, dtype=np.uint8)
    out_offsets = np.zeros(n_docs + 1 if join_text else 1, dtype=np.int64)
    pos = 0
    cap = 16
    for d in range(n_docs):
        cap = max(cap, offsets[d + 1] - offsets[d] + 1)
    cps = np.empty(cap, dtype=np.int32)
    ls = np.empty(cap, dtype=np.int64)
    le = np.empty(cap, dtype=np.int64)
    lo = np.empty(cap, dtype=np.int64)  # first non-whitespace
    hi = np.empty(cap, dtype=np.int64)  # after the last non-whitespace
    blank = np.empty(cap, dtype=np.bool_)
    short = np.empty(cap, dtype=np.bool_)
    width = np.empty(cap, dtype=np.int64)
    fit_w = np.empty(cap, dtype=np.int64)
    indent = np.empty(cap, dtype=np.int64)
    terminal = np.empty(cap, dtype=np.bool_)
    quoted = np.empty(cap, dtype=np.bool_)
    item = np.empty(cap, dtype=np.bool_)
    hyphen = np.empty(cap, dtype=np.bool_)
    colon = np.empty(cap, dtype=np.bool_)
    dated = np.empty(cap, dtype=np.bool_)
    first = np.empty(cap, dtype=np.int64)
    gap = np.empty(cap, dtype=np.int64)
    full = np.empty(cap, dtype=np.bool_)
    join = np.empty(cap, dtype=np.bool_)
    for d in range(n_docs):
        n = _decode(data, offsets[d], offsets[d + 1], cps)
        m = _split_lines(cps, n, ls, le)
        u = uns[d]
        pair = False
        nb_total = 0
        for k in range(m):
            a, b = ls[k], le[k]
            i = a
            while i < b and _has(tab, cps[i], WS):
                i += 1
            j = b
            while j > i and _has(tab, cps[j - 1], WS):
                j -= 1
            lo[k], hi[k] = i, j
            blank[k] = i == b
            if not blank[k]:
                nb_total += 1
            if (
                k > 0
                and not blank[k]
                and not blank[k - 1]
                and hi[k] - a <= max_width
                and hi[k - 1] - ls[k - 1] <= max_width
            ):
                pair = True
        nb = 0
        first_line = -1
        second_line = -1
        for k in range(m):
            a, b, s0, s1 = ls[k], le[k], lo[k], hi[k]
            if not blank[k]:
                nb += 1
                if nb == 1:
                    first_line = k
                elif nb == 2:
                    second_line = k
            chars = s1 - a
            short[k] = (
                chars <= max(max_width, headline_width) and not blank[k] and (pair or nb <= 2)
            )
            if not short[k]:
                width[k], indent[k], first[k], gap[k] = chars, 0, 1, 1
                terminal[k] = True
                quoted[k] = False
                item[k] = False
                hyphen[k] = False
                colon[k] = False
                dated[k] = False
                continue
            width[k] = chars + _count_wide(cps, a, s1, tab)
            i = a
            while i < b and (cps[i] == SP or cps[i] == TAB or cps[i] == IDEO_SP):
                i += 1
            indent[k] = i - a
            terminal[k] = _terminal(cps, s0, s1, tab)
            quoted[k] = _quoted(cps, a, b)
            item[k] = _item(cps, a, b, tab, bullets, numerals)
            last = cps[s1 - 1]
            hyphen[k] = last == 0x2D and s1 - 2 >= s0 and _has(tab, cps[s1 - 2], LETTER)
            colon[k] = last == 0x3A or last == 0xFF1A
            dated[k] = _dated(cps, s0, s1, tab)
            # first word: ^([A-Za-z0-9]+|\S) (unspaced) or ^(\S+), in display columns
            f = s0 + 1
            if u and _ascii_alnum(cps[s0]):
                while f < s1 and _ascii_alnum(cps[f]):
                    f += 1
            elif not u:
                while f < s1 and not _has(tab, cps[f], WS):
                    f += 1
            first[k] = f - s0 + _count_wide(cps, s0, f, tab)
            gap[k] = 0 if u and _has(tab, cps[s0], WIDE) else 1
        # the wrap width: the widest fitting width another line comes within the slack of
        # (paragraphs.wrap_width), else the widest
        nf = 0
        for k in range(m):
            if not blank[k] and not quoted[k] and width[k] <= max_width:
                fit_w[nf] = width[k]
                nf += 1
        doc_width = 0
        if nf:
            ws = fit_w[:nf]
            ws.sort()  # in place, ascending: the widest is last
            doc_width = ws[nf - 1]
            for x in range(nf - 1, 0, -1):
                if ws[x - 1] >= ws[x] * (1.0 - slack_share):
                    doc_width = ws[x]
                    break
        threshold = max(min_width * fill, doc_width * fill)
        for k in range(m):
            full[k] = (
                not blank[k]
                and not quoted[k]
                and width[k] <= max_width
                and doc_width >= min_width
                and width[k] >= threshold
            )
        head = -1
        if first_line >= 0 and nb_total > 1:
            k = first_line
            a, b = ls[k], le[k]
            titled = not u and _title_case(cps, lo[k], hi[k], tab, small)
            nxt = second_line
            spaced_head = titled or (not u and _upper_start(cps, ls[nxt], le[nxt], tab))
            if (
                not quoted[nxt]
                and (not terminal[k] or _ellipsis_end(cps, a, b, tab))
                and not quoted[k]
                and not _clause_end(cps, lo[k], hi[k])
                and (titled or not _inner_sentence(cps, a, b, tab))
                and width[k] <= headline_width
                and (u or _two_words(cps, a, b, tab))
                and (spaced_head or width[nxt] >= 1.3 * width[k] or not full[k])
            ):
                head = k
        headline_at[d] = head
        slack = slack_unspaced if u else doc_width * slack_share
        any_join = False
        for k in range(m):
            join[k] = False
            if k + 1 >= m or not full[k] or dated[k] or terminal[k]:
                continue
            x = k + 1
            if blank[x] or width[x] > max_width or indent[x] > indent[k] or item[x] or quoted[x]:
                continue
            block_end = k + 2 >= m or blank[k + 2]
            if not (full[x] or terminal[x] or colon[x] or block_end):
                continue
            if not (width[k] + gap[x] + first[x] > doc_width - slack):
                continue
            if keep_headlines and k == head:
                continue
            join[k] = True
            any_join = True
        joins[d] = any_join
        if not join_text:
            continue
        if not any_join:
            for i in range(offsets[d], offsets[d + 1]):
                out[pos] = data[i]
                pos += 1
            out_offsets[d + 1] = pos
            continue
        for k in range(m):
            a = ls[k]
            b = hi[k] if join[k] else le[k]
            if k > 0 and join[k - 1]:
                while a < b and _has(tab, cps[a], WS):
                    a += 1
            pos = _encode(cps, a, b, out, pos)
            if k == m - 1:
                break
            if not join[k]:
                out[pos] = NL
                pos += 1
                continue
            # "" after a hyphen, and in unspaced text but between ASCII letters/digits
            nxt_start = lo[k + 1]
            ascii_pair = (
                hi[k] > ls[k]
                and _ascii_alnum(cps[hi[k] - 1])
                and nxt_start < le[k + 1]
                and _ascii_alnum(cps[nxt_start])
            )
            if not (hyphen[k] or (u and not ascii_pair)):
                out[pos] = SP
                pos += 1
        out_offsets[d + 1] = pos
    return headline_at, joins, out[:pos], out_offsets


@njit(inline="always", **_OPTS)
def _clause_end(cps, a, b):
    """s[a:b] ends in [,，、;；]."""
    if b <= a:
        return False
    c = cps[b - 1]
    return c == 0x2C or c == 0xFF0C or c == 0x3001 or c == 0x3B or c == 0xFF1B


def small_words() -> np.ndarray:
    """The title-case function words as rows (length, code points...) for the kernel."""
    rows = np.zeros((len(SMALL_WORDS), 1 + max(map(len, SMALL_WORDS))), dtype=np.int32)
    for r, w in enumerate(SMALL_WORDS):
        rows[r, 0] = len(w)
        rows[r, 1 : 1 + len(w)] = [ord(c) for c in w]
    return rows


_SMALL = small_words()


def run(data: np.ndarray, offsets: np.ndarray, uns: np.ndarray, wrapping, join: bool):
    """`paragraph_buffers` with the tables and a `Wrapping`'s settings."""
    from corpuskit.text.paragraphs import HEADLINE_WIDTH

    w = wrapping
    return paragraph_buffers(
        data,
        offsets,
        uns,
        _table(),
        BULLETS,
        HAN_NUMERALS,
        _SMALL,
        int(w.min_width),
        int(w.max_width),
        float(w.fill),
        bool(w.keep_headlines),
        float(w.slack),
        float(w.slack_unspaced),
        int(HEADLINE_WIDTH),
        bool(join),
    )


def warm_up() -> None:
    """Compile (first use) or load the cached machine code, and build the table."""
    from corpuskit.text.paragraphs import Wrapping

    data = np.frombuffer(b"A Title Of It\nsome text\n", dtype=np.uint8)
    run(data, np.array([0, data.shape[0]], dtype=np.int64), np.zeros(1, np.bool_), Wrapping(), True)
