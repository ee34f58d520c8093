"""The reader interface: plan work units for input files, then read a unit into documents."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict

from corpuskit import registry
from corpuskit.readers.encoding import SAMPLE_BYTES, detect_encoding, normalize_name
from corpuskit.readers.sources import open_binary, strip_compression
from corpuskit.schema import DOCUMENT_SCHEMA, REJECTED_SCHEMA, conform

READ_STEP = "read"


class InputSpec(BaseModel):
    """One input source of a recipe: a glob (or several) of files in one format."""

    model_config = ConfigDict(extra="forbid")

    path: str | list[str]
    format: str | None = None
    text_field: str = "text"
    id_field: str | None = None
    url_field: str | None = None
    title_field: str | None = None
    encoding: str = "auto"
    on_decode_error: Literal["replace", "reject"] = "replace"
    # csv / tsv: column names for files without a header row
    columns: list[str] | None = None
    # text: one document per file, per non-blank line, or per blank-line-separated block
    mode: Literal["file", "line", "paragraph"] = "file"
    # labelled_text: the meta key the label is stored under
    label_field: str = "label"

    @property
    def patterns(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path)


def infer_format(filename: str) -> str | None:
    """The reader whose declared extensions match the file name (compression suffix ignored)."""
    name = strip_compression(filename.lower())
    best: tuple[int, str] | None = None
    for fmt, reader in registry.readers().items():
        for ext in getattr(reader, "extensions", ()):
            if name.endswith(ext) and (best is None or len(ext) > best[0]):
                best = (len(ext), fmt)
    return best[1] if best else None


@dataclass(frozen=True)
class InputFile:
    """An input file as planned: its identity for resume checks, and its encoding."""

    path: str
    source: str
    size: int
    mtime_ns: int
    encoding: str | None = None

    @classmethod
    def of(cls, path: Path, encoding: str | None = None) -> InputFile:
        st = path.stat()
        return cls(str(path), source_name(path), st.st_size, st.st_mtime_ns, encoding)


@dataclass(frozen=True)
class Unit:
    """A piece of input one worker reads: a file, a byte range of one, or a group of files.

    `start`/`end` are byte offsets (line formats) or row-group indices (Parquet);
    `first_record` numbers the first line or row; `max_records` caps records read.
    """

    input_index: int
    source: str
    path: str
    encoding: str | None = None
    start: int = 0
    end: int | None = None
    first_record: int = 1
    records: int | None = None
    max_records: int | None = None
    files: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReadBatch:
    documents: pl.DataFrame
    rejected: pl.DataFrame


class Reader:
    """Base of readers: subclasses set `format`, `extensions` and implement plan and read."""

    format: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, spec: InputSpec, input_index: int = 0) -> None:
        self.spec = spec
        self.input_index = input_index

    def plan(self, files: list[Path], unit_bytes: int) -> tuple[list[InputFile], list[Unit]]:
        raise NotImplementedError

    def read(self, unit: Unit) -> Iterator[ReadBatch]:
        raise NotImplementedError

    def file_encoding(self, path: Path) -> str:
        """The configured encoding, or one detected from the file's first bytes."""
        if self.spec.encoding != "auto":
            return normalize_name(self.spec.encoding)
        with open_binary(path) as f:
            try:
                sample = f.read(SAMPLE_BYTES)
            except Exception:  # damaged stream: detection falls back, reading reports it
                sample = b""
        return detect_encoding(sample)


def source_name(path: Path) -> str:
    """How a file is named in ids and the `source` column: as given, in POSIX form."""
    return path.as_posix()


def to_documents(
    raw: pl.DataFrame,
    spec: InputSpec,
    source: str,
    positions: pl.Series,
    flags: pl.Series | None = None,
    default_ids: pl.Series | None = None,
) -> ReadBatch:
    """Map a raw frame (one row per record) onto the document table.

    Fields named in the spec become columns; every other field goes into `meta`.
    Rows with no usable text are rejected with a reason, never dropped.
    """
    n = raw.height
    if default_ids is None:
        default_ids = pl.Series([f"{source}:"] * n, dtype=pl.String()) + positions.cast(pl.String)
    # Nested values cannot be a text, id, url or title: they stay in meta instead.
    scalar = {c for c, t in raw.schema.items() if not t.is_nested()}
    named = {spec.text_field, spec.id_field, spec.url_field, spec.title_field}
    rest = [c for c in raw.columns if c not in (named & scalar)]

    def field(name: str | None) -> pl.Expr:
        if name in scalar:
            return pl.col(name).cast(pl.String)
        return pl.lit(None, dtype=pl.String())

    text_present = spec.text_field in raw.columns
    text_nested = text_present and spec.text_field not in scalar
    cols: dict[str, pl.Expr] = {
        "id": pl.coalesce(field(spec.id_field), pl.lit(default_ids)),
        "text": field(spec.text_field),
        "source": pl.lit(source),
        "url": field(spec.url_field),
        "title": field(spec.title_field),
        "meta": pl.struct(rest).struct.json_encode() if rest else pl.lit("{}"),
        "flags": pl.lit(flags) if flags is not None else pl.lit([], dtype=pl.List(pl.String())),
    }
    docs = raw.select(**{k: v.cast(DOCUMENT_SCHEMA[k]) for k, v in cols.items()})
    if not text_present:
        reason = pl.lit(f"{READ_STEP}:missing_text_field")
    elif text_nested:
        reason = pl.lit(f"{READ_STEP}:text_not_a_string")
    else:
        reason = (
            pl.when(pl.col("text").is_null())
            .then(pl.lit(f"{READ_STEP}:missing_text_field"))
            .when(pl.col("text").str.strip_chars().str.len_bytes() == 0)
            .then(pl.lit(f"{READ_STEP}:empty_text"))
        )
    docs = docs.with_columns(reason.alias("_reason"), _pos=positions.cast(pl.String))
    bad = docs.filter(pl.col("_reason").is_not_null())
    good = docs.filter(pl.col("_reason").is_null()).drop("_reason", "_pos")
    where = pl.lit(f"{source}:") + pl.col("_pos") if source else pl.col("id")
    detail = bad.with_columns(_d=where + pl.lit(f": no usable {spec.text_field!r}"))["_d"]
    rejected = reject_frame(bad.drop("_reason", "_pos"), bad["_reason"], detail)
    return ReadBatch(good.select(list(DOCUMENT_SCHEMA)), rejected)


def reject_frame(
    docs: pl.DataFrame, reasons: pl.Series | str, detail: pl.Series | str
) -> pl.DataFrame:
    """Reader rejects in REJECTED_SCHEMA."""
    docs = conform(docs, DOCUMENT_SCHEMA).select(list(DOCUMENT_SCHEMA))
    return conform(
        docs.with_columns(
            step=pl.lit(READ_STEP),
            reason=pl.lit(reasons),
            detail=pl.lit(detail),
        ),
        REJECTED_SCHEMA,
    ).select(list(REJECTED_SCHEMA))


def reject_records(
    source: str, positions: list[int], texts: list[str], reasons: list[str], details: list[str]
) -> pl.DataFrame:
    """Rejects for records that never became documents (malformed lines, truncation)."""
    docs = pl.DataFrame(
        {
            "id": [f"{source}:{p}" for p in positions],
            "text": texts,
            "source": [source] * len(positions),
        },
        schema={"id": pl.String(), "text": pl.String(), "source": pl.String()},
    )
    return reject_frame(
        docs,
        pl.Series(reasons, dtype=pl.String()),
        pl.Series(details, dtype=pl.String()),
    )


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECTED_SCHEMA)
