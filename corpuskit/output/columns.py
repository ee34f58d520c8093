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
