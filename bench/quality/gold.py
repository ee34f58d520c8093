"""Hand-checked gold sets for the quality bench: labels in the repo, texts in ../shared/corpora.

Three JSONL files under bench/quality/gold/ (format and provenance: bench/quality/README.md):

- docs.jsonl: one keep/reject decision per document, with a category and a reason;
- spans.jsonl: for some of those documents, which lines/spans are content and which are
  boilerplate a line-level step should remove;
- cleaning.jsonl: `before` snippets found in real documents and the `after` an editor wants
  from one cleaning step (many are "must stay unchanged").

Every record carries a `locator` (where its text lives under the corpora folder) and `sha`,
the first 16 hex digits of the SHA-256 of the located source unit, so a changed corpus is
caught instead of silently scoring different text. `resolve` turns a locator into text;
`load_*` read and verify the files and raise `GoldError` subclasses that say what is wrong.
"""

from __future__ import annotations

import csv
import email
import email.header
import gzip
import hashlib
import io
import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GOLD_DIR = HERE / "gold"
DOCS_FILE = GOLD_DIR / "docs.jsonl"
SPANS_FILE = GOLD_DIR / "spans.jsonl"
CLEANING_FILE = GOLD_DIR / "cleaning.jsonl"
CORPORA_ENV = "CORPUSKIT_CORPORA"

LABELS = ("keep", "reject")
DOMAINS = ("news", "forum", "book", "web", "junk")
SPAN_LABELS = ("keep", "remove")
SPAN_DEFAULTS = ("keep", "remove", "ignore")
CLEANING_STEPS = ("fix_unicode", "clean_text", "normalize_punctuation", "mask_pii")
# Locator kinds whose text the bench gets from corpuskit's own readers (html, warc):
# `resolve` gives no text for them, only the raw bytes their hash covers.
READER_KINDS = ("html", "warc")


class GoldError(RuntimeError):
    """A gold file or a locator that cannot be used."""


class CorporaMissing(GoldError):
    """../shared/corpora (or $CORPUSKIT_CORPORA) is absent."""


class HashMismatch(GoldError):
    """The located text is not the text that was labelled."""


def corpora_root(path: str | Path | None = None) -> Path:
    """The corpora folder: `path`, else $CORPUSKIT_CORPORA, else ../shared/corpora."""
    root = Path(path or os.environ.get(CORPORA_ENV) or ROOT.parent / "shared" / "corpora")
    if not root.is_dir():
        raise CorporaMissing(
            f"{root} is absent: the gold texts live in ../shared/corpora beside the repo "
            f"(or set {CORPORA_ENV})"
        )
    return root.resolve()


def short_hash(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:16]


@dataclass(frozen=True)
class Source:
    """A located document: its text (None where a corpuskit reader extracts it)."""

    text: str | None
    sha: str
    title: str | None = None
    path: Path | None = None


# --- raw files ---------------------------------------------------------------------


@lru_cache(maxsize=512)
def _file_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise GoldError(f"{path}: no such file")
    return path.read_bytes()


@lru_cache(maxsize=16)
def _lines(path: Path) -> list[bytes]:
    return _file_bytes(path).split(b"\n")


@lru_cache(maxsize=4)
def _csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(_file_bytes(path).decode("utf-8"))))


def _decode(data: bytes, encoding: str) -> str:
    text = data.decode(encoding)
    return text[1:] if text.startswith("\ufeff") else text


# --- e-mail bodies -------------------------------------------------------------------

_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
}


def _charset(name: str | None, fallback: str) -> str:
    name = (name or fallback).lower()
    return _CHARSET_ALIASES.get(name, name)


def _decode_payload(data: bytes, charset: str | None, fallback: str) -> str:
    for cs in (_charset(charset, fallback), fallback):
        try:
            return data.decode(cs)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode(fallback, errors="replace")


def decode_header(value: str | None, fallback: str) -> str | None:
    """An RFC 2047 header (`=?gb2312?B?...?=`) as text."""
    if value is None:
        return None
    parts = []
    for chunk, cs in email.header.decode_header(value):
        parts.append(chunk if isinstance(chunk, str) else _decode_payload(chunk, cs, fallback))
    return "".join(parts).strip()


