"""Which columns the final shards hold (`output.columns`): all, lean, or a list."""

from __future__ import annotations

import polars as pl

from corpuskit.schema import DOCUMENT_SCHEMA

#: The column an analyze run adds: every reason a document would have been rejected for.
WOULD_REJECT = "would_reject"
WOULD_REJECT_TYPE = pl.List(pl.String())


def select_columns(
    schema: dict[str, pl.DataType],
    columns: str | list[str],
    labels: set[str],
) -> dict[str, pl.DataType]:
    """`schema` narrowed to the chosen columns. "all": everything; "lean": the document
    columns, the `labels` (columns of map steps) and `would_reject`; a list: the document
    columns and those named (each must exist). Document columns are always kept: every
    shard reads back as documents."""
    if columns == "all":
        return dict(schema)
    if columns == "lean":
        keep = set(DOCUMENT_SCHEMA) | labels | {WOULD_REJECT}
        return {k: v for k, v in schema.items() if k in keep}
    unknown = [c for c in columns if c not in schema]
    if unknown:
        raise ValueError(
            f"output.columns: no step adds {', '.join(map(repr, unknown))}; "
            f"available: {', '.join(c for c in schema if c not in DOCUMENT_SCHEMA)}"
        )
    keep = set(DOCUMENT_SCHEMA) | set(columns)
    return {k: v for k, v in schema.items() if k in keep}


def meta_struct_type(metas: list[str]) -> pl.DataType | None:
    """The struct type of `meta` JSON objects that all have the same fields and types
    (nested values included); None where they differ, are empty or are not objects."""
    if not metas:
        return None
    try:
        decoded = pl.Series(metas, dtype=pl.String()).str.json_decode(infer_schema_length=None)
    except pl.exceptions.PolarsError:
        return None
    dtype = decoded.dtype
    if not isinstance(dtype, pl.Struct) or not dtype.fields:
        return None
    if not meta_round_trips(pl.Series(metas, dtype=pl.String()), dtype).all():
        return None
    return dtype


def meta_round_trips(meta: pl.Series, dtype: pl.DataType) -> pl.Series:
    """Which JSON strings `dtype` holds losslessly: decoded and encoded again, the same."""
    again = meta.str.json_decode(dtype).struct.json_encode()
    return (again == meta).fill_null(meta.is_null())


def meta_to_struct(batch: pl.DataFrame, dtype: pl.DataType, where: str) -> pl.DataFrame:
    """`meta` decoded into `dtype`; a ValueError names the first document whose fields do
    not fit (`output.meta: struct` promised they all would)."""
    meta = batch["meta"]
    ok = meta_round_trips(meta, dtype)
    if not ok.all():
        bad = batch.filter(~ok).row(0, named=True)
        raise ValueError(
            f"output.meta: struct, but document {bad['id']!r} ({where}) has meta "
            f"{bad['meta'][:200]} that does not fit {dtype}; use output.meta: json"
        )
    return batch.with_columns(meta.str.json_decode(dtype))
