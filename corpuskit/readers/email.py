"""E-mail and Usenet messages: single message files, folders of them, and mbox files.

Each message is parsed by the standard library (`email` with `policy.default`): MIME
structure, base64 and quoted-printable bodies, RFC 2047 encoded words. The body is the
text/plain part when the message has one, else its text/html part run through the same
main-text extraction as web pages (`corpuskit.readers.extract`); an HTML part stored without its
markup, or a base64-declared body stored decoded (both in trec06c), is read as it is.

Charsets are read as mail clients read them: a declared GB2312 means GBK (GB18030),
ISO-8859-1 means windows-1252. Undeclared text (8-bit headers, bodies) takes the legacy
charset the message declares elsewhere (a part, an encoded word), else the recipe's
`encoding` (a default, never forced over a declaration that fits), else detection; a
declared ISO-8859-1 loses to a multi-byte charset the message declares elsewhere when
the bytes fit it (Chinese clients sent GBK under it), and English text with a few
isolated 8-bit bytes is windows-1252 (detection guesses Big5 for `16\xb5sec`).

Columns: `text` the body, `title` the Subject, `id` the Message-ID (without angle
brackets), else the file path (`path:n` for the n-th message of an mbox); `id_field:
path` always uses the path (some archives reuse Message-IDs). `meta` holds `message_id`,
`from`, `to`, `date` (ISO 8601 when it parses, else as written), `newsgroups`,
`in_reply_to`, `content_type` and `charset` of the body part, `folder` (the name of the
folder holding the message file: the newsgroup of a 20 Newsgroups post, `ham`/`spam` in
TREC spam corpora) and `attachments` (parts that are not the body).

A file is an mbox when its name ends in .mbox/.mbx or its first line is an mbox
`From ` separator; messages are split at `From ` lines and `>From ` escapes are undone.

Every message becomes a document or a reject: read:not_email (no header), read:no_text_part
(only attachments), read:malformed_message (the parser failed), read:truncated_input,
read:too_large, read:no_main_text / read:extraction_timeout / read:extraction_error (HTML
bodies), read:undecodable (with on_decode_error: reject), read:empty_text. Flag
`decode_replaced`: bytes of the body or subject that no charset could decode.
"""

from __future__ import annotations

import codecs
import email
import email.header
import email.policy
import email.utils
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from corpuskit.readers.base import InputFile, ReadBatch, Reader, Unit, source_name
from corpuskit.readers.encoding import (
    DecodedPage,
    decode_forced,
    detect_encoding,
    html_codec,
    normalize_name,
)
from corpuskit.readers.extract import (
    DECODE_FLAG,
    DEFAULT_OPTIONS,
    TOO_LARGE,
    ExtractOptions,
    extract_html,
    looks_like_html,
)
from corpuskit.readers.html import BATCH_DOCS, PageRows, plan_file_groups, read_whole
from corpuskit.readers.sources import open_binary, strip_compression

# `id_field: path` ids messages by file path (path:n in an mbox), never by Message-ID.
PATH_ID = "path"
MESSAGE_ID = "message_id"
MBOX_EXTENSIONS = (".mbox", ".mbx")
# Headers that make a file a message; a file with none of them is read:not_email.
_KNOWN_HEADERS = frozenset(
    {
        "from", "to", "cc", "subject", "date", "message-id", "received", "return-path",
        "newsgroups", "path", "mime-version", "content-type", "reply-to", "sender",
        "in-reply-to", "references", "x-mailer", "organization", "lines",
    }
)  # fmt: skip
_FROM_LINE = re.compile(rb"From \S")
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.M)
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ESCAPED = re.compile("[\udc80-\udcff]")
_ENCODED_WORD = re.compile(r"=\?([^?*]+)[^?]*\?[bBqQ]\?")
_WESTERN = frozenset({"cp1252", "iso8859-1", "latin_1"})
_ASCII_BYTES = bytes(range(0x80))
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.I)
# Media types never read as text; others (text/*, setext/plain, a broken multipart) are.
_BINARY_TYPES = frozenset({"image", "audio", "video", "application", "font", "model"})
_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
_BASE64_CHARS = re.compile(r"[A-Za-z0-9+/=]")
# The largest message read whole; larger ones are rejected (mostly attachments).
MAX_MESSAGE_BYTES = 64 << 20


