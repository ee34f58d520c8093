"""Compiled twin of `normalize_text` (numba): one scan per document over its code points.

`corpuskit.steps.normalize_punctuation` holds the reference: Polars regex passes whose
`exhaustive=True` form is the oracle. This module reproduces the same passes, in the
same order, as hand-written scanners over a UTF-32 copy of each document:

1. full-width letters/digits, 、、 collapse;
2. double-quote pairs, single quotes, parenthesis pairs (decided as in `_prepass`,
   parentheses tagged with the same private-use markers);
3. the `_SEGMENT` tokenizer (URLs, e-mails, glued words | runs | other text, with the
   regex's leftmost-first choices) and `_rewrite_run` for every run by its context;
4. `_finish` (spacing around parentheses made ASCII, markers dropped).

Character classes live in a table indexed by code point, built once per process: the
Unicode properties (Han, kana, bopomofo, letters) are read from the Polars regex engine
itself, so both implementations use the same Unicode version, and the literal sets of
`normalize_punctuation.py` fill in the rest (a test checks the table against the regex classes for
every code point). The tests compare the two implementations on generated batches and on
real corpora; the exhaustive reference is their oracle.

numba is imported here only: `normalize_punctuation.py` imports this module lazily, and
each process pays the compile or the cache load once, in `warm_up()`, which
NormalizePunctuation.setup() calls.
"""

from __future__ import annotations

import functools

import numpy as np
import polars as pl
import pyarrow as pa
from numba import njit

from corpuskit.text.chars import regex_members

# --- classes (bits of the per-code-point table) ---------------------------------------
CJK, LAT, BODY, END, RUN, SKIP, OTHER = 1, 2, 4, 8, 16, 32, 64

# --- code points ------------------------------------------------------------------------
SP, TAB, NL = 0x20, 0x09, 0x0A
DQ, SQ = 0x22, 0x27  # " '
LDQ, RDQ, LSQ, RSQ = 0x201C, 0x201D, 0x2018, 0x2019  # “ ” ‘ ’
LP, RP, FLP, FRP = 0x28, 0x29, 0xFF08, 0xFF09  # ( ) （ ）
ELL, MELL = 0x2026, 0x22EF  # … ⋯
HY, EMD, HBAR = 0x2D, 0x2014, 0x2015  # - — ―
FSTOP = 0x3002  # 。
DUN = 0x3001  # 、
MARK0 = 0xF8000  # the step's markers: U+F8000..U+F8005
FO, FC, LO, LC = 0xF8002, 0xF8003, 0xF8004, 0xF8005
TAGGED, TAG_LO_FW, TAG_LC_FW = 1, 2, 4
HAS_URL, HAS_AT = 1, 2
ZH, LATN, KEEP = 1, 2, 0  # a row's lean and a run's context
CLS_NONE, CLS_CJK, CLS_LAT, CLS_OTHER = 0, 1, 2, 3


def class_table() -> np.ndarray:
    """uint8 per code point: which of the step's regex classes hold it (see the bits above).

    The Unicode properties (Han, kana, bopomofo, letters) are read from Polars' own
    regex engine, the reference implementation's, so both sides use one Unicode
    version; the rest are the literal sets of `normalize_punctuation.py`. `regex_class_table()`
    reads every class from the regex engine instead (slower; the tests compare them).
    """
    return _class_table().copy()


_WHITE_SPACE = [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B)]
_WHITE_SPACE += [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]  # \s: Unicode White_Space


def _members(pattern: str) -> np.ndarray:
    """Boolean per code point: matched by the one-character regex `pattern` (Polars)."""
    cps = np.arange(0x110000, dtype=np.uint32)
    cps = cps[(cps < 0xD800) | (cps > 0xDFFF)]
    member = np.zeros(0x110000, dtype=bool)
    member[cps] = regex_members(pattern, cps)
    return member


def _chars(chars: str) -> np.ndarray:
    member = np.zeros(0x110000, dtype=bool)
    member[[ord(c) for c in chars]] = True
    return member


@functools.cache
def _class_table() -> np.ndarray:
    from corpuskit.steps import normalize_punctuation as P

    cjk = _members(f"[{P._CJK}]")
    letter = _members(r"\p{L}")
    space = np.zeros(0x110000, dtype=bool)
    space[_WHITE_SPACE] = True
    dashes = "…⋯-—―"
    run = _chars(P._SPACES + P._ASCII_MARKS + P._FW_MARKS + P._QUOTES + dashes + P._TAGS)
    body = ~(space | cjk | _chars(P._TAGS + "…⋯—―\"“”'‘’<>()，。？！：；（）"))
    body[0xD800:0xE000] = False
    ascii_letter = _chars("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    classes = {
        CJK: cjk,
        LAT: letter & ~cjk,
        BODY: body,
        END: body & ~_chars(".,;:!?-"),
        RUN: run,
        SKIP: _chars(P._SPACES + P._ASCII_MARKS + P._FW_MARKS + "'‘’" + dashes),
        OTHER: ~(run | ascii_letter),
    }
    return _pack(classes)


def _pack(classes: dict[int, np.ndarray]) -> np.ndarray:
    table = np.zeros(0x110000, dtype=np.uint8)
    for bit, member in classes.items():
        table[member] |= bit
    table[0xD800:0xE000] = 0
    return table


