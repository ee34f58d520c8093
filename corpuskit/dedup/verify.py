"""Exact Jaccard similarity of candidate pairs, to drop LSH false positives.

The shingle sets of the documents that appear in a candidate pair are recomputed from
their text (a second read of only those rows) as a `row, h` table; the intersection of a
pair is a join on (row, h), in chunks of pairs so that the joined rows stay bounded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from corpuskit.corpus import Corpus
from corpuskit.dedup.parts import Part, map_parts, sub_batches
from corpuskit.dedup.shingles import Shingling, shingle_batch

CHUNK_ROWS = 4_000_000  # joined (pair, shingle) rows per chunk


def shingle_sets(
    corpus: Corpus, parts: Sequence[Part], rows: np.ndarray, columns: Sequence[str], sh: Shingling
) -> pl.DataFrame:
    """Distinct `row, h` (shingle hash) for the given corpus rows."""
    rows = np.unique(rows)
    wanted = pl.Series("row", rows.astype(np.uint32))

    def one(_: int, part: Part) -> pl.DataFrame | None:
        lo, hi = np.searchsorted(rows, [part.first_row, part.first_row + part.rows])
        if lo == hi:
            return None
        df = part.read(columns).filter(pl.col("row").is_in(wanted[int(lo) : int(hi)].implode()))
        frames = []
        for batch in sub_batches(df):
            s, _ = shingle_batch(batch, sh)
            frames.append(
                pl.DataFrame(
                    {
                        "row": np.repeat(batch["row"].to_numpy(), s.counts).astype(np.uint32),
                        "h": s.hashes,
                    }
                ).unique()
            )
        return pl.concat(frames)

    found = [f for f in map_parts(corpus, one, parts) if f is not None]
    if not found:
        return pl.DataFrame(schema={"row": pl.UInt32, "h": pl.UInt32})
    return pl.concat(found)


def jaccard(
    pairs: pl.DataFrame, left: pl.DataFrame, right: pl.DataFrame, a: str = "u", b: str = "v"
) -> pl.DataFrame:
    """`pairs` with a `jaccard` column: |S_a & S_b| / |S_a | S_b| from the shingle tables."""
    if pairs.height == 0:
        return pairs.with_columns(jaccard=pl.lit(None, dtype=pl.Float64))
    left_size = left.group_by("row").len("size_a").rename({"row": a})
    right_size = right.group_by("row").len("size_b").rename({"row": b})
    sized = (
        pairs.join(left_size, on=a, how="left")
        .join(right_size, on=b, how="left")
        .with_columns(pl.col("size_a", "size_b").fill_null(0))
        .with_row_index("pair")
    )
    cum = sized["size_a"].cum_sum().to_numpy()
    inter, start = [], 0
    while start < sized.height:
        done = int(cum[start - 1]) if start else 0
        end = max(int(np.searchsorted(cum, done + CHUNK_ROWS, side="right")), start + 1)
        chunk = sized.slice(start, end - start).select("pair", a, b)
        inter.append(
            chunk.join(left.rename({"row": a}), on=a)
            .join(right.rename({"row": b}), on=[b, "h"], how="semi")
            .group_by("pair")
            .len("inter")
        )
        start = end
    out = sized.join(pl.concat(inter), on="pair", how="left").with_columns(
        pl.col("inter").fill_null(0)
    )
    union = pl.col("size_a") + pl.col("size_b") - pl.col("inter")
    return out.select(
        *pairs.columns,
        jaccard=pl.when(union > 0).then(pl.col("inter") / union).otherwise(0.0),
    )