@dataclass
class Body:
    """The text of a message, or why it has none."""

    text: str | None = None
    content_type: str | None = None
    charset: str | None = None
    replaced: int = 0
    attachments: int = 0
    reason: str | None = None
    detail: str | None = None


class EmailReader(Reader):
    """RFC 822 / MIME messages: one per file (folders of them) or many per mbox file."""

    format = "email"
    extensions = (".eml", *MBOX_EXTENSIONS)
    options: ClassVar[ExtractOptions] = DEFAULT_OPTIONS
    META_SCHEMA: ClassVar[dict[str, pl.DataType]] = {
        MESSAGE_ID: pl.String(),
        "from": pl.String(),
        "to": pl.String(),
        "date": pl.String(),
        "newsgroups": pl.String(),
        "in_reply_to": pl.String(),
        "content_type": pl.String(),
        "charset": pl.String(),
        "folder": pl.String(),
        "attachments": pl.Int64(),
    }

    @property
    def default_charset(self) -> str | None:
        """`encoding:` names the charset of undeclared text (mail clients' default charset);
        it never overrides a charset a message declares and its bytes fit."""
        return None if self.spec.encoding == "auto" else normalize_name(self.spec.encoding)

    def plan(self, files: list[Path], unit_bytes: int) -> tuple[list[InputFile], list[Unit]]:
        """An mbox is a unit of its own; message files go in groups of about `unit_bytes`."""
        return plan_file_groups(self.input_index, files, unit_bytes, alone=is_mbox)

    def read(self, unit: Unit) -> Iterator[ReadBatch]:
        # Rows are built with path ids (so that `source` is right), then given their ids.
        rows = PageRows(self.spec.model_copy(update={"id_field": None}), self.META_SCHEMA)
        budget = unit.max_records
        if unit.files:
            files = unit.files if budget is None else unit.files[:budget]
            for name in files:
                source = source_name(Path(name))
                data, error = read_whole(Path(name))
                self._add(rows, source, source, data, error, Path(name).parent.name)
                if len(rows) >= BATCH_DOCS:
                    yield self._with_ids(rows.build())
            if len(rows):
                yield self._with_ids(rows.build())
            return
        folder = Path(unit.path).parent.name
        for n, (data, error) in enumerate(iter_mbox(Path(unit.path)), start=1):
            self._add(rows, f"{unit.source}:{n}", unit.source, data, error, folder)
            if len(rows) >= BATCH_DOCS:
                yield self._with_ids(rows.build(unit.source))
            if budget is not None and n >= budget:
                break
        if len(rows):
            yield self._with_ids(rows.build(unit.source))

    def _with_ids(self, batch: ReadBatch) -> ReadBatch:
        """Ids from the `id_field` meta key (default: the Message-ID), else the path."""
        key = self.spec.id_field or MESSAGE_ID
        if key == PATH_ID:
            return batch
        escaped = key.replace("\\", "\\\\").replace("'", "\\'")
        found = pl.col("meta").str.json_path_match(f"$['{escaped}']")
        ids = pl.coalesce(found, pl.col("id")).alias("id")
        return ReadBatch(batch.documents.with_columns(ids), batch.rejected.with_columns(ids))

    def _add(
        self,
        rows: PageRows,
        where: str,
        source: str,
        data: bytes,
        error: str | None,
        folder: str,
    ) -> None:
        """One message as a document or a reject."""
        meta: dict[str, Any] = {"folder": folder}
        if error is not None:
            detail = f"{where}: the input ends early ({error}); the message is incomplete"
            rows.reject(where, source, "truncated_input", detail, meta=meta)
            return
        if len(data) > MAX_MESSAGE_BYTES:
            detail = f"{where}: {len(data)} bytes, over the {MAX_MESSAGE_BYTES}-byte limit"
            rows.reject(where, source, TOO_LARGE, detail, meta=meta)
            return
        try:
            found = read_message(data, self.default_charset, self.options)
        except Exception as e:  # a parser bug on one message must not stop the run
            detail = f"{where}: the message does not parse ({type(e).__name__}: {e})"[:500]
            rows.reject(where, source, "malformed_message", detail, meta=meta)
            return
        if found is None:
            detail = f"{where}: no mail or news header at the start of the file"
            rows.reject(where, source, "not_email", detail, meta=meta)
            return
        headers, body = found
        meta.update(headers.meta)
        meta.update(
            content_type=body.content_type, charset=body.charset, attachments=body.attachments
        )
        if body.reason is not None:
            detail = f"{where}: {body.reason.replace('_', ' ')}"
            if body.detail:
                detail += f" ({body.detail})"
            rows.reject(where, source, body.reason, detail, meta=meta)
            return
        if body.replaced and self.spec.on_decode_error == "reject":
            detail = f"{where}: {body.replaced} bytes not valid {body.charset}"
            rows.reject(where, source, "undecodable", detail, meta=meta)
            return
        flags = [DECODE_FLAG] if body.replaced or headers.replaced else []
        rows.add(where, body.text or "", None, headers.subject, meta, flags)


