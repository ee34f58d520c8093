"""Mojibake that ftfy does not handle: GBK shown as Latin-1, and what cannot be repaired.

- `repair_gbk_latin1`: GBK/GB2312 bytes decoded as Latin-1 (`º½Ïß£º` for `航线：`) are
  encoded back and decoded as GBK, run by run, when every decoded character is Chinese
  and the bytes are not valid UTF-8 (`Ã¤Ã¶` is UTF-8 read as Latin-1: ftfy's case).
  ftfy only knows text that was UTF-8; NFKC makes such runs worse (`º½` -> `o1⁄2`).
- `GARBLED_RUN` / `GARBLED_KINDS`: Rust-regex patterns (Polars) of runs no repair brings
  back: GBK decoded one byte off (`?＃玻埃保蹦辏?`: every pair of GB2312 bytes shifted
  into full-width digits' neighbours), `锟斤拷` (UTF-8 U+FFFD bytes read as GBK), runs of
  U+FFFD, Latin-1 leftovers of UTF-8 that lost bytes, private-use characters, and
  uuencoded bodies.
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------------------------------
# GBK read as Latin-1. Both bytes of a GB2312 character are in 0xA1-0xFE.

GBK_LATIN1_CANDIDATE = r"[\x{A1}-\x{FE}]{4,}"  # Rust regex: the rows worth a look
_GBK_RUN = re.compile(r"[\xa1-\xfe]{4,}")
_GBK_SHORT_RUN = re.compile(r"[\xa1-\xfe]{2,3}")
_CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff01-\uff5e\u2014\u2026\u201c\u201d\u00b7]+")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def _decode_run(m: re.Match[str]) -> str:
    run = m.group(0)
    if len(run) % 2:
        return run
    raw = run.encode("latin-1")
    try:
        raw.decode("utf-8")
        return run  # UTF-8 read as Latin-1 (Ã¤Ã¶): ftfy's business
    except UnicodeError:
        pass
    try:
        out = raw.decode("gbk")
    except UnicodeError:
        return run
    if _CHINESE.fullmatch(out) and _HAN.search(out):
        return out
    return run


def repair_gbk_latin1(text: str) -> str:
    """`text` with each run of GBK bytes shown as Latin-1 decoded, when it decodes to Chinese.

    Runs of two characters (one Chinese character: 1401ÊÒ) are taken only in a text where
    a longer run was repaired."""
    out = _GBK_RUN.sub(_decode_run, text)
    if out != text:
        out = _GBK_SHORT_RUN.sub(_decode_run, out)
    return out


# ---------------------------------------------------------------------------------------
# Unrepairable runs (Rust regex syntax, for Polars).

# GB2312 text decoded one byte off: each full-width digit or letter (bytes A3 xx) turns
# into the character whose second byte is A3 (０１２… -> 埃保玻…, and ＃ for A3 A3), and
# the bytes left over at the edges show as `?`. Three of these in a row never occur in
# real text (the same class as the gold bench's check).
SHIFTED_GBK = r"[埃保玻常矗担叮罚福梗＃]{3,}"


def _han_outside_gb2312() -> str:
    """A regex class body of the CJK Unified Ideographs that GB2312 does not hold."""
    ranges: list[list[int]] = []
    for cp in range(0x4E00, 0xA000):
        try:
            chr(cp).encode("gb2312")
            continue
        except UnicodeEncodeError:
            pass
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(rf"\x{{{a:X}}}" if a == b else rf"\x{{{a:X}}}-\x{{{b:X}}}" for a, b in ranges)


# Bytes of another encoding (or binary) decoded as GBK: rare ideographs outside GB2312,
# each followed by an ASCII character (鏜5覯t覯5覯8譥；). Simplified text uses GB2312
# characters, traditional text does not interleave them with ASCII.
BINARY_AS_GBK = rf"(?:[{_han_outside_gb2312()}][!-~\x{{FF1B}}]){{4,}}"
GARBLED_KINDS: dict[str, str] = {
    # U+FFFD (a character lost in decoding) and 锟斤拷 (UTF-8 U+FFFD bytes read as GBK)
    "replacement": r"\x{FFFD}+|(?:锟斤拷)+",
    # with the edge bytes shown as "?" and up to three shifted neighbours before them
    "shifted_gbk": rf"\??{SHIFTED_GBK}(?:[^\s?？]{{0,3}}\?)?",
    # UTF-8 read as Latin-1/cp1252 that ftfy could not take back (bytes lost or mixed):
    # three or more "Ã©"-like pairs in a row
    "latin1_utf8": r"(?:[\x{C2}-\x{F4}][\x{80}-\x{BF}\x{2018}-\x{201E}\x{20AC}\x{2122}]){3,}",
    # GBK shown as Latin-1 that did not decode: three or more high Latin-1 pairs, each
    # with a letter (a run of middle dots ······ is decoration, not mojibake)
    "latin1_gbk": r"(?:[\x{C0}-\x{FF}][\x{80}-\x{FF}]|[\x{A1}-\x{BF}][\x{C0}-\x{FF}]){3,}",
    # private-use characters (portal separators, font-specific glyphs)
    "private_use": r"[\x{E000}-\x{F8FF}]+",
    "binary_as_gbk": BINARY_AS_GBK,
    # uuencoded lines: "M" and 60 characters from the uuencode alphabet
    "uuencode": r"(?m)^M[\x{21}-\x{60}]{60}\r?$",
}
GARBLED_RUN = "|".join(f"(?:{p})" for p in GARBLED_KINDS.values())