def regex_class_table() -> np.ndarray:
    """The same table with every class read from the regex patterns of the reference step."""
    from corpuskit.steps import normalize_punctuation as P

    patterns = {
        CJK: f"[{P._CJK}]",
        LAT: f"[{P._LATIN}]",
        BODY: P._URL_BODY,
        END: P._URL_END,
        RUN: f"[{P._RUN}]",
        SKIP: f"[{P._SKIP}]",
        OTHER: f"[^{P._RUN}A-Za-z]",
    }
    return _pack({bit: _members(p) for bit, p in patterns.items()})


# =======================================================================================
# Small predicates.


@njit(cache=True, nogil=True)
def _alnum(c):
    return (0x30 <= c <= 0x39) or (0x41 <= c <= 0x5A) or (0x61 <= c <= 0x7A)


@njit(cache=True, nogil=True)
def _digit(c):
    return 0x30 <= c <= 0x39


@njit(cache=True, nogil=True)
def _ascii_mark(c):  # , . ? ! : ; ( )
    return c == 44 or c == 46 or c == 63 or c == 33 or c == 58 or c == 59 or c in (LP, RP)


@njit(cache=True, nogil=True)
def _fw_mark6(c):  # ，。？！：；
    return c == 0xFF0C or c == FSTOP or c == 0xFF1F or c == 0xFF01 or c == 0xFF1A or c == 0xFF1B


@njit(cache=True, nogil=True)
def _fw_mark(c):  # ，。？！：；（）
    return _fw_mark6(c) or c in (FLP, FRP)


# The marks that change width with their context, as (ASCII, full-width) pairs.
_NARROW_MARKS = (0x2C, 0x2E, 0x3F, 0x21, 0x3A, 0x3B, LP, RP)
_WIDE_MARKS = (0xFF0C, FSTOP, 0xFF1F, 0xFF01, 0xFF1A, 0xFF1B, FLP, FRP)


@njit(cache=True, nogil=True)
def _to_fw(c):
    for i in range(len(_NARROW_MARKS)):
        if c == _NARROW_MARKS[i]:
            return _WIDE_MARKS[i]
    return c


@njit(cache=True, nogil=True)
def _to_ascii(c):
    for i in range(len(_WIDE_MARKS)):
        if c == _WIDE_MARKS[i]:
            return _NARROW_MARKS[i]
    return c


@njit(cache=True, nogil=True)
def _tag(c):
    return FO <= c <= LC


@njit(cache=True, nogil=True)
def _paren(c):
    return c in (LP, RP, FLP, FRP)


@njit(cache=True, nogil=True)
def _quote6(c):  # " “ ” ' ‘ ’
    return c in (DQ, LDQ, RDQ, SQ, LSQ, RSQ)


@njit(cache=True, nogil=True)
def _quote4(c):  # “ ” ‘ ’
    return c in (LDQ, RDQ, LSQ, RSQ)


@njit(cache=True, nogil=True)
def _glue(c):  # , . ? ! : ; ( ) " ' -
    return _ascii_mark(c) or c in (DQ, SQ, HY)


@njit(cache=True, nogil=True)
def _collapsible(c):  # ! ！ ? ？ , ， ; ； ：
    return (
        c == 0x21
        or c == 0xFF01
        or c == 0x3F
        or c == 0xFF1F
        or c == 0x2C
        or c == 0xFF0C
        or c == 0x3B
        or c == 0xFF1B
        or c == 0xFF1A
    )


@njit(cache=True, nogil=True)
def _space(c):  # [ \t]
    return c in (SP, TAB)


@njit(cache=True, nogil=True)
def _cls(c, tab):
    if c < 0:
        return CLS_NONE
    t = tab[c]
    if t & CJK:
        return CLS_CJK
    if t & LAT:
        return CLS_LAT
    return CLS_OTHER


@njit(cache=True, nogil=True)
def _word(c, tab):  # [0-9] or a Latin letter
    return _digit(c) or (tab[c] & LAT) != 0


# =======================================================================================
# UTF-8.


@njit(cache=True, nogil=True)
def _encode_one(c, out, pos):
    if c < 0x80:
        out[pos] = c
        return pos + 1
    if c < 0x800:
        out[pos] = 0xC0 | (c >> 6)
        out[pos + 1] = 0x80 | (c & 0x3F)
        return pos + 2
    if c < 0x10000:
        out[pos] = 0xE0 | (c >> 12)
        out[pos + 1] = 0x80 | ((c >> 6) & 0x3F)
        out[pos + 2] = 0x80 | (c & 0x3F)
        return pos + 3
    out[pos] = 0xF0 | (c >> 18)
    out[pos + 1] = 0x80 | ((c >> 12) & 0x3F)
    out[pos + 2] = 0x80 | ((c >> 6) & 0x3F)
    out[pos + 3] = 0x80 | (c & 0x3F)
    return pos + 4


@njit(cache=True, nogil=True)
def _copy(src, start, end, dst, pos):
    """dst[pos:] = src[start:end]; returns the new end in dst. (A loop: numba's slice
    assignment compiles its error-message machinery, seconds of cold compile time.)"""
    for k in range(start, end):
        dst[pos] = src[k]
        pos += 1
    return pos


