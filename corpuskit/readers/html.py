"""HTML pages: a folder of .html/.htm files (plain or compressed), one document per page.

Each page is decoded (<meta> charset, then detection; `encoding:` in the recipe forces
one), checked to be HTML, and its main text extracted with corpuskit.readers.extract: the
`title` column gets the page title, `url` its canonical URL when it declares one, and
`meta` the publication date and the encoding used. Pages that yield no document are
rejected with a reason: read:not_html, read:no_main_text, read:extraction_timeout,
read:extraction_error, read:too_large or read:truncated_input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import orjson
import polars as pl

from corpuskit.readers.base import (
    READ_STEP,
    InputFile,
    InputSpec,
    ReadBatch,
    Reader,
    Unit,
    reject_frame,
    source_name,
    to_documents,
)
from corpuskit.readers.encoding import normalize_name
from corpuskit.readers.extract import DEFAULT_OPTIONS, ExtractOptions, Page, read_page
from corpuskit.readers.sources import open_binary
from corpuskit.schema import DOCUMENT_SCHEMA

# Documents per batch handed to the engine: bounds memory, keeps progress moving.
BATCH_DOCS = 256


class PageRows:
    """Collects documents and rejects of one batch, then builds the frames."""

    def __init__(self, spec: InputSpec, meta_schema: dict[str, pl.DataType]) -> None:
        # The reader's own columns are text, url and title; a user's id_field may
        # still name one of the meta fields (e.g. record_id).
        self.spec = spec.model_copy(
            update={"text_field": "text", "url_field": "url", "title_field": "title"}
        )
        self.meta_schema = meta_schema
        self.clear()

    def clear(self) -> None:
        self.docs: dict[str, list[Any]] = {
            k: [] for k in ("text", "url", "title", *self.meta_schema)
        }
        self.doc_ids: list[str] = []
        self.doc_flags: list[list[str]] = []
        self.rejects: dict[str, list[Any]] = {
            k: [] for k in ("id", "text", "source", "url", "meta", "reason", "detail")
        }

    def __len__(self) -> int:
        return len(self.doc_ids) + len(self.rejects["id"])

    def add(
        self,
        id_: str,
        text: str,
        url: str | None,
        title: str | None,
        meta: dict[str, Any],
        flags: list[str],
    ) -> None:
        self.docs["text"].append(text)
        self.docs["url"].append(url)
        self.docs["title"].append(title)
        for k in self.meta_schema:
            self.docs[k].append(meta.get(k))
        self.doc_ids.append(id_)
        self.doc_flags.append(flags)

    def reject(
        self,
        id_: str,
        source: str,
        reason: str,
        detail: str,
        url: str | None = None,
        meta: dict[str, Any] | None = None,
        text: str = "",
    ) -> None:
        r = self.rejects
        r["id"].append(id_)
        r["text"].append(text)
        r["source"].append(source)
        r["url"].append(url)
        r["meta"].append(
            orjson.dumps({k: v for k, v in (meta or {}).items() if v is not None}).decode()
        )
        r["reason"].append(f"{READ_STEP}:{reason}")
        r["detail"].append(detail)

    def add_page(
        self, id_: str, source: str, page: Page, where: str, meta: dict[str, Any], flags: list[str]
    ) -> None:
        """A page as a document, or as a reject with its reason."""
        meta = {
            **meta,
            "date": page.date,
            "charset": page.encoding,
            "charset_source": page.encoding_source,
        }
        if page.reason is not None:
            detail = f"{where}: {page.reason.replace('_', ' ')}"
            if page.detail:
                detail += f" ({page.detail})"
            self.reject(id_, source, page.reason, detail, page.url, meta)
            return
        self.add(id_, page.text or "", page.url, page.title, meta, [*flags, *page.flags])

    def build(self, source: str | None = None) -> ReadBatch:
        """The batch's frames; `source` for rows of one file, None where each id is its file."""
        schema = {"text": pl.String(), "url": pl.String(), "title": pl.String(), **self.meta_schema}
        raw = pl.DataFrame(self.docs, schema=schema)
        batch = to_documents(
            raw,
            self.spec,
            source or "",
            pl.Series(range(raw.height), dtype=pl.Int64),
            pl.Series(self.doc_flags, dtype=pl.List(pl.String())),
            default_ids=pl.Series(self.doc_ids, dtype=pl.String()),
        )
        docs, rejected = batch.documents, batch.rejected
        if source is None:
            docs = docs.with_columns(source=pl.col("id"))
            rejected = rejected.with_columns(source=pl.col("id"))
        r = self.rejects
        cols = ("id", "text", "source", "url", "meta")
        own = pl.DataFrame({k: r[k] for k in cols}, schema={k: DOCUMENT_SCHEMA[k] for k in cols})
        own_rejected = reject_frame(
            own,
            pl.Series(r["reason"], dtype=pl.String()),
            pl.Series(r["detail"], dtype=pl.String()),
        )
        self.clear()
        return ReadBatch(docs, pl.concat([rejected, own_rejected]))