def email_body(raw: bytes, fallback: str) -> tuple[str, str | None]:
    """(body, subject) of an RFC 822 message: its text parts, transfer-decoded and charset
    decoded (`fallback` where none is declared). A message that declares multipart but has no
    boundary in its body (most of trec06c) is read as one text body."""
    msg = email.message_from_bytes(raw)
    subject = decode_header(msg.get("Subject"), fallback)
    parts: list[str] = []
    leaves = msg.walk() if msg.is_multipart() else iter([msg])
    for part in leaves:
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if part is not msg and not ctype.startswith("text/"):
            continue
        payload = part.get_payload(decode=True)
        if payload:
            parts.append(_decode_payload(payload, part.get_content_charset(), fallback))
    return "\n\n".join(p.strip("\n") for p in parts), subject


# --- LCSTS -------------------------------------------------------------------------

_LCSTS_DOC = re.compile(r"<doc id=(\d+)>.*?</doc>", re.S)
_LCSTS_FIELD = re.compile(r"<(summary|short_text)>\s*(.*?)\s*</\1>", re.S)


@lru_cache(maxsize=2)
def lcsts_docs(path: Path) -> dict[int, tuple[str, str]]:
    """LCSTS's `<doc id=N>` blocks: {N: (block, summary + newline + short text)}."""
    docs = {}
    for m in _LCSTS_DOC.finditer(_decode(_file_bytes(path), "utf-8")):
        fields = dict(_LCSTS_FIELD.findall(m.group(0)))
        docs[int(m.group(1))] = (m.group(0), f"{fields['summary']}\n{fields['short_text']}")
    return docs


# --- books -------------------------------------------------------------------------

BOOK_MIN_CHARS = 2000
BOOK_MAX_CHARS = 30000
_HEADING_LETTER = re.compile(r"[A-Za-z]")


def _is_heading(lines: list[str], i: int) -> bool:
    line = lines[i].strip()
    if not line or i < 2 or lines[i - 1].strip() or lines[i - 2].strip() or len(line) > 80:
        return False
    if not _HEADING_LETTER.search(line):
        return False
    return line.startswith("CHAPTER") or line == line.upper()


def _split_long(seg: str) -> list[str]:
    if len(seg) <= BOOK_MAX_CHARS:
        return [seg]
    mid = len(seg) // 2
    cuts = [m.start() for m in re.finditer(r"\n\n+", seg)]
    if not cuts:
        return [seg]
    cut = min(cuts, key=lambda c: abs(c - mid))
    return [*_split_long(seg[:cut].strip("\n")), *_split_long(seg[cut:].strip("\n"))]


@lru_cache(maxsize=8)
def book_segments(path: Path) -> dict[str, str]:
    """A Project Gutenberg book as chapter-size documents (the rule in README.md).

    `header`: everything up to the `*** START OF` line; `footer`: from the `*** END OF` line
    (the licence); the body is cut before each heading (a line after two blank lines, at most
    80 characters, starting with CHAPTER or in capitals); a piece under BOOK_MIN_CHARS is
    joined to the next; a piece over BOOK_MAX_CHARS is halved at the paragraph break nearest
    its middle, repeatedly. Body segments are keyed "1", "2", ... in book order.
    """
    text = _decode(_file_bytes(path), "utf-8").replace("\r\n", "\n")
    lines = text.split("\n")
    try:
        start = next(i for i, ln in enumerate(lines) if ln.startswith("*** START OF"))
        end = next(i for i, ln in enumerate(lines) if ln.startswith("*** END OF"))
    except StopIteration:
        raise GoldError(f"{path}: no Project Gutenberg START/END lines") from None
    body = lines[start + 1 : end]
    cuts = [0, *(i for i in range(1, len(body)) if _is_heading(body, i)), len(body)]
    pieces = ["\n".join(body[a:b]).strip("\n") for a, b in itertools.pairwise(cuts)]
    merged: list[str] = []
    carry = ""
    for piece in (p for p in pieces if p.strip()):
        piece = f"{carry}\n\n\n{piece}" if carry else piece
        if len(piece) < BOOK_MIN_CHARS:
            carry = piece
            continue
        merged.append(piece)
        carry = ""
    if carry:
        merged[-1] = f"{merged[-1]}\n\n\n{carry}"
    segments = {"header": "\n".join(lines[: start + 1]), "footer": "\n".join(lines[end:])}
    body_segments = [s for m in merged for s in _split_long(m)]
    segments.update({str(i): s for i, s in enumerate(body_segments, start=1)})
    return segments


