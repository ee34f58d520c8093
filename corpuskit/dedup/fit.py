"""Corpus-wide dedup decisions: exact duplicates and MinHash near-duplicate clusters.

Both return one row per document that belongs to a cluster of two or more (see
`cluster.cluster_state`), keyed by document id; documents outside any cluster are absent,
so the state that travels to the workers grows with the duplicates, not the corpus.

Ids must be unique across the corpus: the decision for a document is found by its id in
`apply`, which sees batches, not positions. corpuskit's own ids (`<file>:<line>`) always
are; ids taken from the input (`id_field`) are checked, and a repeat is an error naming it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from corpuskit.dedup.cluster import Keep, cluster_state, components_frame
from corpuskit.dedup.hashing import text_hash_exprs
from corpuskit.dedup.lsh import LSHParams, band_edges, sketch_corpus
from corpuskit.dedup.normalize import Normalize, normalized
from corpuskit.dedup.parts import Part, corpus_parts, map_parts, schema_names
from corpuskit.dedup.shingles import Shingling
from corpuskit.dedup.verify import jaccard, shingle_sets

STATE_SCHEMA = {
    "row": pl.UInt32,
    "id": pl.String,
    "dup_cluster": pl.String,
    "dup_cluster_size": pl.Int64,
    "drop": pl.String,
}


class DuplicateIds(ValueError):
    """Document ids repeat, so a per-document decision cannot be found by id."""


@dataclass
class Policy:
    """Which member of a cluster survives."""

    keep: Keep = "first"
    field: str | None = None
    prefer: Literal["max", "min"] = "max"


@dataclass
class FitReport:
    """What a fit found, for logs, tests and benchmarks."""

    documents: int = 0
    candidate_pairs: int = 0
    verified_pairs: int = 0
    clusters: int = 0
    duplicates: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def info_exprs(policy: Policy, columns: list[str]) -> tuple[list[str], list[pl.Expr]]:
    """Columns to read and expressions for `id` plus the policy's `length` or `key`."""
    read = ["id"]
    exprs = [pl.col("row"), pl.col("id")]
    if policy.keep == "longest":
        read.append("text")
        exprs.append(pl.col("text").str.len_chars().alias("length"))
    if policy.keep == "field" and policy.field:
        if policy.field in columns:
            read.append(policy.field)
            exprs.append(pl.col(policy.field).alias("key"))
        else:
            read.append("meta")
            key = policy.field.replace("\\", "\\\\").replace("'", "\\'")
            exprs.append(pl.col("meta").str.json_path_match(f"$['{key}']").alias("key"))
    return read, exprs


def check_unique_ids(info: pl.DataFrame, step: str) -> None:
    dup = info.filter(pl.col("id").is_duplicated())
    if dup.height:
        counts = dup.group_by("id").len().sort("len", "id", descending=[True, False])
        examples = ", ".join(f"{i!r} x{n}" for i, n in counts.head(3).iter_rows())
        raise DuplicateIds(
            f"{step}: document ids must be unique to say which copy is kept, but "
            f"{counts.height} ids occur more than once ({examples}). The input's id_field "
            "repeats: remove id_field (ids then come from file and line) or make it unique."
        )


def _empty_state() -> pl.DataFrame:
    return pl.DataFrame(schema=STATE_SCHEMA)


def exact_state(
    files: list[Path], workers: int, norm: Normalize, policy: Policy, step: str
) -> tuple[pl.DataFrame, FitReport]:
    """Clusters of documents whose normalized texts are equal (128-bit hash)."""
    report, t0 = FitReport(), time.perf_counter()
    parts = corpus_parts(files)
    read, exprs = info_exprs(policy, schema_names(files))
    columns = list(dict.fromkeys(["text", *read]))
    hashes = text_hash_exprs(normalized(pl.col("text").fill_null(""), norm))

    def one(_: int, part: Part) -> pl.DataFrame:
        return part.read(columns).select(*exprs, *hashes)

    frames = map_parts(one, parts, workers)
    if not frames:
        return _empty_state(), report
    info = pl.concat(frames)
    report.documents = info.height
    check_unique_ids(info, step)
    report.seconds["hash"] = time.perf_counter() - t0
    comps = (
        info.with_columns(cluster=pl.col("row").min().over("h1", "h2"), n=pl.len().over("h1", "h2"))
        .filter(pl.col("n") > 1)
        .select("row", "cluster")
    )
    state = cluster_state(comps, info.drop("h1", "h2"), policy.keep, policy.prefer)
    _count(state, report)
    report.seconds["total"] = time.perf_counter() - t0
    return state, report


def near_state(
    files: list[Path],
    workdir: Path,
    workers: int,
    sh: Shingling,
    lsh: LSHParams,
    threshold: float,
    verify: bool,
    policy: Policy,
    step: str,
) -> tuple[pl.DataFrame, FitReport]:
    """Clusters of near-duplicates: MinHash LSH candidates, verified, connected."""
    report, t0 = FitReport(), time.perf_counter()
    parts = corpus_parts(files)
    names = schema_names(files)
    text_cols = ["text", *(["lang"] if "lang" in names else [])]
    read, exprs = info_exprs(policy, names)
    columns = list(dict.fromkeys([*text_cols, *read]))
    band_files, infos = sketch_corpus(
        parts, columns, sh, lsh, workdir / "bands", workers, lambda df: df.select(exprs)
    )
    if not infos:
        return _empty_state(), report
    info = pl.concat(infos)
    report.documents = info.height
    check_unique_ids(info, step)
    report.seconds["signatures"] = time.perf_counter() - t0
    t = time.perf_counter()
    edges = band_edges(band_files, lsh.bands)
    report.candidate_pairs = edges.height
    report.seconds["bands"] = time.perf_counter() - t
    if verify and edges.height:
        t = time.perf_counter()
        rows = np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()])
        sets = shingle_sets(parts, rows, text_cols, sh, workers)
        edges = jaccard(edges, sets, sets).filter(pl.col("jaccard") >= threshold)
        report.seconds["verify"] = time.perf_counter() - t
    report.verified_pairs = edges.height
    t = time.perf_counter()
    comps = components_frame(edges)
    state = cluster_state(comps, info, policy.keep, policy.prefer)
    report.seconds["clusters"] = time.perf_counter() - t
    _count(state, report)
    report.seconds["total"] = time.perf_counter() - t0
    return state, report


def _count(state: pl.DataFrame, report: FitReport) -> None:
    report.clusters = state["dup_cluster"].n_unique() if state.height else 0
    report.duplicates = state["drop"].is_not_null().sum()
