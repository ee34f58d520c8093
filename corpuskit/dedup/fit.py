"""Corpus-wide dedup decisions: exact duplicates and MinHash near-duplicate clusters.

Both return one row per document that belongs to a cluster of two or more (see
`cluster.cluster_state`), keyed by document id; documents outside any cluster are absent,
so the state that travels to the workers grows with the duplicates, not the corpus.

Ids must be unique across the corpus: the decision for a document is found by its id in
`apply`, which sees batches, not positions. corpuskit's own ids (`<file>:<line>`) always
are; ids taken from the input (`id_field`) are checked, and a repeat is an error naming it.

Both are maps and per-partition reduces over the `Corpus` they are given (`corpus.map`:
threads locally, Ray tasks on Ray), which exchange rows through partitioned Parquet files
in a spill folder under `corpus.workdir` (`parts.write_partitioned`): only the cluster
members (and candidate pairs) come back to the process running the fit. The result does
not depend on the number of partitions or on where the tasks ran.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from corpuskit.corpus import Corpus
from corpuskit.dedup.cluster import Keep, cluster_state, components_frame
from corpuskit.dedup.hashing import text_hash_exprs
from corpuskit.dedup.lsh import LSHParams, band_edges, sketch_corpus
from corpuskit.dedup.normalize import Normalize, normalized
from corpuskit.dedup.parts import (
    Part,
    corpus_parts,
    id_partition,
    map_parts,
    partition_count,
    read_partition,
    schema_names,
    spill_dir,
    write_partitioned,
)
from corpuskit.dedup.shingles import Shingling
from corpuskit.dedup.verify import jaccard, shingle_sets
from corpuskit.schema import field_expr

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


def repeated_ids(info: pl.DataFrame) -> tuple[int, pl.DataFrame]:
    """(how many ids occur more than once, the 3 most repeated as id, len) in `info`."""
    counts = info.group_by("id").len().filter(pl.col("len") > 1)
    top = counts.sort("len", "id", descending=[True, False]).head(3)
    return counts.height, top


def raise_repeated(found: list[tuple[int, pl.DataFrame]], step: str) -> None:
    """DuplicateIds naming the most repeated ids, from `repeated_ids` of disjoint id sets."""
    total = sum(n for n, _ in found)
    if not total:
        return
    top = pl.concat([t for _, t in found]).sort("len", "id", descending=[True, False]).head(3)
    examples = ", ".join(f"{i!r} x{n}" for i, n in top.iter_rows())
    raise DuplicateIds(
        f"{step}: document ids must be unique to say which copy is kept, but "
        f"{total} ids occur more than once ({examples}). The input's id_field "
        "repeats: remove id_field (ids then come from file and line) or make it unique."
    )


def check_unique_ids(info: pl.DataFrame, step: str) -> None:
    raise_repeated([repeated_ids(info)], step)


def _empty_state() -> pl.DataFrame:
    return pl.DataFrame(schema=STATE_SCHEMA)


def _part_file(folder: Path, kind: str, i: int) -> Path:
    return folder / f"{kind}-{i:06d}.parquet"


def decide(
    corpus: Corpus,
    comps: pl.DataFrame,
    info_files: list[Path],
    partitions: int,
    policy: Policy,
    step: str,
) -> pl.DataFrame:
    """The state from the components (`row, cluster`) and the id-partitioned info files.

    One task per id partition checks that its ids are unique and returns the info of the
    cluster members it holds; only those (not the corpus) come back for `cluster_state`.
    """
    members = comps.select("row")

    def one(p: int) -> tuple[tuple[int, pl.DataFrame], pl.DataFrame]:
        info = read_partition(info_files, p)
        return repeated_ids(info), info.join(members, on="row", how="semi")

    found = corpus.map(one, range(partitions))
    raise_repeated([r for r, _ in found], step)
    if not comps.height:
        return _empty_state()
    info = pl.concat([m for _, m in found], how="vertical_relaxed")
    return cluster_state(comps, info, policy.keep, policy.prefer)


def exact_state(
    corpus: Corpus,
    norm: Normalize,
    policy: Policy,
    step: str,
    with_fields: Sequence[str] = (),
) -> tuple[pl.DataFrame, FitReport]:
    """Clusters of documents whose normalized texts are equal (128-bit hash).

    `with_fields` (columns or `meta` keys) must be equal too: the hash covers the text and
    each of them, normalized alike and joined by a separator no text holds.

    Map (a task per part): hash the texts; write `row, h1, h2` partitioned by hash and
    `row, id` (+ policy columns) partitioned by id. Reduce (a task per hash partition):
    the groups of two or more, as `row, cluster` (the group's first row). Then `decide`.
    """
    report, t0 = FitReport(), time.perf_counter()
    parts = corpus_parts(corpus.files)
    if not parts:
        return _empty_state(), report
    names = schema_names(corpus.files)
    read, exprs = info_exprs(policy, names)
    keys = [pl.col("text"), *(field_expr(f, names) for f in with_fields)]
    key_columns = [f if f in names else "meta" for f in with_fields]
    columns = list(dict.fromkeys(["text", *key_columns, *read]))
    normed = [normalized(k.fill_null(""), norm) for k in keys]
    hashes = text_hash_exprs(pl.concat_str(normed, separator="\x00") if with_fields else normed[0])
    partitions = partition_count(corpus, sum(p.rows for p in parts))
    with spill_dir(corpus.workdir / f"exact-{step}") as spill:

        def one(i: int, part: Part) -> int:
            df = part.read(columns).select(*exprs, *hashes)
            by_hash = df.select("row", "h1", "h2")
            write_partitioned(by_hash, pl.col("h1"), partitions, _part_file(spill, "hash", i))
            by_id = df.drop("h1", "h2")
            write_partitioned(by_id, id_partition(), partitions, _part_file(spill, "info", i))
            return df.height

        report.documents = sum(map_parts(corpus, one, parts))
        report.seconds["hash"] = time.perf_counter() - t0
        t = time.perf_counter()
        hash_files = [_part_file(spill, "hash", i) for i in range(len(parts))]

        def groups(p: int) -> pl.DataFrame:
            table = read_partition(hash_files, p)
            first, size = pl.col("row").min().over("h1", "h2"), pl.len().over("h1", "h2")
            return table.filter(size > 1).select("row", cluster=first)

        comps = pl.concat(corpus.map(groups, range(partitions)))
        report.seconds["groups"] = time.perf_counter() - t
        t = time.perf_counter()
        info_files = [_part_file(spill, "info", i) for i in range(len(parts))]
        state = decide(corpus, comps, info_files, partitions, policy, step)
        report.seconds["clusters"] = time.perf_counter() - t
    _count(state, report)
    report.seconds["total"] = time.perf_counter() - t0
    return state, report


def near_state(
    corpus: Corpus,
    sh: Shingling,
    lsh: LSHParams,
    threshold: float,
    verify: bool,
    policy: Policy,
    step: str,
) -> tuple[pl.DataFrame, FitReport]:
    """Clusters of near-duplicates: MinHash LSH candidates, verified, connected.

    Map (a task per part): band hashes to one file per part, and `row, id` (+ policy
    columns) partitioned by id. Bands (tasks per band and bucket-hash partition): the
    candidate pairs. Verify: shingle sets of the candidates' rows (a map over parts), then
    their Jaccard here. Components here (they need every edge), then `decide`.
    """
    report, t0 = FitReport(), time.perf_counter()
    parts = corpus_parts(corpus.files)
    if not parts:
        return _empty_state(), report
    names = schema_names(corpus.files)
    text_cols = ["text", *(["lang"] if "lang" in names else [])]
    read, exprs = info_exprs(policy, names)
    columns = list(dict.fromkeys([*text_cols, *read]))
    partitions = partition_count(corpus, sum(p.rows for p in parts))
    with spill_dir(corpus.workdir / f"minhash-{step}") as spill:
        band_files, info_files = sketch_corpus(
            corpus,
            parts,
            columns,
            sh,
            lsh,
            spill / "bands",
            lambda df: df.select(exprs),
            partitions,
        )
        report.documents = sum(p.rows for p in parts)
        report.seconds["signatures"] = time.perf_counter() - t0
        t = time.perf_counter()
        edges = band_edges(corpus, band_files, lsh.bands)
        report.candidate_pairs = edges.height
        report.seconds["bands"] = time.perf_counter() - t
        if verify and edges.height:
            t = time.perf_counter()
            rows = np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()])
            sets = shingle_sets(corpus, parts, rows, text_cols, sh)
            edges = jaccard(edges, sets, sets).filter(pl.col("jaccard") >= threshold)
            report.seconds["verify"] = time.perf_counter() - t
        report.verified_pairs = edges.height
        t = time.perf_counter()
        comps = components_frame(edges)
        state = decide(corpus, comps, info_files, partitions, policy, step)
        report.seconds["clusters"] = time.perf_counter() - t
    _count(state, report)
    report.seconds["total"] = time.perf_counter() - t0
    return state, report


def _count(state: pl.DataFrame, report: FitReport) -> None:
    report.clusters = state["dup_cluster"].n_unique() if state.height else 0
    report.duplicates = state["drop"].is_not_null().sum()
