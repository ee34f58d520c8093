"""Per-file encoding detection and decoding that never loses a document."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

SAMPLE_BYTES = 256 << 10
# Encodings tried, in this order of preference, when a file is not UTF-8.
CANDIDATES = ["gb18030", "big5", "shift_jis", "euc_jp", "euc_kr", "cp1251", "cp1252", "latin_1"]
# Decode with the superset: GBK files often carry a few GB18030-only characters.
_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "ascii": "utf-8"}
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
_ESCAPED = re.compile("[\udc80-\udcff]")


def normalize_name(name: str) -> str:
    canonical = codecs.lookup(name).name
    return _ALIASES.get(canonical, canonical)


def is_ascii_compatible(encoding: str) -> bool:
    """True where b'\\n' always means a newline, so a file can be cut at newline bytes."""
    return not normalize_name(encoding).startswith(("utf-16", "utf-32"))


def detect_encoding(sample: bytes) -> str:
    """Best guess for a file from its first bytes: BOM, then UTF-8, then statistics."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if not sample:
        return "utf-8"
    if _looks_utf16(sample):
        return "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        # A sample cut inside a multi-byte character is still UTF-8.
        if e.start >= len(sample) - 3 and e.reason == "unexpected end of data":
            return "utf-8"
    if _mostly_utf8(sample):
        return "utf-8"
    best = from_bytes(sample, cp_isolation=CANDIDATES).best()
    if best is None:
        return "iso8859-1"
    return normalize_name(best.encoding)


def _mostly_utf8(sample: bytes) -> bool:
    """UTF-8 text with a few damaged bytes is still UTF-8, not a legacy encoding."""
    text = sample.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 0x7F) - bad
    return good >= 20 and bad * 20 <= good


def _looks_utf16(sample: bytes) -> bool:
    head = sample[:4096]
    return len(head) >= 4 and head.count(0) > len(head) // 4


@dataclass(frozen=True)
class Decoded:
    """UTF-8 bytes of a block, and the 0-based indices of lines that held undecodable bytes."""

    data: bytes
    bad_lines: frozenset[int]


def decode_block(block: bytes, encoding: str) -> Decoded:
    """Decode to UTF-8, replacing undecodable bytes with U+FFFD and noting their lines."""
    enc = normalize_name(encoding)
    if enc == "utf-8":
        try:
            block.decode("utf-8")
            return Decoded(block, frozenset())
        except UnicodeDecodeError:
            pass
    text = block.decode(enc, errors="surrogateescape")
    if not _ESCAPED.search(text):
        return Decoded(block if enc == "utf-8" else text.encode("utf-8"), frozenset())
    lines = text.split("\n")
    bad = frozenset(i for i, line in enumerate(lines) if _ESCAPED.search(line))
    fixed = _ESCAPED.sub("\ufffd", text)
    return Decoded(fixed.encode("utf-8"), bad)