# --- HTML visible text -------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    "p div li br tr h1 h2 h3 h4 h5 h6 ul ol table dd dt dl section article header footer "
    "nav td th title option form blockquote pre center".split()
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")


@lru_cache(maxsize=64)
def visible_lines(path: Path, encoding: str) -> tuple[str, ...]:
    """Every visible text line of a page (scripts, styles and comments dropped), the way a
    crude whole-page extractor (Common Crawl's WET, a tag stripper) would give it: blocks
    become lines, runs of spaces one space, empty lines dropped."""
    import lxml.html

    raw = _file_bytes(path)
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", raw.decode(encoding, errors="replace"))
    doc = lxml.html.document_fromstring(html, parser=lxml.html.HTMLParser(remove_comments=True))
    for el in doc.xpath("//script|//style|//noscript|//template"):
        el.drop_tree()
    for el in doc.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
    lines = (_SPACES.sub(" ", ln).strip() for ln in doc.text_content().split("\n"))
    return tuple(ln for ln in lines if ln)


# --- WARC records --------------------------------------------------------------------


@lru_cache(maxsize=8)
def warc_blocks(path: Path) -> dict[str, bytes]:
    """The content block of every record of a WARC file, by WARC-Record-ID."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    blocks = {}
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f, record_types=WarcRecordType.any_type, parse_http=False):
            blocks[rec.record_id.strip("<>\u2039\u203a")] = rec.reader.read()
    return blocks


# --- locators ------------------------------------------------------------------------


def _need(loc: dict[str, Any], *keys: str) -> None:
    missing = [k for k in keys if k not in loc]
    if missing:
        raise GoldError(f"locator {loc}: missing {', '.join(missing)}")


def resolve(loc: dict[str, Any], corpora: Path | None = None) -> Source:
    """The text a locator points at, and the hash of the unit it was labelled on."""
    corpora = corpora or corpora_root()
    _need(loc, "kind", "path")
    path = corpora / loc["path"]
    kind = loc["kind"]
    if kind == "line":
        _need(loc, "line")
        lines = _lines(path)
        if not 1 <= loc["line"] <= len(lines):
            raise GoldError(f"{path}: no line {loc['line']}")
        raw = lines[loc["line"] - 1].rstrip(b"\r")
        sep = loc.get("sep", "\t")
        fields = raw.decode("utf-8").split(sep)
        return Source(sep.join(fields[loc.get("field", 0) :]), short_hash(raw), path=path)
    if kind == "lines":
        _need(loc, "start", "end")
        lines = _lines(path)
        if not 1 <= loc["start"] <= loc["end"] <= len(lines):
            raise GoldError(f"{path}: lines {loc['start']}-{loc['end']} out of {len(lines)}")
        raw = b"\n".join(ln.rstrip(b"\r") for ln in lines[loc["start"] - 1 : loc["end"]])
        return Source(raw.decode(loc.get("encoding", "utf-8")), short_hash(raw), path=path)
    if kind == "lcsts":
        _need(loc, "doc")
        docs = lcsts_docs(path)
        if loc["doc"] not in docs:
            raise GoldError(f"{path}: no <doc id={loc['doc']}>")
        block, text = docs[loc["doc"]]
        return Source(text, short_hash(block), path=path)
    if kind == "csv_row":
        _need(loc, "row")
        rows = _csv_rows(path)
        if not 0 <= loc["row"] < len(rows):
            raise GoldError(f"{path}: no row {loc['row']}")
        row = rows[loc["row"]]
        title = row[loc.get("title_col", 1)]
        body = "\n".join(row[c] for c in loc.get("text_cols", [2]))
        return Source(f"{title}\n{body}", short_hash("\x1f".join(row)), title, path)
    if kind == "file":
        raw = _file_bytes(path)
        return Source(_decode(raw, loc.get("encoding", "utf-8")), short_hash(raw), path=path)
    if kind == "email":
        raw = _file_bytes(path)
        body, subject = email_body(raw, loc.get("encoding", "latin-1"))
        return Source(body, short_hash(raw), subject, path)
    if kind == "book":
        _need(loc, "segment")
        segments = book_segments(path)
        seg = str(loc["segment"])
        if seg not in segments:
            raise GoldError(f"{path}: no segment {seg} (has {len(segments)})")
        return Source(segments[seg], short_hash(segments[seg]), path=path)
    if kind == "html_lines":
        _need(loc, "start", "end")
        lines = visible_lines(path, loc.get("encoding", "utf-8"))
        if not 0 <= loc["start"] < loc["end"] <= len(lines):
            raise GoldError(f"{path}: lines {loc['start']}-{loc['end']} out of {len(lines)}")
        text = "\n".join(lines[loc["start"] : loc["end"]])
        return Source(text, short_hash(text), path=path)
    if kind == "html":
        return Source(None, short_hash(_file_bytes(path)), path=path)
    if kind == "warc":
        _need(loc, "record_id")
        blocks = warc_blocks(path)
        if loc["record_id"] not in blocks:
            raise GoldError(f"{path}: no record {loc['record_id']}")
        return Source(None, short_hash(blocks[loc["record_id"]]), path=path)
    raise GoldError(f"locator {loc}: unknown kind {kind!r}")


def verified(record: dict[str, Any], corpora: Path | None = None) -> Source:
    """`resolve(record["locator"])`, checked against the record's `sha`."""
    src = resolve(record["locator"], corpora)
    if src.sha != record["sha"]:
        raise HashMismatch(
            f"{record['id']}: {record['locator']} now hashes to {src.sha}, the gold label was "
            f"made on {record['sha']}; re-check the label against the new text"
        )
    return src