# =======================================================================================
# Pre-pass: quote and parenthesis pairs (`_double_quotes`, `_single_quotes`,
# `_parentheses`). A pair's anchors are the nearest characters outside it that are not
# in _SKIP; decisions only read characters that no earlier decision of the pass changes,
# so each pass works in place, left to right.


@njit(cache=True, nogil=True)
def _double_quotes(a, n, lean, straight, tab):
    changed = False
    k = 0
    # the quote before a[k] on its line was left unpaired (a " or “ that met this “):
    # the pair opened here may turn curly but not straight (`_DQ_BLOCKED`)
    blocked = False
    while k < n:
        c = a[k]
        if c != DQ and c != LDQ:
            k += 1
            continue
        m = k + 1
        inner = 0
        while m < n:
            d = a[m]
            if d in (DQ, LDQ, RDQ, NL):
                break
            inner |= tab[d]
            m += 1
        if m >= n or not (a[m] == DQ or a[m] == RDQ):
            blocked = m < n and a[m] == LDQ
            k = m
            continue
        p = k - 1
        while p >= 0 and (tab[a[p]] & SKIP):
            p -= 1
        left = tab[a[p]] if p >= 0 else 0
        p = m + 1
        while p < n and (tab[a[p]] & SKIP):
            p += 1
        right = tab[a[p]] if p < n else 0
        if (inner | left | right) & CJK or lean == ZH:
            if a[k] != LDQ or a[m] != RDQ:
                a[k] = LDQ
                a[m] = RDQ
                changed = True
        elif (
            straight
            and not blocked
            and (lean == LATN or (inner | left | right) & LAT)
            and (a[k] != DQ or a[m] != DQ)
        ):
            a[k] = DQ
            a[m] = DQ
            changed = True
        blocked = False
        k = m + 1
    return changed


@njit(cache=True, nogil=True)
def _single_quotes(a, n, straight, tab):
    changed = False
    if straight:
        # ‘...’ without CJK and with a Latin letter -> '...'
        k = 0
        while k < n:
            if a[k] != LSQ:
                k += 1
                continue
            m = k + 1
            lat = False
            while m < n:
                d = a[m]
                if d in (LSQ, RSQ, NL) or tab[d] & CJK:
                    break
                if tab[d] & LAT:
                    lat = True
                m += 1
            if m < n and a[m] == RSQ and lat:
                a[k] = SQ
                a[m] = SQ
                changed = True
                k = m + 1
            else:
                k = m
        # letter ’ letter -> letter ' letter (non-overlapping, left to right)
        k = 0
        while k + 2 < n:
            if a[k + 1] == RSQ and (tab[a[k]] & LAT) and (tab[a[k + 2]] & LAT):
                a[k + 1] = SQ
                changed = True
                k += 3
            else:
                k += 1
    # '...' starting with CJK (and not ending with a Latin letter) -> ‘...’
    k = 0
    while k < n:
        if a[k] != SQ:
            k += 1
            continue
        m = k + 1
        while m < n and a[m] != SQ and a[m] != NL:
            m += 1
        if (
            m < n
            and a[m] == SQ
            and m > k + 1
            and (tab[a[k + 1]] & CJK)
            and (m == k + 2 or not (tab[a[m - 1]] & LAT))
        ):
            a[k] = LSQ
            a[m] = RSQ
            changed = True
            k = m + 1
        else:
            k = m
    return changed


@njit(cache=True, nogil=True)
def _parentheses(a, n, b, lean, tab):
    """Pairs on one line decided full-width (FO/FC tags) or ASCII (LO/LC); into `b`.

    Returns (length, bits): TAGGED when `b` holds the text with tags (else `a` is kept),
    TAG_LO_FW / TAG_LC_FW when a （ / ） was decided ASCII (`_finish` respaces those)."""
    # pairs first: opener positions and closer positions
    pairs = np.empty(n + 1, dtype=np.int64)
    npairs = 0
    k = 0
    while k < n:
        c = a[k]
        if c != LP and c != FLP:
            k += 1
            continue
        m = k + 1
        while m < n:
            d = a[m]
            if d in (LP, RP, FLP, FRP, NL):
                break
            m += 1
        if m < n and (a[m] == RP or a[m] == FRP):
            pairs[npairs] = k
            pairs[npairs + 1] = m
            npairs += 2
            k = m + 1
        else:
            k = m
    if npairs == 0:
        return n, 0
    o = 0
    last = 0
    tags = 0
    for q in range(0, npairs, 2):
        k = pairs[q]
        m = pairs[q + 1]
        inner = 0
        for p in range(k + 1, m):
            inner |= tab[a[p]]
        # anchors; the previous pair's closer and the next pair's opener stop the scan
        # (in the regex form a marker stands before each, and markers are not in _SKIP)
        stop = pairs[q - 1] if q > 0 else -1
        p = k - 1
        while p > stop and (tab[a[p]] & SKIP):
            p -= 1
        left = tab[a[p]] if p > stop else 0
        stop = pairs[q + 2] if q + 2 < npairs else n
        p = m + 1
        while p < stop and (tab[a[p]] & SKIP):
            p += 1
        right = tab[a[p]] if p < stop else 0
        if (inner | left | right) & CJK or lean == ZH:
            to, tc = FO, FC
        elif lean == LATN or (inner | left | right) & LAT:
            to, tc = LO, LC
            if a[k] == FLP:
                tags |= TAG_LO_FW
            if a[m] == FRP:
                tags |= TAG_LC_FW
        else:
            continue
        tags |= TAGGED
        o = _copy(a, last, k, b, o)
        b[o] = to
        o += 1
        o = _copy(a, k, m, b, o)
        b[o] = tc
        b[o + 1] = a[m]
        o += 2
        last = m + 1
    if tags == 0:
        return n, 0
    return _copy(a, last, n, b, o), tags


