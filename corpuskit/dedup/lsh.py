"""LSH banding over a corpus: sketch every part to band hashes on disk, then match band by band.

`sketch_corpus` computes, for every document with at least one shingle, its MinHash
signature and from it one 64-bit hash per band, and writes `row, b0 .. b{B-1}` to one
Parquet file per part under a work folder (a map over the parts through `Corpus.map`: a Ray
task each on Ray). Signatures are never all in memory: one sub-batch at a time (1024
documents), and only the band hashes (B x 8 bytes per document) are kept, on disk.

`band_edges` then runs a task per band (and, past BAND_ROWS documents, per hash split of the
band's buckets): it reads its band column across all parts (Parquet column projection) and
links every document of a bucket to the bucket's first document (a star: enough for
connected components). A task holds at most BAND_ROWS x 12 bytes of band; the edges come
back to the fit, which merges them. `band_matches` is the same against a reference.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from corpuskit.corpus import Corpus
from corpuskit.dedup.minhash import band_hashes, signatures
from corpuskit.dedup.parts import (
    Part,
    id_partition,
    map_parts,
    sub_batches,
    write_partitioned,
)
from corpuskit.dedup.shingles import Shingling, shingle_batch


@dataclass(frozen=True)
class LSHParams:
    num_perm: int
    bands: int
    rows: int
    seed: int = 1


BAND_ROWS = 4_000_000  # rows of one band a band task holds at most (about 12 bytes each)


def band_columns(bands: int) -> list[str]:
    return [f"b{k}" for k in range(bands)]


def sketch_batch(batch: pl.DataFrame, sh: Shingling, lsh: LSHParams) -> pl.DataFrame:
    """`row` and the band hashes of the batch's documents that have shingles."""
    shingles, _ = shingle_batch(batch, sh)
    sig = signatures(shingles.hashes, shingles.offsets, lsh.num_perm, lsh.seed)
    has = shingles.counts > 0
    if not has.all():
        sig = sig[:, has]
    bh = band_hashes(sig, lsh.bands, lsh.rows)
    cols = {"row": batch["row"].filter(pl.Series(has)).cast(pl.UInt32)}
    cols.update({name: bh[k] for k, name in enumerate(band_columns(lsh.bands))})
    return pl.DataFrame(cols)


def sketch_corpus(
    corpus: Corpus,
    parts: Sequence[Part],
    columns: Sequence[str],
    sh: Shingling,
    lsh: LSHParams,
    out_dir: Path,
    info: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    info_partitions: int = 1,
) -> tuple[list[Path], list[Path]]:
    """Band hash files (one per part) and, if `info` is given, files of info(batch).

    A map over the parts (see `parts.map_parts`). `columns` are read from each part (they
    must include `text`; `lang` is used when present); every batch also carries `row`, its
    global row number. info(batch) must have an `id` column: it is written partitioned by
    id into `info_partitions` row groups (`parts.write_partitioned`), for `fit.decide`.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*out_dir.glob("bands-*.parquet"), *out_dir.glob("info-*.parquet")]:
        stale.unlink()  # from an interrupted fit

    def one(i: int, part: Part) -> tuple[Path, Path | None]:
        df = part.read(columns)
        path = out_dir / f"bands-{i:06d}.parquet"
        frames = [sketch_batch(b, sh, lsh) for b in sub_batches(df)]
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        pl.concat(frames).write_parquet(tmp, compression="lz4", statistics=False)
        os.replace(tmp, path)  # a retried task replaces it whole
        if info is None:
            return path, None
        info_path = out_dir / f"info-{i:06d}.parquet"
        write_partitioned(info(df), id_partition(), info_partitions, info_path)
        return path, info_path

    results = map_parts(corpus, one, parts)
    return [p for p, _ in results], [i for _, i in results if i is not None]


def _rows(files: Sequence[Path]) -> int:
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def _band(files: Sequence[Path], name: str, q: int, splits: int) -> pl.DataFrame:
    """`row` and band column `name` of the rows whose bucket falls in split q of `splits`."""
    lf = pl.scan_parquet([str(f) for f in files]).select("row", name)
    if splits > 1:
        lf = lf.filter(pl.col(name) % splits == q)
    return lf.collect()


def band_edges(corpus: Corpus, files: Sequence[Path], bands: int) -> pl.DataFrame:
    """Distinct (u, v) row pairs, u < v: v shares a band bucket with u, the bucket's first row.

    A task per band and bucket split (a band's buckets are cut by hash into as many splits
    as keep a task to BAND_ROWS rows); every task reads its band column and returns its
    star edges, which are merged here.
    """
    empty = pl.DataFrame(schema={"u": pl.UInt32, "v": pl.UInt32})
    if not files:
        return empty
    splits = max(1, math.ceil(_rows(files) / BAND_ROWS))

    def one(task: tuple[int, int]) -> pl.DataFrame:
        k, q = task
        name = f"b{k}"
        band = _band(files, name, q, splits)
        first = pl.col("row").min().over(name)
        return (
            band.filter(pl.len().over(name) > 1)
            .select(u=first, v=pl.col("row"))
            .filter(pl.col("u") != pl.col("v"))
            .unique()
        )

    tasks = [(k, q) for k in range(bands) for q in range(splits)]
    found = [e for e in corpus.map(one, tasks) if e.height]
    return pl.concat(found).unique().sort("u", "v") if found else empty


def band_matches(
    corpus: Corpus, files: Sequence[Path], ref_files: Sequence[Path], bands: int
) -> pl.DataFrame:
    """Distinct (row, ref_row) pairs sharing at least one band bucket (corpus vs reference).

    A task per band and bucket split, as `band_edges`.
    """
    empty = pl.DataFrame(schema={"row": pl.UInt32, "ref_row": pl.UInt32})
    if not files or not ref_files:
        return empty
    splits = max(1, math.ceil((_rows(files) + _rows(ref_files)) / BAND_ROWS))

    def one(task: tuple[int, int]) -> pl.DataFrame:
        k, q = task
        name = f"b{k}"
        left = _band(files, name, q, splits)
        right = _band(ref_files, name, q, splits).rename({"row": "ref_row"})
        return left.join(right, on=name).select("row", "ref_row").unique()

    tasks = [(k, q) for k in range(bands) for q in range(splits)]
    found = [m for m in corpus.map(one, tasks) if m.height]
    return pl.concat(found).unique().sort("row", "ref_row") if found else empty


def candidate_pairs(bands_frame: pl.DataFrame, bands: int) -> set[tuple[int, int]]:
    """Every pair of rows sharing a bucket in some band (all pairs, not a star: for tests)."""
    pairs: set[tuple[int, int]] = set()
    for name in band_columns(bands):
        groups = bands_frame.group_by(name).agg(pl.col("row").sort()).get_column("row")
        for rows in groups.to_list():
            pairs.update((a, b) for i, a in enumerate(rows) for b in rows[i + 1 :])
    return pairs