def is_mbox(path: Path) -> bool:
    """An mbox by its name, or by an mbox `From ` separator as its first line."""
    if strip_compression(path.name.lower()).endswith(MBOX_EXTENSIONS):
        return True
    try:
        with open_binary(path) as f:
            head = f.read(5 + 1)
    except Exception:  # unreadable: the message reader reports it
        return False
    return _FROM_LINE.match(head) is not None


def iter_mbox(path: Path) -> Iterator[tuple[bytes, str | None]]:
    """The messages of an mbox, as bytes without their `From ` line, `>From ` unescaped.

    A damaged compressed stream ends the iteration with the partial message and its error.
    """
    lines: list[bytes] = []
    started = False
    try:
        with open_binary(path) as f:
            for line in f:
                if line.startswith(b"From ") and (not started or _after_blank(lines)):
                    if started:
                        yield _unescape(lines), None
                    lines, started = [], True
                    continue
                lines.append(line)
    except Exception as e:  # EOFError, zlib/lzma/zstd errors
        yield _unescape(lines), f"{type(e).__name__}: {e}"
        return
    if started or any(line.strip() for line in lines):
        yield _unescape(lines), None


def _after_blank(lines: list[bytes]) -> bool:
    """mbox separators follow a blank line (or start the file)."""
    return not lines or not lines[-1].strip()


def _unescape(lines: list[bytes]) -> bytes:
    """A message's bytes: `>From ` unescaped, the blank line that ends it in the mbox gone."""
    if len(lines) > 1 and not lines[-1].strip():
        lines = lines[:-1]
    return _ESCAPED_FROM.sub(rb"\1", b"".join(lines))


# --- headers --------------------------------------------------------------------------------


@dataclass
class Headers:
    subject: str | None
    meta: dict[str, Any]
    replaced: int


_META_HEADERS = {
    "from": "from",
    "to": "to",
    "newsgroups": "newsgroups",
    "in-reply-to": "in_reply_to",
}


def raw_headers(msg: Message) -> dict[str, str]:
    """The first value of each header as stored (8-bit bytes as surrogate escapes)."""
    raw: dict[str, str] = {}
    for name, value in msg.raw_items():
        raw.setdefault(name.lower(), value if isinstance(value, str) else str(value))
    return raw


def read_headers(raw: dict[str, str], fallback: str | None = None) -> Headers:
    """Subject and the meta headers, decoded from the raw values; 8-bit bytes are read
    in `fallback` (the message's charset) when they fit it."""
    replaced = 0
    decoded: dict[str, str | None] = {}
    for name in ("subject", *_META_HEADERS):
        if name in raw:
            text, bad = decode_header_value(raw[name], fallback)
            decoded[name] = text
            replaced += bad
    meta: dict[str, Any] = {key: decoded.get(name) for name, key in _META_HEADERS.items()}
    mid = _unfold(raw.get("message-id", "")).strip().strip("<>").strip()
    meta[MESSAGE_ID] = mid or None
    meta["date"] = parse_date(raw.get("date"))
    return Headers(decoded.get("subject"), meta, replaced)