# =======================================================================================
# Segmentation (`_SEGMENT`): at each position the first alternative that matches wins:
# (1) URL | e-mail | glued word (a URL or e-mail after its glued marks taken whole), then
# more of them after single spaces; (2) a run;
# (3) other text, which may swallow a no-op run before a CJK character.


@njit(cache=True, nogil=True)
def _starts(a, n, i, lit):
    if i + len(lit) > n:
        return False
    for k in range(len(lit)):  # noqa: SIM110 (numba: no generator in all())
        if a[i + k] != lit[k]:
            return False
    return True


_HTTPS = np.array([ord(c) for c in "https://"], dtype=np.int32)
_HTTP = np.array([ord(c) for c in "http://"], dtype=np.int32)
_FTP = np.array([ord(c) for c in "ftp://"], dtype=np.int32)
_WWW = np.array([ord(c) for c in "www."], dtype=np.int32)


@njit(cache=True, nogil=True)
def _url(a, n, i, tab):
    """End of the URL at i, or -1: (?:https?|ftp)://|www. then body characters up to the
    last one that may end a URL."""
    c = a[i]
    if c == 0x68 and _starts(a, n, i, _HTTPS):
        j = i + 8
    elif c == 0x68 and _starts(a, n, i, _HTTP):
        j = i + 7
    elif c == 0x66 and _starts(a, n, i, _FTP):
        j = i + 6
    elif c == 0x77 and _starts(a, n, i, _WWW):
        j = i + 4
    else:
        return -1
    end = -1
    k = j
    while k < n:
        t = tab[a[k]]
        if not (t & BODY):
            break
        if t & END:
            end = k + 1
        k += 1
    return end


@njit(cache=True, nogil=True)
def _local(c):  # [A-Za-z0-9._%+-]
    return _alnum(c) or c == 0x2E or c == 0x5F or c == 0x25 or c == 0x2B or c == HY


@njit(cache=True, nogil=True)
def _label(c):  # [A-Za-z0-9-]
    return _alnum(c) or c == HY


@njit(cache=True, nogil=True)
def _email(a, n, i, memo):
    """End of the e-mail at i, or -1. memo = [start, local_end, result] of the last scan:
    any later start inside that local part reaches the same '@' and the same result."""
    c = a[i]
    if not (_alnum(c) or c == 0x5F):
        return -1
    if memo[0] < i < memo[1]:
        return memo[2]
    j = i + 1
    while j < n and _local(a[j]):
        j += 1
    res = -1
    if j < n and a[j] == 0x40:
        k = j + 1
        while k < n and _label(a[k]):
            k += 1
        if k > j + 1:
            reps = 0
            while k + 1 < n and a[k] == 0x2E and _label(a[k + 1]):
                k += 1
                while k < n and _label(a[k]):
                    k += 1
                reps += 1
            if reps > 0:
                res = k
    memo[0] = i
    memo[1] = j
    memo[2] = res
    return res


@njit(cache=True, nogil=True)
def _url_or_email(a, n, i, tab, memo, prot):
    """End of the URL, else the e-mail, at i, or -1 (`prot`: which of the two the row may
    hold at all: HAS_URL for "://" or "www.", HAS_AT for "@")."""
    if prot & HAS_URL:
        e = _url(a, n, i, tab)
        if e >= 0:
            return e
    if prot & HAS_AT:
        return _email(a, n, i, memo)
    return -1


@njit(cache=True, nogil=True)
def _glued(a, n, i, tab, memo, prot):
    """End of the glued word at i; after glued marks, a URL or e-mail is taken whole."""
    j = i
    while j < n and _alnum(a[j]):
        j += 1
    while True:
        k = j
        while k < n and _glue(a[k]):
            k += 1
        if k > j and k < n and _alnum(a[k]):
            j = _url_or_email(a, n, k, tab, memo, prot)
            if j < 0:
                j = k
                while j < n and _alnum(a[j]):
                    j += 1
        else:
            return j


@njit(cache=True, nogil=True)
def _item(a, n, i, tab, memo, prot):
    """URL, else e-mail, else glued word at i."""
    e = _url_or_email(a, n, i, tab, memo, prot)
    if e >= 0:
        return e
    if _alnum(a[i]):
        return _glued(a, n, i, tab, memo, prot)
    return -1


@njit(cache=True, nogil=True)
def _protected(a, n, i, tab, memo, prot):
    e = _item(a, n, i, tab, memo, prot)
    if e < 0:
        return -1
    while e + 1 < n and a[e] == SP:
        e2 = _item(a, n, e + 1, tab, memo, prot)
        if e2 < 0:
            break
        e = e2
    return e