class HtmlReader(Reader):
    """A folder (or glob) of HTML files, one document per file, main text extracted."""

    format = "html"
    extensions = (".html", ".htm", ".xhtml")
    options: ClassVar[ExtractOptions] = DEFAULT_OPTIONS
    META_SCHEMA: ClassVar[dict[str, pl.DataType]] = {
        "date": pl.String(),
        "charset": pl.String(),
        "charset_source": pl.String(),
    }

    def plan(self, files: list[Path], unit_bytes: int) -> tuple[list[InputFile], list[Unit]]:
        """Files in groups of about `unit_bytes`; a page is never split."""
        return plan_file_groups(self.input_index, files, unit_bytes)

    def read(self, unit: Unit) -> Iterator[ReadBatch]:
        files = unit.files or (unit.path,)
        if unit.max_records is not None:
            files = files[: unit.max_records]
        forced = None if self.spec.encoding == "auto" else normalize_name(self.spec.encoding)
        rows = PageRows(self.spec, self.META_SCHEMA)
        for name in files:
            path = Path(name)
            source = source_name(path)
            body, error = read_whole(path)
            if error is not None:
                rows.reject(
                    source,
                    source,
                    "truncated_input",
                    f"{source}: the file ends early ({error}); the page is incomplete",
                )
            else:
                page = read_page(body, None, None, self.options, encoding=forced)
                if page.replaced and self.spec.on_decode_error == "reject":
                    rows.reject(
                        source,
                        source,
                        "undecodable",
                        f"{source}: {page.replaced} bytes not valid {page.encoding}",
                    )
                else:
                    rows.add_page(source, source, page, source, {}, [])
            if len(rows) >= BATCH_DOCS:
                yield rows.build()
        if len(rows):
            yield rows.build()


def plan_file_groups(
    input_index: int,
    files: list[Path],
    unit_bytes: int,
    alone: Callable[[Path], bool] = lambda path: False,
) -> tuple[list[InputFile], list[Unit]]:
    """Units of whole files in groups of about `unit_bytes` (one document or more per
    file, never split); a file for which `alone` holds is a unit of its own."""
    infos, units = [], []
    group: list[str] = []
    group_bytes = 0

    def close() -> None:
        nonlocal group, group_bytes
        if group:
            units.append(
                Unit(input_index, source_name(Path(group[0])), group[0], files=tuple(group))
            )
        group, group_bytes = [], 0

    for path in files:
        infos.append(InputFile.of(path))
        if alone(path):
            units.append(Unit(input_index, source_name(path), str(path)))
            continue
        group.append(str(path))
        group_bytes += path.stat().st_size
        if group_bytes >= unit_bytes:
            close()
    close()
    return infos, units


def read_whole(path: Path) -> tuple[bytes, str | None]:
    """A whole (possibly compressed) file; a damaged stream gives its error."""
    chunks: list[bytes] = []
    try:
        with open_binary(path) as f:
            while chunk := f.read(1 << 20):
                chunks.append(chunk)
    except Exception as e:  # EOFError, zlib/lzma/zstd errors: the same for the user
        return b"".join(chunks), f"{type(e).__name__}: {e}"
    return b"".join(chunks), None
