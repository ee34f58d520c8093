"""LSH banding over a corpus: sketch every part to band hashes on disk, then match band by band.

`sketch_corpus` computes, for every document with at least one shingle, its MinHash
signature and from it one 64-bit hash per band, and writes `row, b0 .. b{B-1}` to one
Parquet file per part under a work folder. Signatures are never all in memory: one
sub-batch at a time (1024 documents), and only the band hashes (B x 8 bytes per document)
are kept, on disk.

`band_edges` then reads one band column at a time across all parts (Parquet column
projection) and links every document of a bucket to the bucket's first document (a star:
enough for connected components, and B x 12 bytes per document in memory at most).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from corpuskit.dedup.minhash import band_hashes, signatures
from corpuskit.dedup.parts import Part, map_parts, sub_batches
from corpuskit.dedup.shingles import Shingling, shingle_batch


@dataclass(frozen=True)
class LSHParams:
    num_perm: int
    bands: int
    rows: int
    seed: int = 1


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
    parts: Sequence[Part],
    columns: Sequence[str],
    sh: Shingling,
    lsh: LSHParams,
    out_dir: Path,
    workers: int,
    info: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> tuple[list[Path], list[pl.DataFrame]]:
    """Band hash files (one per part) and, if `info` is given, info(batch) of every part.

    `columns` are read from each part (they must include `text`; `lang` is used when
    present); every batch also carries `row`, its global row number.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("bands-*.parquet"):  # from an interrupted fit
        stale.unlink()

    def one(i: int, part: Part) -> tuple[Path, pl.DataFrame | None]:
        df = part.read(columns)
        path = out_dir / f"bands-{i:06d}.parquet"
        frames = [sketch_batch(b, sh, lsh) for b in sub_batches(df)]
        pl.concat(frames).write_parquet(path, compression="lz4", statistics=False)
        return path, (info(df) if info is not None else None)

    results = map_parts(one, parts, workers)
    return [p for p, _ in results], [i for _, i in results if i is not None]


def band_edges(files: Sequence[Path], bands: int) -> pl.DataFrame:
    """Distinct (u, v) row pairs, u < v: v shares a band bucket with u, the bucket's first row.

    One band in memory at a time.
    """
    if not files:
        return pl.DataFrame(schema={"u": pl.UInt32, "v": pl.UInt32})
    edges = []
    scan = pl.scan_parquet([str(f) for f in files])
    for name in band_columns(bands):
        band = scan.select("row", name).collect()
        first = pl.col("row").min().over(name)
        edges.append(
            band.filter(pl.len().over(name) > 1)
            .select(u=first, v=pl.col("row"))
            .filter(pl.col("u") != pl.col("v"))
        )
        # de-duplicate as we go, so the edge list never holds one pair once per band
        if len(edges) > 4:
            edges = [pl.concat(edges).unique()]
    return pl.concat(edges).unique().sort("u", "v")


def band_matches(files: Sequence[Path], ref_files: Sequence[Path], bands: int) -> pl.DataFrame:
    """Distinct (row, ref_row) pairs sharing at least one band bucket (corpus vs reference)."""
    if not files or not ref_files:
        return pl.DataFrame(schema={"row": pl.UInt32, "ref_row": pl.UInt32})
    scan = pl.scan_parquet([str(f) for f in files])
    ref = pl.scan_parquet([str(f) for f in ref_files])
    found = []
    for name in band_columns(bands):
        left = scan.select("row", name).collect()
        right = ref.select(pl.col("row").alias("ref_row"), name).collect()
        found.append(left.join(right, on=name).select("row", "ref_row"))
        if len(found) > 4:
            found = [pl.concat(found).unique()]
    return pl.concat(found).unique().sort("row", "ref_row")


def candidate_pairs(bands_frame: pl.DataFrame, bands: int) -> set[tuple[int, int]]:
    """Every pair of rows sharing a bucket in some band (all pairs, not a star: for tests)."""
    pairs: set[tuple[int, int]] = set()
    for name in band_columns(bands):
        groups = bands_frame.group_by(name).agg(pl.col("row").sort()).get_column("row")
        for rows in groups.to_list():
            pairs.update((a, b) for i, a in enumerate(rows) for b in rows[i + 1 :])
    return pairs