@njit(cache=True, nogil=True)
def _other(a, n, i, tab):
    j = i
    while j < n and (tab[a[j]] & OTHER):
        j += 1
    while True:
        k = j
        if k + 1 < n and _fw_mark6(a[k]) and (tab[a[k + 1]] & CJK):
            k += 2
        else:
            p = k
            if p < n and _fw_mark6(a[p]):
                p += 1
            if p < n and _quote4(a[p]):
                p += 1
                if p + 1 < n and _fw_mark6(a[p]) and (tab[a[p + 1]] & CJK):
                    k = p + 2
                elif p < n and (tab[a[p]] & CJK):
                    k = p + 1
                else:
                    return j
            else:
                return j
        j = k
        while j < n and (tab[a[j]] & OTHER):
            j += 1


# =======================================================================================
# Runs (`_rewrite_run`).


@njit(cache=True, nogil=True)
def _collapse(s, n, out):
    """Runs of one repeated ! ！ ? ？ , ， ; ； ： become one."""
    m = 0
    k = 0
    while k < n:
        c = s[k]
        out[m] = c
        m += 1
        k += 1
        if _collapsible(c):
            while k < n and s[k] == c:
                k += 1
    return m


@njit(cache=True, nogil=True)
def _squeeze(s, n, ch, out):
    """Runs of `ch` become one; `out` may be `s` (written behind the read position)."""
    m = 0
    k = 0
    while k < n:
        c = s[k]
        out[m] = c
        m += 1
        k += 1
        if c == ch:
            while k < n and s[k] == ch:
                k += 1
    return m


@njit(cache=True, nogil=True)
def _needs_other(s, i, j):
    """_NEEDS_OTHER: a full-width mark, ……, or a repeated collapsible mark."""
    for k in range(i, j):
        c = s[k]
        if _fw_mark(c):
            return True
        if k + 1 < j and s[k + 1] == c and (c == ELL or _collapsible(c)):
            return True
    return False


@njit(cache=True, nogil=True)
def _rewrite_zh(s, i, j, pcls, ncls, nalnum, collapse, keep_space, t1, t2, out):
    # , . ? ! : ; ( ) -> full width; a tagged parenthesis stays as it is
    n = 0
    k = i
    while k < j:
        c = s[k]
        if _tag(c) and k + 1 < j and _paren(s[k + 1]):
            t1[n] = c
            t1[n + 1] = s[k + 1]
            n += 2
            k += 2
            continue
        t1[n] = _to_fw(c)
        n += 1
        k += 1
    flag = s[j - 1] == HY and nalnum
    strip = pcls == CLS_CJK and ncls == CLS_CJK and not keep_space
    if not strip:
        for k in range(n):
            c = t1[k]
            if _fw_mark(c) or c in (ELL, MELL, EMD, HBAR, FO, FC):
                strip = True
                break
            if not flag and c == HY and k + 1 < n and t1[k + 1] == HY:
                strip = True
                break
    if strip:
        m = 0
        for k in range(n):
            if not _space(t1[k]):
                t1[m] = t1[k]
                m += 1
        n = m
    # (?:。{3,}|[…⋯])+ -> ……
    m = 0
    k = 0
    while k < n:
        c = t1[k]
        start = c in (ELL, MELL) or (
            c == FSTOP and k + 2 < n and t1[k + 1] == FSTOP and t1[k + 2] == FSTOP
        )
        if not start:
            t2[m] = c
            m += 1
            k += 1
            continue
        while k < n:
            c = t1[k]
            if c in (ELL, MELL):
                k += 1
            elif c == FSTOP and k + 2 < n and t1[k + 1] == FSTOP and t1[k + 2] == FSTOP:
                while k < n and t1[k] == FSTOP:
                    k += 1
            else:
                break
        t2[m] = ELL
        t2[m + 1] = ELL
        m += 2
    n = m
    # (?:-{2,}|[—―])+ -> ——, but not before an ASCII word (--help)
    if not flag:
        m = 0
        k = 0
        while k < n:
            c = t2[k]
            start = c in (EMD, HBAR) or (c == HY and k + 1 < n and t2[k + 1] == HY)
            if not start:
                t1[m] = c
                m += 1
                k += 1
                continue
            while k < n:
                c = t2[k]
                if c in (EMD, HBAR):
                    k += 1
                elif c == HY and k + 1 < n and t2[k + 1] == HY:
                    while k < n and t2[k] == HY:
                        k += 1
                else:
                    break
            t1[m] = EMD
            t1[m + 1] = EMD
            m += 2
        n = m
    else:
        for k in range(n):
            t1[k] = t2[k]
    # t1 holds the run
    if collapse:
        n = _squeeze(t2, _collapse(t1, n, t2), FSTOP, t1)
    for k in range(n):
        out[k] = t1[k]
    return n


