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
        # charset_normalizer rejects texts it finds too chaotic, e.g. GBK dense with
        # full-width punctuation; a candidate that decodes every byte beats Latin-1.
        return next((c for c in CANDIDATES if _decodes_cleanly(sample, c)), "iso8859-1")
    return normalize_name(best.encoding)


def _decodes_cleanly(sample: bytes, codec: str) -> bool:
    """Every byte decodes (a character cut by the end of the sample is fine)."""
    try:
        codecs.getincrementaldecoder(codec)().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


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


# --- HTML pages: the declared charset (HTTP header, then <meta>), then detection ---------

# Labels as browsers read them (WHATWG Encoding Standard): a declared legacy charset
# means its Windows superset, which is what servers actually send.
_HTML_LABELS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "tis-620": "cp874",
    "iso-8859-11": "cp874",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "big5": "big5hkscs",
    "x-euc-jp": "euc_jp",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)""", re.I)
# How far into a page a <meta charset> is looked for; browsers look at 1 KiB, but
# many pages declare it after long inline scripts.
META_SCAN_BYTES = 16 << 10
_ASCII_BYTES = bytes(range(0x80))


@dataclass(frozen=True)
class DecodedPage:
    """A page's text, the codec used, where it came from, and how many bytes were replaced."""

    text: str
    encoding: str
    source: str  # "bom", "http", "meta", "utf-8" (valid UTF-8 overriding a declaration), "detected"
    replaced: int


def html_codec(label: str | None) -> str | None:
    """The Python codec for a declared charset label, or None when it names no known codec."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _HTML_LABELS.get(name, name)
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return _ALIASES.get(codec, codec) if codec != "ascii" else "cp1252"


def meta_charset(body: bytes) -> str | None:
    """The charset a page declares in <meta charset> or <meta http-equiv content=...>."""
    m = _META_CHARSET.search(body, 0, META_SCAN_BYTES)
    if m is None:
        return None
    codec = html_codec(m.group(1).decode("ascii", "replace"))
    # A <meta> read as ASCII cannot be UTF-16/32; browsers read it as UTF-8.
    if codec is not None and codec.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return codec


def decode_html(body: bytes, http_charset: str | None = None) -> DecodedPage:
    """Decode an HTML page: BOM, HTTP charset, <meta> charset, then detection.

    A declared codec is used when the bytes decode under it with at most 1% bad
    bytes (replaced by U+FFFD); otherwise the next source is tried. Bytes that are
    valid UTF-8 with non-ASCII characters are read as UTF-8 whatever a legacy
    declaration says: servers often transcode pages without fixing the <meta>, and
    real legacy text (GBK, windows-1251, EUC-JP) is practically never valid UTF-8.
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            text, bad = _decode_counting(body, name)
            return DecodedPage(text, name, "bom", bad)
    declared = [(html_codec(http_charset), "http"), (meta_charset(body), "meta")]
    declared = [(c, s) for c, s in declared if c is not None]
    if not body.isascii():
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            source = next((s for c, s in declared if c == "utf-8"), "utf-8")
            return DecodedPage(text, "utf-8", source, 0)
    for codec, source in declared:
        text, bad = _decode_counting(body, codec)
        if bad == 0 or bad * 100 <= len(body.translate(None, _ASCII_BYTES)):
            return DecodedPage(text, codec, source, bad)
    codec = detect_encoding(body[:SAMPLE_BYTES])
    text, bad = _decode_counting(body, codec)
    return DecodedPage(text, codec, "detected", bad)


def _decode_counting(data: bytes, codec: str) -> tuple[str, int]:
    """Decode, replacing undecodable bytes with U+FFFD; returns the text and their count."""
    try:
        return data.decode(codec), 0
    except UnicodeDecodeError:
        pass
    text = data.decode(codec, errors="surrogateescape")
    fixed, bad = _ESCAPED.subn("\ufffd", text)
    return fixed, bad


def decode_forced(body: bytes, encoding: str) -> DecodedPage:
    """Decode a page with the codec a recipe names, whatever the page declares."""
    codec = normalize_name(encoding)
    text, bad = _decode_counting(body, codec)
    return DecodedPage(text, codec, "configured", bad)