def read_message(
    data: bytes, default_charset: str | None = None, options: ExtractOptions = DEFAULT_OPTIONS
) -> tuple[Headers, Body] | None:
    """Headers and body of one message; None when the bytes hold no mail or news header.

    Charsets: what the message declares (a part, an encoded word) guides its undeclared
    text, else `default_charset`, else the body's own detected charset guides the
    8-bit headers (a subject is too short to detect alone).
    """
    msg = email.message_from_bytes(data, policy=email.policy.default)
    raw = raw_headers(msg)
    if not _KNOWN_HEADERS & set(raw):
        return None
    hint = charset_hint(msg, raw) or default_charset
    body = message_body(msg, hint, options)
    legacy = body.charset if body.charset not in (None, "ascii", "utf-8") else None
    return read_headers(raw, hint or legacy), body


def decode_header_value(raw: str, fallback: str | None = None) -> tuple[str, int]:
    """A header value as text: RFC 2047 encoded words in their charset (read as mail
    clients do, GB2312 as GBK), raw 8-bit bytes in `fallback` or a detected charset.
    Returns the text and the count of undecodable bytes (replaced by U+FFFD)."""
    out: list[str] = []
    bad = 0
    for chunk, charset in email.header.decode_header(_unfold(raw)):
        data = chunk.encode("ascii", "surrogateescape") if isinstance(chunk, str) else chunk
        if data.isascii():
            out.append(data.decode("ascii"))
            continue
        codec = html_codec(charset) or fallback
        if codec is None or not _decodes(data, codec):
            codec = decode_text(data, None, None).encoding
        # A subject cut inside a character (clients truncate by bytes) loses that character.
        text = codecs.getincrementaldecoder(codec)("surrogateescape").decode(data, final=False)
        text, n = _ESCAPED.subn("\ufffd", text)
        out.append(text)
        bad += n
    return " ".join("".join(out).split()), bad


def _unfold(value: str) -> str:
    return _FOLD.sub("", value)


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def charset_hint(msg: Message, raw: dict[str, str]) -> str | None:
    """The first legacy charset the message declares anywhere (a part, an encoded word):
    the best guess for its undeclared or mis-declared text (8-bit headers, bodies)."""
    # Read from the raw values: parsing every part's Content-Type costs more than the rest.
    types = (v for p in msg.walk() for k, v in p.raw_items() if k.lower() == "content-type")
    declared = _CHARSET_PARAM.findall(" ".join(str(v) for v in types))
    declared += _ENCODED_WORD.findall(" ".join(raw.get(h, "") for h in ("subject", "from")))
    for label in declared:
        codec = html_codec(label)
        if codec is not None and codec not in _WESTERN and codec != "utf-8":
            return codec
    return None


def decode_text(data: bytes, declared: str | None, hint: str | None) -> DecodedPage:
    """Decode a body: valid UTF-8, else the declared charset, else the message's hint,
    else Western (a few isolated non-ASCII bytes), else detection; a codec is taken when
    at most 1% of the non-ASCII bytes fail.

    A Western single-byte declaration (ISO-8859-1, windows-1252) decodes any bytes, and
    Chinese mail clients sent GBK under it: when the message declares a legacy
    multi-byte charset elsewhere and the text decodes cleanly in it, that one wins.
    """
    if data.isascii():
        return DecodedPage(data.decode("ascii"), "ascii", "ascii", 0)
    if _decodes(data, "utf-8"):
        return DecodedPage(data.decode("utf-8"), "utf-8", "utf-8", 0)
    codec = html_codec(declared)
    if codec in _WESTERN and hint is not None and _decodes(data, hint):
        return DecodedPage(data.decode(hint), hint, "hint", 0)
    for candidate, source in ((codec, "declared"), (hint, "hint")):
        if candidate is None:
            continue
        decoded = decode_forced(data, candidate)
        if decoded.replaced * 100 <= len(data.translate(None, _ASCII_BYTES)):
            return DecodedPage(decoded.text, decoded.encoding, source, decoded.replaced)
    if _western_looking(data):
        codec = "cp1252" if _decodes(data, "cp1252") else "latin_1"
        return DecodedPage(data.decode(codec), codec, "western", 0)
    decoded = decode_forced(data, detect_encoding(data))
    return DecodedPage(decoded.text, decoded.encoding, "detected", decoded.replaced)