@njit(cache=True, nogil=True)
def _rewrite_lat(s, i, j, pcls, ncls, palnum, pdigit, ndigit, collapse, t1, t2, out):
    has_fw = False
    for k in range(i, j):
        c = s[k]
        if _fw_mark6(c) or (c == ELL and k + 1 < j and s[k + 1] == ELL):
            has_fw = True
            break
        if (c in (FLP, FRP)) and (k == i or not _tag(s[k - 1])):
            has_fw = True
            break
    n = 0
    if not has_fw:
        for k in range(i, j):
            t1[n] = s[k]
            n += 1
    else:
        # …{2,} -> ...
        m = 0
        k = i
        while k < j:
            c = s[k]
            if c == ELL and k + 1 < j and s[k + 1] == ELL:
                while k < j and s[k] == ELL:
                    k += 1
                t2[m] = 0x2E
                t2[m + 1] = 0x2E
                t2[m + 2] = 0x2E
                m += 3
            else:
                t2[m] = c
                m += 1
                k += 1
        # full width -> ASCII; a tagged parenthesis stays as it is
        k = 0
        while k < m:
            c = t2[k]
            if _tag(c) and k + 1 < m and _paren(t2[k + 1]):
                k += 2
                continue
            t2[k] = _to_ascii(c)
            k += 1
        # [ \t]+([,.?!:;)]) -> $1
        k = 0
        while k < m:
            c = t2[k]
            if _space(c):
                e = k
                while e < m and _space(t2[e]):
                    e += 1
                if e < m and (_ascii_mark(t2[e]) and t2[e] != LP):
                    t1[n] = t2[e]
                    n += 1
                    k = e + 1
                else:
                    for q in range(k, e):
                        t1[n] = t2[q]
                        n += 1
                    k = e
            else:
                t1[n] = c
                n += 1
                k += 1
        last = s[j - 1]
        before = s[j - 2] if j - 2 >= i else -1
        word_next = ncls == CLS_LAT
        if (
            (_fw_mark6(last) or last == FRP)
            and (j - 1 == i or not _tag(before))
            and (word_next or (ndigit and not pdigit))
        ):
            t1[n] = SP
            n += 1
        if j - 2 >= i and _quote6(last) and word_next:
            if before == 0xFF0C or before == 0xFF1A or before == 0xFF1B:  # ，：； then a quote
                t1[n] = t1[n - 1]
                t1[n - 1] = SP
                n += 1
            elif before == FSTOP or before == 0xFF1F or before == 0xFF01:  # 。？！ then a quote
                t1[n] = SP
                n += 1
        if s[i] == FLP and (palnum or pcls == CLS_LAT):
            for k in range(n, 0, -1):
                t1[k] = t1[k - 1]
            t1[0] = SP
            n += 1
    if collapse:
        n = _collapse(t1, n, t2)
        for k in range(n):
            out[k] = t2[k]
    else:
        for k in range(n):
            out[k] = t1[k]
    return n


@njit(cache=True, nogil=True)
def _segments(a, n, b, lean, tab, collapse, keep_space, cjk_doc, t1, t2, t3, prot):
    """Tokenize `a` like `_SEGMENT` and rewrite each run by its context.

    Returns the new length, or -1 when no run changed (then `b` is not written).
    """
    memo = np.full(3, -1, dtype=np.int64)
    o = 0
    last = 0  # a[last:] is not yet in b
    i = np.int64(0)  # not a literal 0: numba would compile callees for that type too
    while i < n:
        c = a[i]
        if _alnum(c) or c == 0x5F:
            e = _protected(a, n, i, tab, memo, prot)
            if e > 0:
                i = e
                continue
        if not (tab[c] & RUN):
            i = max(_other(a, n, i, tab), i + 1)
            continue
        j = i + 1
        while j < n and (tab[a[j]] & RUN):
            j += 1
        pch = a[i - 1] if i > 0 else -1
        nch = a[j] if j < n else -1
        pcls = _cls(pch, tab)
        ncls = _cls(nch, tab)
        palnum = pch >= 0 and _alnum(pch)
        nalnum = nch >= 0 and _alnum(nch)
        if pcls == CLS_CJK or ncls == CLS_CJK:
            ctx = ZH
        elif pcls == CLS_LAT or ncls == CLS_LAT:
            ctx = LATN
        else:
            ctx = lean
        if ctx == LATN and cjk_doc:  # full-width marks after Latin words stay in CJK text
            ctx = KEEP
        keep = False
        if palnum and nalnum:
            keep = True
            for k in range(i, j):
                if not _glue(a[k]):
                    keep = False
                    break
        if not keep:
            if ctx == ZH:
                keep = j == i + 1 and (_fw_mark(c) or _quote4(c))
            else:
                keep = not _needs_other(a, i, j)
        if keep:
            i = j
            continue
        if 2 * (j - i) + 8 > len(t1):  # a run longer than the temporaries
            t1 = np.empty(4 * (j - i) + 16, dtype=np.int32)
            t2 = np.empty(4 * (j - i) + 16, dtype=np.int32)
            t3 = np.empty(4 * (j - i) + 16, dtype=np.int32)
        if ctx == ZH:
            m = _rewrite_zh(a, i, j, pcls, ncls, nalnum, collapse, keep_space, t1, t2, t3)
        elif ctx == LATN:
            pdigit = pch >= 0 and _digit(pch)
            ndigit = nch >= 0 and _digit(nch)
            m = _rewrite_lat(a, i, j, pcls, ncls, palnum, pdigit, ndigit, collapse, t1, t2, t3)
        elif collapse:
            m = _collapse(a[i:j], j - i, t3)
        else:
            i = j
            continue
        same = m == j - i
        if same:
            for k in range(m):
                if t3[k] != a[i + k]:
                    same = False
                    break
        if not same:
            o = _copy(a, last, i, b, o)
            o = _copy(t3, 0, m, b, o)
            last = j
        i = j
    if last == 0:
        return -1
    return _copy(a, last, n, b, o)