# --- gold files ----------------------------------------------------------------------

DOC_KEYS = {"id", "corpus", "domain", "lang", "locator", "sha", "label", "category"}
SPAN_KEYS = {"id", "default", "spans"}
CLEANING_KEYS = {"id", "step", "config", "lang", "kind", "locator", "sha", "before", "after"}


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise GoldError(f"{path}:{n}: not JSON ({e})") from None


def _check_keys(path: Path, rec: dict[str, Any], keys: set[str]) -> None:
    missing = keys - rec.keys()
    if missing:
        raise GoldError(f"{path}: {rec.get('id', '?')}: missing {', '.join(sorted(missing))}")


def _records(path: Path, keys: set[str]) -> list[dict[str, Any]]:
    """The records of a gold file, each with `keys` and a unique `id`."""
    records = list(read_jsonl(path))
    seen: set[str] = set()
    for rec in records:
        _check_keys(path, rec, keys)
        if rec["id"] in seen:
            raise GoldError(f"{path}: duplicate id {rec['id']}")
        seen.add(rec["id"])
    return records


def load_docs(path: Path = DOCS_FILE) -> list[dict[str, Any]]:
    """The document gold, schema-checked (not hash-checked: see `verified`)."""
    docs = _records(path, DOC_KEYS)
    for d in docs:
        if d["label"] not in LABELS or d["domain"] not in DOMAINS:
            raise GoldError(f"{path}: {d['id']}: label {d['label']!r} / domain {d['domain']!r}")
        if d["label"] == "reject" and not d.get("reason"):
            raise GoldError(f"{path}: {d['id']}: a reject needs a reason")
    return docs


def load_spans(path: Path = SPANS_FILE) -> dict[str, dict[str, Any]]:
    """Span gold by document id: {default, spans}. Each span is {text, label, kind}: `text`
    is found in the text the step sees (in document order); `label` keep (content) or remove
    (boilerplate); characters no span covers count as `default` (keep, remove or ignore)."""
    out = {}
    for rec in read_jsonl(path):
        _check_keys(path, rec, SPAN_KEYS)
        if rec["default"] not in SPAN_DEFAULTS:
            raise GoldError(f"{path}: {rec['id']}: default {rec['default']!r}")
        for s in rec["spans"]:
            if s.get("label") not in SPAN_LABELS or not s.get("text"):
                raise GoldError(f"{path}: {rec['id']}: bad span {s}")
        out[rec["id"]] = {"default": rec["default"], "spans": rec["spans"]}
    return out


def load_cleaning(path: Path = CLEANING_FILE) -> list[dict[str, Any]]:
    """Cleaning gold: one before/after edit per record."""
    items = _records(path, CLEANING_KEYS)
    for it in items:
        if it["step"] not in CLEANING_STEPS:
            raise GoldError(f"{path}: {it['id']}: unknown step {it['step']!r}")
    return items