def _western_looking(data: bytes) -> bool:
    """English text with a few accented letters or symbols (Usenet posts in Latin-1).

    Statistical detection guesses Big5 or EUC-KR for `16\xb5sec`; CJK text has runs of
    multi-byte characters (two in a row are 4 high bytes) and many of them.
    """
    runs = _HIGH_RUN.findall(data)
    return max(map(len, runs), default=0) < 4 and sum(map(len, runs)) * 10 < len(data)


def parse_date(value: str | None) -> str | None:
    """ISO 8601 when the Date header parses, else the header as written."""
    if not value:
        return None
    value = " ".join(_unfold(value).split())
    try:
        return email.utils.parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return value


# --- bodies --------------------------------------------------------------------------------


def message_body(
    msg: EmailMessage, hint: str | None = None, options: ExtractOptions = DEFAULT_OPTIONS
) -> Body:
    """The body text: text/plain preferred, else text/html through main-text extraction."""
    part, attachments = _body_part(msg)
    if part is None:
        types = sorted({p.get_content_type() for p in msg.walk() if not p.is_multipart()})
        return Body(
            attachments=attachments,
            reason="no_text_part",
            detail="parts: " + (", ".join(types) or "none"),
        )
    content_type, declared = content_type_of(part)
    if content_type.startswith("multipart/"):  # its boundary never appears: text
        content_type = "text/plain"
    payload = payload_bytes(part)
    decoded = decode_text(payload, declared, hint)
    body = Body(
        content_type=content_type,
        charset=decoded.encoding,
        replaced=decoded.replaced,
        attachments=attachments,
    )
    # Archives often keep an HTML part's text without its markup: that text is the body.
    if content_type != "text/html" or not looks_like_html(decoded.text[:8192].lstrip()):
        body.text = decoded.text
        return body
    if len(payload) > options.max_bytes:
        body.reason = TOO_LARGE
        body.detail = f"an HTML body of {len(payload)} bytes"
        return body
    page = extract_html(decoded.text, None, options)
    body.text, body.reason, body.detail = page.text, page.reason, page.detail
    return body


def content_type_of(part: Message) -> tuple[str, str | None]:
    """The part's media type and declared charset, from one parse of its Content-Type
    (each of get_content_type and get_param parses the header again)."""
    header = part["content-type"]
    if header is None:
        return part.get_default_type(), None
    content_type = str(getattr(header, "content_type", "")).lower()
    charset = getattr(header, "params", {}).get("charset")
    return (
        content_type if "/" in content_type else "text/plain",
        charset if isinstance(charset, str) else None,
    )


def payload_bytes(part: Message) -> bytes:
    """The part's bytes with its transfer encoding undone.

    Archives that store decoded bodies keep the `Content-Transfer-Encoding: base64`
    header (trec06c does): a payload that is not base64 text is taken as it is, not
    decoded into garbage.
    """
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    raw = part.get_payload(decode=False)
    if cte == "base64" and isinstance(raw, str):
        letters = "".join(raw.split())
        stray = len(letters) - len(_BASE64_CHARS.findall(letters)) if letters else 0
        if not letters.isascii() or stray * 100 > len(letters):
            # Read as 8bit, get_payload gives the stored bytes unchanged.
            part.replace_header("content-transfer-encoding", "8bit")
    return part.get_payload(decode=True) or b""


def _body_part(msg: EmailMessage) -> tuple[Message | None, int]:
    """The part holding the body, and how many other leaf parts the message has."""
    if not isinstance(msg.get_payload(), list):
        # A single part, or a multipart whose boundary never appears (its text is the body).
        is_text = content_type_of(msg)[0].split("/")[0] not in _BINARY_TYPES
        return (msg, 0) if is_text else (None, 1)
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        part = next(
            (p for p in leaves if p.get_content_maintype() == "text" and not p.is_attachment()),
            None,
        )
    return part, len(leaves) - (part is not None)
