"""WARC quirks: a body not in its declared Content-Encoding is read as stored, one row each."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest

from corpuskit.readers.base import InputSpec
from corpuskit.readers.warc import (
    ENCODING_IGNORED_FLAG,
    WarcReader,
    declared_encoding_holds,
    parse_http_identity,
)
from tests.conftest import needs_shared

ARTICLE = "This is the body of a page about gardens, vegetables and the weather in spring. " * 6


def page(title: str) -> bytes:
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{ARTICLE}</p></article></body></html>"
    ).encode()


def record(uri: str, body: bytes, encoding: str | None, version: str = "WARC/0.18") -> bytes:
    """A response record as ClueWeb09 writes them: WARC/0.18, headers of the original fetch."""
    http = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        + (f"Content-Encoding: {encoding}\r\n".encode() if encoding else b"")
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    head = (
        f"{version}\r\nWARC-Type: response\r\nWARC-Target-URI: {uri}\r\n"
        f"WARC-Date: 2009-01-13T19:13:27-0800\r\nWARC-Record-ID: <urn:uuid:{abs(hash(uri))}>\r\n"
        f"Content-Type: application/http;msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n"
    ).encode()
    return head + http + b"\r\n\r\n"


RECORDS = [
    ("http://a.example/stored-decoded", page("Stored decoded"), "gzip"),  # the ClueWeb09 quirk
    ("http://a.example/real-gzip", gzip.compress(page("Real gzip")), "gzip"),
    ("http://a.example/bad-deflate", page("Bad deflate"), "deflate"),
    ("http://a.example/real-deflate", zlib.compress(page("Real deflate")), "deflate"),
    ("http://a.example/plain", page("Plain"), None),
]


def read_all(path: Path) -> tuple[list[dict], list[dict]]:
    reader = WarcReader(InputSpec(path=str(path), format="warc"))
    _, units = reader.plan([path], 1 << 20)
    docs, rejects = [], []
    for unit in units:
        for batch in reader.read(unit):
            docs += batch.documents.to_dicts()
            rejects += batch.rejected.to_dicts()
    return docs, rejects


@pytest.mark.parametrize("compressed", [False, True])
def test_undecodable_content_encoding_is_read_as_stored_one_row_per_record(tmp_path, compressed):
    raw = [record(u, b, e) for u, b, e in RECORDS]
    path = tmp_path / ("crawl.warc.gz" if compressed else "crawl.warc")
    path.write_bytes(b"".join(gzip.compress(r) for r in raw) if compressed else b"".join(raw))
    docs, rejects = read_all(path)
    assert rejects == []  # before: a malformed_record reject plus a spurious "damaged data" row
    assert [d["url"] for d in docs] == [u for u, _, _ in RECORDS]
    assert [d["title"] for d in docs] == [
        "Stored decoded",
        "Real gzip",
        "Bad deflate",
        "Real deflate",
        "Plain",
    ]
    assert all("gardens, vegetables" in d["text"] for d in docs)
    flagged = [ENCODING_IGNORED_FLAG in (d["flags"] or []) for d in docs]
    assert flagged == [True, False, True, False, False]


def test_http_identity_parsing():
    block = b"HTTP/1.0 404 Not Found\nContent-Encoding: gzip\nTransfer-Encoding: chunked\n\n"
    block += b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    http = parse_http_identity(block)
    assert (http.status, http.reason, http.body) == (404, "Not Found", b"hello world")
    assert not declared_encoding_holds(http)
    assert parse_http_identity(b"not http at all") is None
    # a body declared chunked that is not chunked stays whole
    assert parse_http_identity(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nabc"
    ).body == (b"abc")


def test_real_crawls_read_unchanged():
    """The dolma and Common Crawl samples: every response a row, none flagged."""
    folder = needs_shared("warc_samples")
    for name in ("sample-0000.warc.gz", "sample-0001.warc.gz", "whirlwind.warc.gz"):
        docs, rejects = read_all(folder / name)
        assert docs, name
        assert not any(ENCODING_IGNORED_FLAG in (d["flags"] or []) for d in docs), name
        ids = [r["id"] for r in docs + rejects]
        assert len(ids) == len(set(ids)), name
