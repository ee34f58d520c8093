"""A Parquet corpus cut into parts (one row group each), the maps over them, and shuffles.

Dedup passes over a corpus one part at a time, several parts at once, so memory stays
bounded by a few row groups. A document's row number is its position in the corpus (files
in the given order), which is what "first" means for survivor policies.

Maps go through the `Corpus` every function here takes as its first argument: its `map`
is the backend's (threads of the driver locally, Ray tasks spread over the cluster on Ray;
a `Corpus(files, workdir, workers)` built by hand maps in `workers` threads).

Shuffles go through files in the fit's work folder, which every node sees: a map writes
its rows into one Parquet file whose row group `p` holds hash partition `p`
(`write_partitioned`), and the reduce task of partition `p` reads row group `p` of every
map's file (`read_partition`). Only what the fit needs in the end comes back to it.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from corpuskit.corpus import Corpus

T = TypeVar("T")
SUB_BATCH = 1024  # documents per numpy batch: keeps scratch arrays in cache
PARTITION_ROWS = 2_000_000  # rows per reduce partition: bounds a reduce task's memory
_ID_SEED = 0x1D5EED


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


# --- maps -------------------------------------------------------------------------------------
class _Indexed:
    """fn(i, part) called with one (i, part) item: a picklable adapter for `Corpus.map`."""

    def __init__(self, fn: Callable[[int, Part], Any]) -> None:
        self.fn = fn

    def __call__(self, item: tuple[int, Part]) -> Any:
        return self.fn(*item)


def map_parts(corpus: Corpus, fn: Callable[[int, Part], T], parts: Sequence[Part]) -> list[T]:
    """fn(index, part) for every part, through `corpus.map`; results in part order."""
    return corpus.map(_Indexed(fn), list(enumerate(parts)))


def partition_count(corpus: Corpus, rows: int) -> int:
    """Hash partitions for a shuffle of `rows` rows: enough to keep every slot busy and
    every reduce at most PARTITION_ROWS rows (the result never depends on it)."""
    return max(corpus.parallelism, math.ceil(rows / PARTITION_ROWS), 1)


@contextmanager
def spill_dir(folder: Path) -> Iterator[Path]:
    """`folder`, emptied (an interrupted fit's leftovers), for a fit's spill files; removed
    afterwards. Under the corpus's work folder, it is on a filesystem every node sees."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- shuffles through files ----------------------------------------------------------------------
def id_partition(column: str = "id") -> pl.Expr:
    """A partition key for a string column (Polars' hash, fixed seed)."""
    return pl.col(column).hash(seed=_ID_SEED)


def write_partitioned(df: pl.DataFrame, key: pl.Expr, partitions: int, path: Path) -> Path:
    """`df` as one Parquet file whose row group p holds the rows with key % partitions == p.

    Every partition has its row group, empty or not, so a reduce finds it by number.
    Written under a temporary name and renamed: a retried map task replaces it whole.
    """
    ordered = df.with_columns(_p=(key % partitions).cast(pl.Int64)).sort("_p", maintain_order=True)
    bounds = np.searchsorted(ordered["_p"].to_numpy(), np.arange(partitions + 1))
    table = ordered.drop("_p").to_arrow()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with pq.ParquetWriter(tmp, table.schema, compression="lz4") as writer:
        for i in range(partitions):
            rows = table.slice(int(bounds[i]), int(bounds[i + 1] - bounds[i]))
            writer.write_table(rows, row_group_size=max(1, rows.num_rows))
    os.replace(tmp, path)
    return path


def read_partition(files: Sequence[Path | str], p: int) -> pl.DataFrame:
    """Partition p of the files `write_partitioned` wrote (its row group p in each)."""
    tables = [pq.ParquetFile(f).read_row_group(p) for f in files]
    return pl.from_arrow(pa.concat_tables(tables, promote_options="default"))


def read_rows(
    corpus: Corpus, parts: Sequence[Part], rows: np.ndarray, columns: Sequence[str]
) -> pl.DataFrame:
    """`row` and `columns` of the given corpus rows, reading only the parts that hold them."""
    rows = np.unique(rows).astype(np.uint32)
    wanted = pl.Series("row", rows)

    def one(_: int, part: Part) -> pl.DataFrame | None:
        lo, hi = np.searchsorted(rows, [part.first_row, part.first_row + part.rows])
        if lo == hi:
            return None
        keep = pl.col("row").is_in(wanted[int(lo) : int(hi)].implode())
        return part.read(columns).filter(keep).select("row", *columns)

    found = [f for f in map_parts(corpus, one, parts) if f is not None]
    if not found:
        return pl.DataFrame(schema={"row": pl.UInt32, **{c: pl.String for c in columns}})
    return pl.concat(found)