# =======================================================================================
# `_finish`: spacing around parentheses made ASCII from full width (these two passes run
# only where such a parenthesis exists), then the tags are dropped while encoding.


@njit(cache=True, nogil=True)
def _space_open(a, n, b, tab):
    """word [ \t]* LO （ [ \t]* -> word ' ' LO （, from a into b."""
    o = 0
    k = 0
    while k < n:
        c = a[k]
        if _word(c, tab):
            m = k + 1
            while m < n and _space(a[m]):
                m += 1
            if m + 1 < n and a[m] == LO and a[m + 1] == FLP:
                p = m + 2
                while p < n and _space(a[p]):
                    p += 1
                b[o] = c
                b[o + 1] = SP
                b[o + 2] = LO
                b[o + 3] = FLP
                o += 4
                k = p
                continue
        b[o] = c
        o += 1
        k += 1
    return o


@njit(cache=True, nogil=True)
def _space_close(a, n, b, tab):
    """[ \t]* LC ） [ \t]* word -> LC ） ' ' word, from a into b."""
    o = 0
    k = 0
    while k < n:
        c = a[k]
        if _space(c) or c == LC:
            m = k
            while m < n and _space(a[m]):
                m += 1
            if m + 1 < n and a[m] == LC and a[m + 1] == FRP:
                p = m + 2
                while p < n and _space(a[p]):
                    p += 1
                if p < n and _word(a[p], tab):
                    b[o] = LC
                    b[o + 1] = FRP
                    b[o + 2] = SP
                    b[o + 3] = a[p]
                    o += 4
                    k = p + 1
                    continue
            if m > k:
                for q in range(k, m):
                    b[o] = a[q]
                    o += 1
                k = m
                continue
        b[o] = c
        o += 1
        k += 1
    return o


# =======================================================================================
# One row, and the batch.


@njit(cache=True, nogil=True)
def _encode_untagged(cp, n, out, pos):
    """UTF-8 of cp[:n] with `_UNTAG` applied: a tag and its parenthesis become the
    decided parenthesis, a tag alone is dropped."""
    k = 0
    while k < n:
        c = cp[k]
        if FO <= c <= LC:
            d = cp[k + 1] if k + 1 < n else -1
            if (c in (FO, LO)) and (d in (LP, FLP)):
                c = FLP if c == FO else LP
                k += 1
            elif (c in (FC, LC)) and (d in (RP, FRP)):
                c = FRP if c == FC else RP
                k += 1
            else:
                k += 1
                continue
        pos = _encode_one(c, out, pos)
        k += 1
    return pos


@njit(cache=True, nogil=True)
def _row(data, start, end, a, b, t1, t2, t3, lean, tab, straight, collapse, keep_space):
    """Decode data[start:end] into `a` and normalize it.

    Returns (buffer, length, state): state 0 = unchanged (copy the input bytes),
    1 = changed, 2 = changed and holding tags (encode with `_encode_untagged`). A row
    holding one of the step's markers is left unchanged. Each pass runs only when the
    row holds a character it reads.
    """
    changed = False
    has_run = False
    has_cjk = False
    dq_open = dq_close = False  # " or “ / " or ”
    has_lsq = has_rsq = has_apos = False
    p_open = p_close = False
    has_dun = False
    prot = 0
    n = 0
    i = start
    while i < end:
        # decode one code point
        c = np.int32(data[i])
        if c < 0x80:
            i += 1
        elif c < 0xE0:
            c = ((c & 0x1F) << 6) | (np.int32(data[i + 1]) & 0x3F)
            i += 2
        elif c < 0xF0:
            c = (
                ((c & 0x0F) << 12)
                | ((np.int32(data[i + 1]) & 0x3F) << 6)
                | (np.int32(data[i + 2]) & 0x3F)
            )
            i += 3
        else:
            c = (
                ((c & 0x07) << 18)
                | ((np.int32(data[i + 1]) & 0x3F) << 12)
                | ((np.int32(data[i + 2]) & 0x3F) << 6)
                | (np.int32(data[i + 3]) & 0x3F)
            )
            i += 4
        if 0xFF02 <= c <= 0xFF5A:  # full-width letters, digits, ＂＇． -> ASCII
            d = c
            if 0xFF10 <= c <= 0xFF19 or 0xFF21 <= c <= 0xFF3A or 0xFF41 <= c <= 0xFF5A:
                d = c - 0xFEE0
            elif c == 0xFF02:
                d = DQ
            elif c == 0xFF07:
                d = SQ
            elif c == 0xFF0E:
                d = 0x2E
            if d != c:
                c = d
                changed = True
        a[n] = c
        n += 1
        if tab[c] & CJK:
            has_cjk = True
        if tab[c] & RUN:
            has_run = True
            if c == DQ:
                dq_open = dq_close = True
            elif c == LDQ:
                dq_open = True
            elif c == RDQ:
                dq_close = True
            elif c == SQ:
                has_apos = True
            elif c == LSQ:
                has_lsq = True
            elif c == RSQ:
                has_rsq = True
            elif c in (LP, FLP):
                p_open = True
            elif c in (RP, FRP):
                p_close = True
            elif c == 0x2E:
                if n >= 4 and a[n - 2] == 0x77 and a[n - 3] == 0x77 and a[n - 4] == 0x77:
                    prot |= HAS_URL  # www.
            elif c >= MARK0:
                return a, n, 0
        elif c == DUN:
            if n >= 2 and a[n - 2] == DUN:
                has_dun = True
        elif c == 0x2F:
            if n >= 2 and a[n - 2] == 0x3A:
                prot |= HAS_URL  # ://
        elif c == 0x40:
            prot |= HAS_AT
        elif MARK0 <= c <= LC:
            return a, n, 0
    if collapse and has_dun:  # 、{2,} -> 、
        n = _squeeze(a, n, DUN, a)
        changed = True
    if not has_run:
        return a, n, 1 if changed else 0
    if dq_open and dq_close and _double_quotes(a, n, lean, straight, tab):
        changed = True
    if (has_apos or (straight and (has_lsq or has_rsq))) and _single_quotes(a, n, straight, tab):
        changed = True
    tags = 0
    if p_open and p_close:
        m, tags = _parentheses(a, n, b, lean, tab)
        if tags:
            a, b = b, a
            n = m
    m = _segments(a, n, b, lean, tab, collapse, keep_space, has_cjk, t1, t2, t3, prot)
    if m >= 0:
        a, b = b, a
        n = m
        changed = True
    if tags & TAG_LO_FW:
        n = _space_open(a, n, b, tab)
        a, b = b, a
    if tags & TAG_LC_FW:
        n = _space_close(a, n, b, tab)
        a, b = b, a
    if tags:
        return a, n, 2
    return a, n, 1 if changed else 0


