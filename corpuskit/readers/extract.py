"""Main-text extraction from HTML pages: decoding, boilerplate removal, title and date.

Readers of web formats (`html`, `warc`) turn each page into one document with
`read_page`: the bytes are decoded (HTTP charset, then <meta> charset, then
detection), the page is checked to be HTML, and trafilatura extracts the main text
(in its fast mode, without comments), the title and the publication date.

Extraction is a Python loop per page by nature (trafilatura walks the DOM); the
benchmark in bench/bench_extraction.py measures it against trafilatura's defaults
and datatrove's extractor. Each page runs under a time limit enforced by a watchdog
thread, so a pathological page costs at most `timeout_s` seconds of a worker.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from corpuskit.readers.encoding import decode_forced, decode_html

T = TypeVar("T")

# Reject reasons (prefixed with "read:" by the readers).
NOT_HTML = "not_html"
NO_MAIN_TEXT = "no_main_text"
EXTRACTION_TIMEOUT = "extraction_timeout"
EXTRACTION_ERROR = "extraction_error"
TOO_LARGE = "too_large"

DECODE_FLAG = "decode_replaced"


@dataclass(frozen=True)
class ExtractOptions:
    """How pages are turned into text; the defaults are those the benchmark chose."""

    engine: Literal["trafilatura", "resiliparse"] = "trafilatura"
    # trafilatura's precision/recall trade-off
    favor: Literal["balanced", "precision", "recall"] = "recall"
    include_tables: bool = True
    include_comments: bool = False
    # resiliparse's main-content extractor when trafilatura finds nothing (off: on
    # navigation-only pages it returns the menus; no page of the benchmark needs it)
    fallback: bool = False
    # drop leading lines that repeat the title (it is kept in the `title` column)
    strip_title: bool = True
    # look for a publication date (htmldate, without its slow extensive search)
    with_date: bool = True
    # seconds one page may take; None or 0 for no limit
    timeout_s: float | None = 5.0
    # larger pages are rejected unread (trafilatura's own MAX_FILE_SIZE)
    max_bytes: int = 20_000_000


DEFAULT_OPTIONS = ExtractOptions()


@dataclass
class Page:
    """One page read: its text and fields, or the reason it yields no document."""

    text: str | None = None
    title: str | None = None
    date: str | None = None
    url: str | None = None
    encoding: str | None = None
    encoding_source: str | None = None
    replaced: int = 0
    reason: str | None = None
    detail: str | None = None

    @property
    def flags(self) -> list[str]:
        return [DECODE_FLAG] if self.replaced else []


# --- the time limit -----------------------------------------------------------------------


class ExtractionTimeout(BaseException):
    """Raised inside an extraction that ran past its limit.

    A BaseException, so that the `except Exception` blocks inside extraction
    libraries do not swallow it.
    """


_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async_exc.restype = ctypes.c_int


class _Watchdog:
    """One daemon thread per process that interrupts calls running past their deadline.

    The interrupted thread gets ExtractionTimeout at its next Python bytecode (a
    thread-safe replacement for SIGALRM, which only the main thread can receive and
    which would clash with other users of the alarm signal). Long C calls (lxml
    parsing one huge page) finish before the exception lands; `max_bytes` bounds them.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._cond = threading.Condition()
        self._jobs: dict[int, tuple[float, int]] = {}
        self._fired: set[int] = set()
        self._next = 0
        self._thread = threading.Thread(target=self._run, name="corpuskit-watchdog", daemon=True)
        self._thread.start()

    def call(self, seconds: float, fn: Callable[..., T], *args: object) -> T:
        with self._cond:
            token = self._next
            self._next += 1
            self._jobs[token] = (time.monotonic() + seconds, threading.get_ident())
            self._cond.notify()
        try:
            return fn(*args)
        finally:
            with self._cond:
                self._jobs.pop(token, None)
                if token in self._fired:
                    self._fired.discard(token)
                    # Withdraw the exception if it has not landed yet (the call
                    # finished just in time); if it has, it is propagating now.
                    _set_async_exc(threading.get_ident(), ctypes.py_object())

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for token, (deadline, ident) in list(self._jobs.items()):
                    if deadline <= now:
                        del self._jobs[token]
                        self._fired.add(token)
                        _set_async_exc(ident, ctypes.py_object(ExtractionTimeout))
                nearest = min((d for d, _ in self._jobs.values()), default=None)
                self._cond.wait(None if nearest is None else max(nearest - now, 0.001))


_watchdog: _Watchdog | None = None
_watchdog_lock = threading.Lock()


def call_with_timeout(seconds: float | None, fn: Callable[..., T], *args: object) -> T:
    """fn(*args), interrupted by ExtractionTimeout once it runs past `seconds`.

    Works in any thread of any process (engine workers included); None or 0 runs
    fn without a limit.
    """
    global _watchdog
    if not seconds:
        return fn(*args)
    if _watchdog is None or _watchdog.pid != os.getpid():
        with _watchdog_lock:
            if _watchdog is None or _watchdog.pid != os.getpid():
                _watchdog = _Watchdog()
    return _watchdog.call(seconds, fn, *args)


