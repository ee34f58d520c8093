"""Web archives: WARC (HTTP responses holding HTML) and WET (Common Crawl extracted text).

Parsing is FastWARC's (resiliparse): it is maintained, reads .warc, .warc.gz (one
gzip member per record, or one stream) and decodes HTTP transfer and content
encodings. Its quirks are handled here: it accepts WARC/0.18 records (read like
1.0), stops with OSError at a damaged record (reading resumes at the next record
boundary, the damaged stretch becomes one reject), and ends silently at a truncated
gzip member (the unread tail is detected and rejected).

Every `response` and `resource` record (WARC) or `conversion` record (WET) counts as
one record read: it becomes a document or a reject with a reason. Records that never
carry a page (warcinfo, request, metadata, revisit) are passed over without a row.

Reject reasons: read:http_status (not 200), read:not_html, read:truncated_input,
read:malformed_record, read:too_large, read:no_main_text, read:extraction_timeout,
read:extraction_error, read:undecodable (with on_decode_error: reject).
Flags: decode_replaced (bytes replaced while decoding), bad_warc_date (a WARC-Date
that does not parse; `fetch_date` is then null).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from corpuskit.readers.base import InputFile, ReadBatch, Reader, Unit, source_name
from corpuskit.readers.extract import DEFAULT_OPTIONS, ExtractOptions, Page, is_html_type, read_page
from corpuskit.readers.html import BATCH_DOCS, PageRows
from corpuskit.readers.sources import compression_of

# HTTP headers are read from this much of a record that is too large to read whole.
HEAD_BYTES = 64 << 10
# Bytes read at a time when looking for the next record after damage.
_SCAN_BYTES = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = re.compile(rb"(?:^|\n)WARC/\d")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([^\s;\"']+)", re.I)
BAD_DATE_FLAG = "bad_warc_date"


@dataclass
class Outcome:
    """What one record became: a document, a reject, or nothing (not a page record)."""

    text: str | None = None
    url: str | None = None
    title: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    page: Page | None = None
    reason: str | None = None
    detail: str | None = None
    truncated: bool = False


@dataclass
class Damaged:
    """A stretch of the file that could not be read as records."""

    offset: int
    reason: str
    detail: str


def unwrap_uri(uri: str | None) -> str | None:
    """A WARC-Target-URI without the <...> (or ‹...›) some writers put around it."""
    if not uri:
        return None
    uri = uri.strip()
    if uri[:1] in "<‹" and uri[-1:] in ">›":
        uri = uri[1:-1].strip()
    return uri or None


def record_meta(rec: WarcRecord) -> tuple[dict[str, Any], list[str]]:
    """Fetch date and record id of a record, and a flag when its WARC-Date is unreadable."""
    flags = []
    raw = rec.headers.get("WARC-Date")
    try:
        date = rec.record_date
    except Exception:
        date = None
    if date is None and raw:
        flags.append(BAD_DATE_FLAG)
    meta = {
        "fetch_date": date.strftime("%Y-%m-%dT%H:%M:%SZ") if date is not None else None,
        "record_id": unwrap_uri(rec.headers.get("WARC-Record-ID")),
    }
    return meta, flags


def declared_length(rec: WarcRecord) -> int | None:
    value = rec.headers.get("Content-Length")
    try:
        n = int(value) if value is not None else None
    except ValueError:
        return None
    return n if n is not None and n >= 0 else None


def iter_records(
    path: Path, handle: Callable[[WarcRecord], Outcome | None]
) -> Iterator[Outcome | Damaged]:
    """`handle(record)` for every record in order; damaged stretches as Damaged.

    `handle` reads the record's content; a read error there (a corrupt gzip member)
    or in the parser makes the stretch from that record to the next readable record
    boundary one Damaged. A file that ends inside a record yields a Damaged for the
    unread tail when no record reported it.
    """
    gz = _is_gzip(path)
    start = 0
    probing = False  # looking for a readable record after damage
    while True:
        last: int | None = None
        current: int | None = None
        last_truncated = False
        error: str | None = None
        with open(path, "rb") as f:
            f.seek(start)
            try:
                for rec in ArchiveIterator(
                    f, record_types=WarcRecordType.any_type, parse_http=False
                ):
                    current = rec.stream_pos
                    out = handle(rec)
                    probing = False
                    last, current = current, None
                    if out is not None:
                        last_truncated = out.truncated
                        yield out
            except OSError as e:
                error = f"{type(e).__name__}: {e}"
        if probing:
            # A candidate boundary that did not hold a readable record: try the next.
            nxt = _next_boundary(path, start + 1, gz)
            if nxt is None:
                return
            start = nxt
            continue
        if error is None:
            if last_truncated:
                return
            tail = _unread_tail(path, start if last is None else last, gz)
            if tail is None:
                return
            bad_at, error = tail
            reason = "truncated_input"
        else:
            bad_at = current if current is not None else (start if last is None else last + 1)
            reason = "malformed_record"
        nxt = _next_boundary(path, bad_at + 1, gz)
        unit = "compressed byte" if gz else "byte"
        if current is not None:
            what = f"the record at {unit} {bad_at} is damaged ({error})"
        elif last is not None:
            what = f"damaged data after the record at {unit} {last} ({error})"
        else:
            what = f"damaged data from {unit} {bad_at} ({error})"
        if nxt is None:
            yield Damaged(bad_at, reason, f"{what}; nothing after it could be read")
            return
        yield Damaged(bad_at, reason, f"{what}; reading resumed at {unit} {nxt}")
        start, probing = nxt, True


def _is_gzip(path: Path) -> bool | None:
    """True for gzip, False for an uncompressed file, None for other compressions."""
    with open(path, "rb") as f:
        head = f.read(3)
    if head == _GZIP_MAGIC:
        return True
    if compression_of(path) is not None or head[:2] in (b"\x28\xb5", b"\x04\x22"):
        return None
    return False


def _next_boundary(path: Path, pos: int, gz: bool | None) -> int | None:
    """The first offset at or after `pos` where a record (gzip member) may start."""
    if gz is None:
        return None
    with open(path, "rb") as f:
        f.seek(max(pos - 1, 0))
        base = max(pos - 1, 0)
        carry = b""
        while block := f.read(_SCAN_BYTES):
            data = carry + block
            offset = base - len(carry)
            if gz:
                i = data.find(_GZIP_MAGIC, max(pos - offset, 0))
                if i >= 0:
                    return offset + i
            else:
                for m in _WARC_MAGIC.finditer(data):
                    at = offset + m.start() + (data[m.start() : m.start() + 1] == b"\n")
                    if at >= pos:
                        return at
            carry = data[-8:]
            base += len(block)
    return None


def _unread_tail(path: Path, last: int, gz: bool | None) -> tuple[int, str] | None:
    """Where the file holds bytes after the last record that the parser did not report.

    FastWARC ends without an error when a file is cut inside a gzip member or a
    record header; this walks the members (or records) from the last record's start.
    """
    if gz is None or path.stat().st_size <= last:
        return None
    with open(path, "rb") as f:
        f.seek(last)
        return _gzip_tail(f, last) if gz else _plain_tail(f, last)


def _gzip_tail(f: Any, pos: int) -> tuple[int, str] | None:
    start = member = pos
    fed = False
    d = zlib.decompressobj(31)
    pending = b""
    while True:
        chunk = pending or f.read(_SCAN_BYTES)
        pending = b""
        if not chunk:
            break
        if not fed and not chunk.strip(b"\x00"):
            pos += len(chunk)
            member = pos
            continue
        fed = True
        try:
            d.decompress(chunk, 1 << 24)
        except zlib.error as e:
            return member, f"zlib: {e}"
        if d.eof:
            used = len(chunk) - len(d.unused_data)
            pending = d.unused_data
            pos += used
            member, fed = pos, False
            d = zlib.decompressobj(31)
        else:
            pos += len(chunk)
    # The last record's own member may lack only its trailer: its content was read
    # whole (Content-Length checked), so only later members count as damage.
    return (member, "the file ends inside a gzip member") if fed and member != start else None


def _plain_tail(f: Any, pos: int) -> tuple[int, str] | None:
    while True:
        f.seek(pos)
        head = f.read(HEAD_BYTES)
        if not head.strip():
            return None
        end = head.find(b"\r\n\r\n")
        m = re.search(rb"\r\ncontent-length:\s*(\d+)", head[:end], re.I) if end > 0 else None
        if m is None:
            return pos, "a record header is cut short"
        nxt = pos + end + 4 + int(m.group(1)) + 4
        f.seek(0, 2)
        if nxt > f.tell():
            return pos, "the file ends inside a record"
        pos = nxt


def _charset_of(content_type: str | None) -> str | None:
    m = _CHARSET.search(content_type or "")
    return m.group(1) if m else None


class WarcReader(Reader):
    """WARC files: each HTTP 200 HTML response becomes a document with its main text."""

    format = "warc"
    extensions = (".warc",)
    options: ClassVar[ExtractOptions] = DEFAULT_OPTIONS
    META_SCHEMA: ClassVar[dict[str, pl.DataType]] = {
        "fetch_date": pl.String(),
        "date": pl.String(),
        "content_type": pl.String(),
        "http_status": pl.Int64(),
        "charset": pl.String(),
        "charset_source": pl.String(),
        "record_id": pl.String(),
    }
    RECORD_TYPES: ClassVar[tuple[WarcRecordType, ...]] = (
        WarcRecordType.response,
        WarcRecordType.resource,
    )

    def plan(self, files: list[Path], unit_bytes: int) -> tuple[list[InputFile], list[Unit]]:
        """One unit per file: records can only be found by reading from the start."""
        infos, units = [], []
        for path in files:
            infos.append(InputFile.of(path))
            units.append(Unit(self.input_index, source_name(path), str(path)))
        return infos, units

    def read(self, unit: Unit) -> Iterator[ReadBatch]:
        rows = PageRows(self.spec, self.META_SCHEMA)
        budget = unit.max_records
        for n, out in enumerate(iter_records(Path(unit.path), self.handle), start=1):
            id_ = f"{unit.source}:{n}"
            if isinstance(out, Damaged):
                rows.reject(id_, unit.source, out.reason, f"{unit.source}: {out.detail}")
            elif out.page is not None:
                rows.add_page(id_, unit.source, out.page, f"{unit.source}:{n}", out.meta, out.flags)
            elif out.reason is not None:
                detail = f"{unit.source}:{n}: {out.detail}"
                rows.reject(id_, unit.source, out.reason, detail, out.url, out.meta, out.text or "")
            else:
                rows.add(id_, out.text or "", out.url, out.title, out.meta, out.flags)
            if len(rows) >= BATCH_DOCS:
                yield rows.build(unit.source)
            if budget is not None and n >= budget:
                break
        if len(rows):
            yield rows.build(unit.source)

    def handle(self, rec: WarcRecord) -> Outcome | None:
        """One record: None for records that never hold a page, else its outcome."""
        if rec.record_type not in self.RECORD_TYPES:
            return None
        url = unwrap_uri(rec.headers.get("WARC-Target-URI"))
        meta, flags = record_meta(rec)
        length = declared_length(rec)
        limit = self.options.max_bytes + HEAD_BYTES
        block = rec.reader.read(HEAD_BYTES if length is not None and length > limit else -1)
        if length is None or len(block) < min(length, limit):
            got = f"{len(block)} of {length}" if length is not None else f"{len(block)}"
            return Outcome(
                url=url,
                meta=meta,
                reason="truncated_input",
                detail=f"the record ends early ({got} bytes)",
                truncated=True,
            )
        if rec.record_type == WarcRecordType.response and block.startswith(b"HTTP/"):
            rec.set_bytes_content(block)
            try:
                rec.parse_http(auto_decode="all", quirks_mode=True)
                status = rec.http_headers.status_code
                content_type = rec.http_headers.get("Content-Type")
                payload = rec.reader.read() if len(block) == length else b""
            except OSError as e:
                return Outcome(
                    url=url,
                    meta=meta,
                    reason="malformed_record",
                    detail=f"unreadable HTTP message ({e})",
                )
        else:
            status = None
            content_type = rec.headers.get("Content-Type")
            payload = block
        meta["http_status"] = status
        meta["content_type"] = content_type.split(";", 1)[0].strip() if content_type else None
        if status is not None and status != 200:
            reason = rec.http_headers.reason_phrase or ""
            return Outcome(
                url=url,
                meta=meta,
                reason="http_status",
                detail=f"HTTP {status} {reason}".rstrip(),
            )
        if is_html_type(content_type) is False:
            return Outcome(
                url=url, meta=meta, reason="not_html", detail=f"content type {content_type}"
            )
        if len(block) != length:
            return Outcome(
                url=url,
                meta=meta,
                reason="too_large",
                detail=f"{length} bytes, over the {self.options.max_bytes}-byte limit",
            )
        page = read_page(payload, _charset_of(content_type), url, self.options, self._forced())
        if page.replaced and self.spec.on_decode_error == "reject":
            page = Page(url=url, reason="undecodable", detail=f"{page.replaced} bytes replaced")
        page.url = url or page.url
        return Outcome(url=url, meta=meta, flags=flags, page=page)

    def _forced(self) -> str | None:
        return None if self.spec.encoding == "auto" else self.spec.encoding


class WetReader(WarcReader):
    """WET files (Common Crawl's extracted text): each conversion record is a document."""

    format = "wet"
    extensions = (".wet", ".warc.wet")
    META_SCHEMA: ClassVar[dict[str, pl.DataType]] = {
        "fetch_date": pl.String(),
        "content_type": pl.String(),
        "languages": pl.String(),
        "record_id": pl.String(),
        "refers_to": pl.String(),
    }
    RECORD_TYPES: ClassVar[tuple[WarcRecordType, ...]] = (WarcRecordType.conversion,)

    def handle(self, rec: WarcRecord) -> Outcome | None:
        if rec.record_type not in self.RECORD_TYPES:
            return None
        url = unwrap_uri(rec.headers.get("WARC-Target-URI"))
        meta, flags = record_meta(rec)
        meta["content_type"] = rec.headers.get("Content-Type")
        meta["languages"] = rec.headers.get("WARC-Identified-Content-Language")
        meta["refers_to"] = unwrap_uri(rec.headers.get("WARC-Refers-To"))
        length = declared_length(rec)
        block = rec.reader.read()
        if length is None or len(block) < length:
            return Outcome(
                url=url,
                meta=meta,
                reason="truncated_input",
                detail=f"the record ends early ({len(block)} of {length} bytes)",
                text=block.decode("utf-8", errors="replace"),
                truncated=True,
            )
        encoding = "utf-8" if self.spec.encoding == "auto" else self.spec.encoding
        text = block.decode(encoding, errors="replace")
        if "\ufffd" in text and text.count("\ufffd") > block.count(b"\xef\xbf\xbd"):
            if self.spec.on_decode_error == "reject":
                return Outcome(
                    url=url, meta=meta, reason="undecodable", detail=f"bytes not valid {encoding}"
                )
            flags.append("decode_replaced")
        return Outcome(text=text.strip("\r\n"), url=url, meta=meta, flags=flags)
