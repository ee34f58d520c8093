"""Per-document aggregation of the row tables the quality steps build (tokens, lines,
sentence units), as whole-column operations."""

from __future__ import annotations

import numpy as np
import polars as pl

from corpuskit.text.segment import HASH_SEED, sentence_units

# --------------------------------------------------------------------------- step helpers


def per_row(table: pl.DataFrame, height: int, *aggs: pl.Expr) -> pl.DataFrame:
    """Aggregate a table with a `row` column to exactly one row per document (0..height-1);
    documents without rows in `table` get nulls (fill them as the statistic needs)."""
    rows = pl.DataFrame({"row": pl.int_range(height, dtype=pl.UInt32, eager=True)})
    if table.height == 0:
        got = table.group_by("row").agg(*aggs).cast({"row": pl.UInt32})
        return rows.join(got, on="row", how="left")
    got = table.group_by("row").agg(*aggs)
    return rows.join(got.cast({"row": pl.UInt32}), on="row", how="left", maintain_order="left")


def row_sums(table: pl.DataFrame, height: int, **sums: pl.Expr | str) -> pl.DataFrame:
    """Per document 0..height-1, the sum of each (boolean or integer) expression over the
    table's rows of that document, 0 where it has none. What `per_row(...).fill_null(0)`
    gives for sums and counts (`pl.lit(1)`), as a bincount over `row`: no group_by or join."""
    if not table.height:
        return pl.DataFrame({k: np.zeros(height, dtype=np.int64) for k in sums})
    values = table.select(
        pl.col("row"),
        *[
            (pl.col(e) if isinstance(e, str) else e).cast(pl.Int64).fill_null(0).alias(k)
            for k, e in sums.items()
        ],
    )
    rows = values["row"].to_numpy()
    out = {
        k: np.bincount(rows, weights=values[k].to_numpy(), minlength=height).astype(np.int64)
        for k in sums
    }
    return pl.DataFrame(out, schema=dict.fromkeys(sums, pl.Int64))


def duplicate_stats(items: pl.DataFrame, prefix: str) -> pl.DataFrame:
    """datatrove's find_duplicates per document, for an exploded (row, s) table: every
    element equal to an earlier one of its document counts once, with its length."""
    h = items["s"].hash(HASH_SEED) * 0x9E3779B97F4A7C15 + items["row"].cast(pl.UInt64)
    dup = ~h.is_first_distinct()
    return items.select(
        "row",
        dup=dup,
        dup_chars=pl.when(dup).then(pl.col("s").str.len_chars()).otherwise(0).cast(pl.Int64),
    ).rename({"dup": f"{prefix}dup", "dup_chars": f"{prefix}dup_chars"})


def unit_counts(texts: pl.Series, mask: pl.Series, ends: str) -> tuple[pl.Series, pl.Series]:
    """For the texts where `mask` holds: how many sentence units they have and how many of
    those match the regex `ends`; 0 and 0 elsewhere (the units are not computed there)."""
    n = pl.Series([0] * len(texts), dtype=pl.UInt32)
    hits = pl.Series([0] * len(texts), dtype=pl.UInt32)
    idx = mask.fill_null(False).arg_true()
    if idx.len():
        units = pl.DataFrame({"t": texts.gather(idx)}).select(u=sentence_units(pl.col("t")))
        got = units.select(
            n=pl.col("u").list.len().cast(pl.UInt32),
            hits=pl.col("u")
            .list.eval(pl.element().str.contains(ends).cast(pl.UInt32))
            .list.sum()
            .cast(pl.UInt32),
        )
        n = n.scatter(idx, got["n"])
        hits = hits.scatter(idx, got["hits"])
    return n, hits