# --- HTML checks and extraction ------------------------------------------------------------

_HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml", "application/vnd.wap.xhtml+xml")
_HTML_SNIFF = re.compile(
    r"<(?:!doctype\s+html|html|head|body|title|meta|div|p|a|br|table|span|article|section"
    r"|main|script|link|ul|li|h[1-6]|!--)[\s>/]",
    re.I,
)


def is_html_type(content_type: str | None) -> bool | None:
    """True for HTML media types, False for others, None when no type is given."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() in _HTML_CONTENT_TYPES


def looks_like_html(head: str) -> bool:
    """Whether decoded text starts like an HTML page: markup early on and no binary bytes."""
    head = head[:4096]
    if "\x00" in head:
        return False
    return _HTML_SNIFF.search(head) is not None


def _quiet_libraries() -> None:
    # trafilatura and htmldate log a warning for every odd page; the reader reports
    # what matters as reject reasons instead.
    for name in ("trafilatura", "htmldate", "courlan"):
        logging.getLogger(name).setLevel(logging.ERROR)


_quiet_libraries()


def _norm(s: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", s).casefold().split())


def strip_title(text: str, title: str) -> str:
    """Drop leading lines that repeat the title (or a long part of it)."""
    t = _norm(title)
    if not t:
        return text
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = _norm(lines[i])
        if not line or line == t or (len(line) > 10 and line in t):
            i += 1
            continue
        break
    return "\n".join(lines[i:]) if i else text


class _Extractor:
    """Per-process extraction state: trafilatura's options object, built once."""

    def __init__(self, options: ExtractOptions) -> None:
        from trafilatura.settings import Extractor

        self.options = options
        self.traf = Extractor(
            output_format="python",
            fast=True,
            precision=options.favor == "precision",
            recall=options.favor == "recall",
            comments=options.include_comments,
            tables=options.include_tables,
            dedup=False,
            with_metadata=False,
        )

    def run(self, html: str, url: str | None) -> Page:
        from htmldate import find_date
        from trafilatura import bare_extraction
        from trafilatura.metadata import extract_title, extract_url
        from trafilatura.utils import load_html

        opts = self.options
        tree = load_html(html)
        if tree is None:
            return Page(reason=NOT_HTML, detail="lxml found no HTML document")
        title = extract_title(tree)
        date = None
        if opts.with_date:
            date = find_date(tree, extensive_search=False, original_date=True, url=url)
        canonical = url or extract_url(tree)
        text = None
        if opts.engine == "trafilatura":
            doc = bare_extraction(tree, url=url, options=self.traf)
            text = doc.text if doc is not None else None
        if not text and (opts.engine == "resiliparse" or opts.fallback):
            text = _resiliparse(html)
        if text and opts.strip_title and title:
            text = strip_title(text, title)
        if not text or not text.strip():
            return Page(title=title, date=date, url=canonical, reason=NO_MAIN_TEXT)
        return Page(text=text, title=title, date=date, url=canonical)


def _resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(
        html, main_content=True, alt_texts=False, list_bullets=False, noscript=False
    )


_extractors: dict[ExtractOptions, _Extractor] = {}


def extract_html(
    html: str, url: str | None = None, options: ExtractOptions = DEFAULT_OPTIONS
) -> Page:
    """Main text, title, publication date and canonical URL of one decoded page.

    Never raises for a bad page: a timeout, a library error or an empty result comes
    back as `Page.reason` (and `Page.detail`).
    """
    ex = _extractors.get(options)
    if ex is None:
        ex = _extractors[options] = _Extractor(options)
    try:
        return call_with_timeout(options.timeout_s, ex.run, html, url)
    except ExtractionTimeout:
        return Page(
            url=url,
            reason=EXTRACTION_TIMEOUT,
            detail=f"extraction ran past {options.timeout_s} s",
        )
    except RecursionError:
        return Page(url=url, reason=EXTRACTION_ERROR, detail="RecursionError: page nested too deep")
    except Exception as e:  # a library bug on one page must not stop the run
        return Page(url=url, reason=EXTRACTION_ERROR, detail=f"{type(e).__name__}: {e}"[:500])


def read_page(
    body: bytes,
    charset: str | None = None,
    url: str | None = None,
    options: ExtractOptions = DEFAULT_OPTIONS,
    encoding: str | None = None,
) -> Page:
    """Decode raw page bytes, check they are HTML, and extract the main text.

    `charset` is the one an HTTP header declared; `encoding` forces a codec.
    """
    if len(body) > options.max_bytes:
        return Page(
            url=url,
            reason=TOO_LARGE,
            detail=f"{len(body)} bytes, over the {options.max_bytes}-byte limit",
        )
    decoded = decode_forced(body, encoding) if encoding else decode_html(body, charset)
    if not looks_like_html(decoded.text[:8192].lstrip()):
        return Page(
            url=url,
            encoding=decoded.encoding,
            encoding_source=decoded.source,
            reason=NOT_HTML,
            detail="no HTML markup at the start of the page",
        )
    page = extract_html(decoded.text, url, options)
    page.encoding = decoded.encoding
    page.encoding_source = decoded.source
    page.replaced = decoded.replaced
    return page
