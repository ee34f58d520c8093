"""The document table: the one schema every reader produces and every step sees."""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

DOCUMENT_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "text": pl.String(),
    "source": pl.String(),
    "url": pl.String(),
    "title": pl.String(),
    # The input's other fields as a JSON object: lossless, and stable across
    # heterogeneous inputs where a struct column's schema would differ per file.
    "meta": pl.String(),
    # Markers set while reading, e.g. "decode_replaced" for bytes that could not be decoded.
    "flags": pl.List(pl.String()),
}
CORE_COLUMNS: tuple[str, ...] = tuple(DOCUMENT_SCHEMA)

REJECTED_SCHEMA: dict[str, pl.DataType] = {
    **DOCUMENT_SCHEMA,
    "step": pl.String(),
    "reason": pl.String(),
    "detail": pl.String(),
    # Signal columns the rejecting step and its predecessors had computed, as JSON,
    # so every rejected shard has the same schema whatever step dropped it.
    "signals": pl.String(),
}

REASON_COLUMN = "__reject_reason__"
DETAIL_COLUMN = "__reject_detail__"


def empty_documents() -> pl.DataFrame:
    return pl.DataFrame(schema=DOCUMENT_SCHEMA)


def conform(batch: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Add missing columns as nulls and cast to `schema`, keeping extra columns after it."""
    exprs = []
    for name, dtype in schema.items():
        if name in batch.columns:
            exprs.append(pl.col(name).cast(dtype))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    extra = [c for c in batch.columns if c not in schema]
    return batch.select(*exprs, *extra)


def to_rejected(
    batch: pl.DataFrame, step: str, reason: pl.Expr | str, detail: pl.Expr | str | None = None
) -> pl.DataFrame:
    """Shape rejected rows into REJECTED_SCHEMA, folding non-core columns into `signals`."""
    signal_cols = [
        c
        for c in batch.columns
        if c not in DOCUMENT_SCHEMA and c not in (REASON_COLUMN, DETAIL_COLUMN)
    ]
    if isinstance(reason, str):
        reason = pl.lit(reason)
    if detail is None or isinstance(detail, str):
        detail = pl.lit(detail, dtype=pl.String())
    signals = (
        pl.struct(signal_cols).struct.json_encode()
        if signal_cols
        else pl.lit(None, dtype=pl.String())
    )
    out = batch.with_columns(
        step=pl.lit(step),
        reason=reason,
        detail=detail,
        signals=signals,
    )
    return conform(out, REJECTED_SCHEMA).select(list(REJECTED_SCHEMA))


def field_expr(name: str, columns: Collection[str]) -> pl.Expr:
    """A field as a string: the column `name` if `columns` has it, else that key of `meta`.

    `meta` holds an input's other fields as a JSON object; a key absent from a row's
    object (or a JSON null) gives null. Numbers come back as written.
    """
    if name in columns:
        return pl.col(name).cast(pl.String)
    escaped = name.replace("\\", "\\\\").replace("'", "\\'")
    return pl.col("meta").str.json_path_match(f"$['{escaped}']")
