"""A Parquet corpus cut into parts (one row group each) with global row numbers.

Dedup passes over a corpus one part at a time, several parts in parallel threads (numpy
and Polars release the GIL), so memory stays bounded by a few row groups. A document's
row number is its position in the corpus (files in the given order), which is what
"first" means for survivor policies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import polars as pl
import pyarrow.parquet as pq

T = TypeVar("T")
SUB_BATCH = 1024  # documents per numpy batch: keeps scratch arrays in cache


@dataclass(frozen=True)
class Part:
    path: str
    row_group: int
    first_row: int
    rows: int
    text_column: str = "text"  # read as `text` (a reference corpus may name it otherwise)

    def read(self, columns: Sequence[str]) -> pl.DataFrame:
        """The columns of this row group, plus `row` (global row number)."""
        names = [self.text_column if c == "text" else c for c in columns]
        table = pq.ParquetFile(self.path).read_row_group(self.row_group, columns=names)
        df = pl.from_arrow(table)
        if self.text_column != "text" and "text" in columns:
            df = df.drop("text", strict=False).rename({self.text_column: "text"})
        return df.with_row_index("row", offset=self.first_row)


def corpus_parts(files: Sequence[Path | str], text_column: str = "text") -> list[Part]:
    """Every row group of every file, in corpus order, with its first global row number."""
    parts, row = [], 0
    for f in files:
        meta = pq.ParquetFile(f).metadata
        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            if n:
                parts.append(Part(str(f), g, row, n, text_column))
            row += n
    return parts


def schema_names(files: Sequence[Path | str]) -> list[str]:
    """Column names of the corpus (from its first file)."""
    return pq.read_schema(files[0]).names if files else []


def sub_batches(df: pl.DataFrame, size: int = SUB_BATCH) -> Iterator[pl.DataFrame]:
    for offset in range(0, df.height, size):
        yield df.slice(offset, size)


def map_parts(fn: Callable[[int, Part], T], parts: Sequence[Part], workers: int) -> list[T]:
    """fn(index, part) for every part, `workers` threads at a time; results in part order."""
    if workers <= 1 or len(parts) <= 1:
        return [fn(i, p) for i, p in enumerate(parts)]
    with ThreadPoolExecutor(workers, thread_name_prefix="dedup") as pool:
        return list(pool.map(fn, range(len(parts)), parts))
