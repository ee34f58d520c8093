"""Example documents picked from shards without loading their texts whole."""

from __future__ import annotations

from pathlib import Path

import polars as pl

#: Characters of a document shown in the report.
SHOWN = 700


def first_per_key(
    files: list[Path], key: pl.Expr, per_key: int, columns: list[str], keys: list[str] | None = None
) -> pl.DataFrame:
    """Up to `per_key` rows for each value of `key` (in file order), with `columns`; texts are
    cut to SHOWN characters. Only the key is read from every file; the rows picked are then
    read from the files that hold them."""
    if not files:
        return pl.DataFrame()
    index = (
        pl.scan_parquet(files, include_file_paths="_file")
        .select(key.alias("_key"), "_file")
        .with_columns(_row=pl.int_range(pl.len()).over("_file"))
    )
    if keys is not None:
        index = index.filter(pl.col("_key").is_in(keys))
    picked = (
        index.filter(pl.int_range(pl.len()).over("_key") < per_key)
        .select("_file", "_row", "_key")
        .collect()
    )
    out = []
    for (file,), rows in picked.group_by("_file"):
        wanted = rows["_row"]
        frame = (
            pl.scan_parquet(file)
            .with_row_index("_row")
            .filter(pl.col("_row").is_in(wanted.implode()))
            .select("_row", *columns)
            .collect()
        )
        out.append(frame.join(rows.select("_row", "_key"), on="_row").drop("_row"))
    if not out:
        return pl.DataFrame()
    frame = pl.concat(out, how="vertical_relaxed")
    if "text" in frame.columns:
        frame = frame.with_columns(pl.col("text").str.slice(0, SHOWN))
    return frame.sort("_key")