@njit(cache=True, nogil=True)
def normalize_buffers(data, offsets, lean, tab, straight, collapse, keep_space):
    """Normalize every row of an Arrow-style UTF-8 column; returns (data, offsets)."""
    rows = len(offsets) - 1
    # Work buffers, in code points (n per row). Parentheses add at most one tag each
    # (<= 2n), a run of L characters becomes at most 2L + 2 (so segmentation gives at
    # most 4n + 2), `_finish` adds at most one space per tag: 6n + 64 always holds.
    # t1..t3 hold one run; `_segments` makes bigger ones for a run that needs them.
    cap = 4096
    a = np.empty(cap, dtype=np.int32)
    b = np.empty(cap, dtype=np.int32)
    t1 = np.empty(1024, dtype=np.int32)
    t2 = np.empty(1024, dtype=np.int32)
    t3 = np.empty(1024, dtype=np.int32)
    out = np.empty(len(data) + len(data) // 4 + 1024, dtype=np.uint8)
    out_offsets = np.empty(rows + 1, dtype=np.int64)
    out_offsets[0] = 0
    pos = np.int64(0)
    for r in range(rows):
        start = offsets[r]
        end = offsets[r + 1]
        n = 0
        for k in range(start, end):
            n += (data[k] & 0xC0) != 0x80
        if 6 * n + 64 > cap:
            cap = max(2 * cap, 6 * n + 64)
            a = np.empty(cap, dtype=np.int32)
            b = np.empty(cap, dtype=np.int32)
        res, m, state = _row(
            data, start, end, a, b, t1, t2, t3, lean[r], tab, straight, collapse, keep_space
        )
        need = pos + (4 * m if state else end - start)
        if need > len(out):
            bigger = np.empty(max(2 * len(out), need + 1024), dtype=np.uint8)
            _copy(out, 0, pos, bigger, 0)
            out = bigger
        if state == 0:
            pos = _copy(data, start, end, out, pos)
        elif state == 1:
            for k in range(m):
                pos = _encode_one(res[k], out, pos)
        else:
            pos = _encode_untagged(res, m, out, pos)
        out_offsets[r + 1] = pos
    return out[:pos], out_offsets


# =======================================================================================
# Python side.


def normalize_series(
    text: pl.Series,
    lean: pl.Series,
    straight: bool = True,
    collapse: bool = True,
    keep_cjk_space: bool = True,
) -> pl.Series:
    """`normalize_text` on a String Series with an Int8 lean per row (the compiled path)."""
    name = text.name
    if text.len() == 0:
        return text
    arr = text.cast(pl.String).rechunk().to_arrow()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    # One array flavour for every call (read-only buffers, a writable lean), so that numba
    # compiles and caches a single signature.
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf if data_buf is not None else b"", dtype=np.uint8)
    leans = np.array(lean.cast(pl.Int8).fill_null(KEEP).to_numpy(), dtype=np.int8, copy=True)
    out_data, out_offsets = normalize_buffers(
        data, offsets, leans, _class_table(), bool(straight), bool(collapse), bool(keep_cjk_space)
    )
    out = pa.LargeStringArray.from_buffers(
        len(arr), pa.py_buffer(out_offsets), pa.py_buffer(out_data)
    )
    result = pl.Series(name, out, dtype=pl.String)
    if text.null_count():
        result = pl.select(pl.when(text.is_not_null()).then(result)).to_series().alias(name)
    return result


def warm_up() -> None:
    """Compile (first use) or load the cached machine code, and build the class table."""
    sample = pl.Series(["他说:\"你好!\"(1)第一 https://a.b/c x@y.com don’t ‘q’ '中' ——", None])
    normalize_series(sample, pl.Series([ZH, KEEP], dtype=pl.Int8))


__all__ = ["class_table", "normalize_buffers", "normalize_series", "warm_up"]
