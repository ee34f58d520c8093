"""exact_dedup, minhash_dedup, dedup_against: corpus-wide duplicate removal (global steps).

`fit` runs once over the whole stage input; its maps and per-partition reduces go through
`Corpus.map` (threads with the local executor, Ray tasks across the cluster with the Ray
executor) and exchange rows through spill files in the run's work folder. It returns a
table with one row per document that belongs to a duplicate cluster, keyed by id; `apply`
joins each batch to it. Documents are only ever dropped with a reason, and a dropped
duplicate names the document it duplicates in the rejected output's `detail` column.
Algorithms: `corpuskit.dedup`.

Document ids must be unique across the corpus (they are unless the input's `id_field`
repeats; a repeat fails the fit with a message naming the ids).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import polars as pl
from pydantic import Field, field_validator, model_validator

from corpuskit.dedup.cluster import Keep
from corpuskit.dedup.fit import FitReport, Policy, exact_state, near_state
from corpuskit.dedup.lsh import LSHParams
from corpuskit.dedup.minhash import optimal_bands_rows
from corpuskit.dedup.normalize import Normalize, TokenNormalize
from corpuskit.dedup.reference import (
    IndexSpec,
    default_cache_dir,
    load_or_build_index,
    match_reference,
    reference_files,
)
from corpuskit.dedup.shingles import CHAR_LANGUAGES, Shingling
from corpuskit.schema import DETAIL_COLUMN, REASON_COLUMN
from corpuskit.steps.base import Corpus, GlobalStep, StepConfig, StepResult

log = logging.getLogger(__name__)


@dataclass
class AgainstState:
    """Matches of corpus documents in the reference, by id."""

    matches: pl.DataFrame  # id, ref_id, reason (exact | near), jaccard
    index: str  # the index folder
    built: bool  # built by this fit (False: found in the cache)


@dataclass
class DedupState:
    """What travels from `fit` to the workers: decisions for cluster members, by id."""

    table: pl.DataFrame  # id, dup_cluster, dup_cluster_size, drop (null = kept)
    report: FitReport


# ---------------------------------------------------------------- configs


def _check_field(keep: str, field: str | None) -> None:
    if keep == "field" and not field:
        raise ValueError("keep: field needs `field` (a column or meta key)")
    if keep != "field" and field:
        raise ValueError(f"`field` is only used with keep: field (keep is {keep!r})")


class PolicyConfig(StepConfig):
    """Which copy of a cluster survives."""

    keep: Literal["first", "longest", "field"] = Field(
        "first", description="first (input order) | longest (characters) | field"
    )
    field: str | None = Field(
        None, description="with keep: field, a top-level column or a key of `meta`"
    )
    prefer: Literal["max", "min"] = Field("max", description="with keep: field")

    @model_validator(mode="after")
    def _field_with_keep(self) -> PolicyConfig:
        _check_field(self.keep, self.field)
        return self

    def policy(self) -> Policy:
        return Policy(self.keep, self.field, self.prefer)


class ExactDedupConfig(PolicyConfig):
    normalize: Normalize = Normalize()
    with_fields: list[str] = Field(
        [],
        description="columns or `meta` keys compared as well as the text (e.g. the source "
        "side of a translation pair): copies agree on all of them after normalization",
    )


class NearConfig(StepConfig):
    """Shingling and LSH parameters shared by minhash_dedup and dedup_against."""

    threshold: float = Field(0.7, gt=0, lt=1, description="Jaccard similarity of duplicates")
    num_perm: int = Field(128, ge=2, le=1024)
    bands: int | None = Field(None, ge=1)
    rows: int | None = Field(None, ge=1)
    weights: tuple[float, float] | None = Field(
        None,
        description="(false positive, false negative) weights for deriving bands/rows; "
        "default (0.1, 0.9) with verify, (0.5, 0.5) without",
    )
    seed: int = Field(1, ge=0, lt=2**32)
    shingle: Literal["auto", "word", "char"] = "auto"
    word_ngram: int = Field(5, ge=1, le=64)
    char_ngram: int = Field(5, ge=1, le=64)
    char_languages: tuple[str, ...] = CHAR_LANGUAGES
    script_ratio: float = Field(0.3, ge=0, le=1)
    normalize: TokenNormalize = TokenNormalize()
    verify: bool = Field(True, description="check candidates' exact Jaccard >= threshold")

    @field_validator("weights")
    @classmethod
    def _weights(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and (min(v) < 0 or sum(v) <= 0):
            raise ValueError("weights must be two non-negative numbers, not both 0")
        return v

    @model_validator(mode="after")
    def _bands_rows(self) -> NearConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (then derived from threshold)")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}"
            )
        return self

    def lsh(self) -> LSHParams:
        if self.bands is not None:
            return LSHParams(self.num_perm, self.bands, self.rows, self.seed)
        weights = self.weights or ((0.1, 0.9) if self.verify else (0.5, 0.5))
        b, r = optimal_bands_rows(self.threshold, self.num_perm, *weights)
        return LSHParams(self.num_perm, b, r, self.seed)

    def shingling(self) -> Shingling:
        return Shingling(
            mode=self.shingle,
            word_ngram=self.word_ngram,
            char_ngram=self.char_ngram,
            char_languages=tuple(lang.lower() for lang in self.char_languages),
            script_ratio=self.script_ratio,
            normalize=self.normalize,
        )


class MinHashDedupConfig(NearConfig):
    keep: Keep = Field("first", description="first | longest | field | drop_all")
    field: str | None = None
    prefer: Literal["max", "min"] = "max"

    @model_validator(mode="after")
    def _field_with_keep(self) -> MinHashDedupConfig:
        _check_field(self.keep, self.field)
        return self

    def policy(self) -> Policy:
        return Policy(self.keep, self.field, self.prefer)


class DedupAgainstConfig(NearConfig):
    reference: str = Field(description="Parquet folder, file or glob of the reference corpus")
    text_column: str = "text"
    id_column: str | None = Field("id", description="reference ids; else <file>:<row>")
    exact: bool = Field(True, description="drop exact copies (normalized as `exact_normalize`)")
    near: bool = Field(True, description="drop near-duplicates (Jaccard >= threshold)")
    exact_normalize: Normalize = Normalize()
    cache_dir: str | None = Field(None, description="default: ~/.cache/corpuskit/dedup_against")

    @model_validator(mode="after")
    def _something(self) -> DedupAgainstConfig:
        if not (self.exact or self.near):
            raise ValueError("exact and near are both false: nothing to match")
        return self


# ---------------------------------------------------------------- steps


_CLUSTER, _SIZE, _DROP = "__dedup_cluster", "__dedup_size", "__dedup_drop"


def _apply_state(
    step: GlobalStep,
    batch: pl.DataFrame,
    state: DedupState,
    reason: str,
    columns: dict[str, pl.Expr],
) -> StepResult:
    """Join the batch to the fit's decisions; `columns` may use _CLUSTER and _SIZE."""
    table = state.table.select(
        "id",
        pl.col("dup_cluster").alias(_CLUSTER),
        pl.col("dup_cluster_size").alias(_SIZE),
        pl.col("drop").alias(_DROP),
    )
    joined = batch.join(table, on="id", how="left", maintain_order="left")
    dropped = pl.col(_DROP).is_not_null()
    first = (pl.col(_CLUSTER) == pl.col("id")) & (pl.col(_SIZE) > 1)
    counters = joined.select(clusters=first.fill_null(False).sum(), duplicates=dropped.sum()).row(
        0, named=True
    )
    out = joined.with_columns(
        **columns,
        **{
            REASON_COLUMN: pl.when(dropped).then(pl.lit(f"{step.name}:{reason}")),
            DETAIL_COLUMN: pl.col(_DROP),
        },
    ).drop(_CLUSTER, _SIZE, _DROP)
    return StepResult(out, {k: int(v) for k, v in counters.items()})


class ExactDedup(GlobalStep):
    """Drop exact duplicates (after normalization) across the corpus, keeping one copy."""

    Config = ExactDedupConfig
    columns: ClassVar[dict[str, pl.DataType]] = {"exact_copies": pl.Int64()}

    def fit(self, corpus: Corpus) -> DedupState:
        c: ExactDedupConfig = self.config
        table, report = exact_state(
            list(corpus.files),
            max(1, corpus.workers),
            c.normalize,
            c.policy(),
            self.name,
            with_fields=c.with_fields,
        )
        log.info("%s: %s", self.name, report)
        return DedupState(table, report)

    def apply(self, batch: pl.DataFrame, state: DedupState) -> StepResult:
        copies = pl.col(_SIZE).fill_null(1).cast(pl.Int64)
        return _apply_state(self, batch, state, "duplicate", {"exact_copies": copies})


class MinHashDedup(GlobalStep):
    """Drop near-duplicates (MinHash LSH, Jaccard >= threshold) across the corpus."""

    Config = MinHashDedupConfig
    columns: ClassVar[dict[str, pl.DataType]] = {
        "dup_cluster": pl.String(),
        "dup_cluster_size": pl.Int64(),
    }

    def fit(self, corpus: Corpus) -> DedupState:
        c: MinHashDedupConfig = self.config
        table, report = near_state(
            list(corpus.files),
            Path(corpus.workdir) / f"minhash-{self.name}",
            max(1, corpus.workers),
            c.shingling(),
            c.lsh(),
            c.threshold,
            c.verify,
            c.policy(),
            self.name,
        )
        log.info("%s: %s", self.name, report)
        return DedupState(table, report)

    def apply(self, batch: pl.DataFrame, state: DedupState) -> StepResult:
        reason = "duplicate_cluster" if self.config.keep == "drop_all" else "near_duplicate"
        cols = {
            "dup_cluster": pl.coalesce(_CLUSTER, "id"),
            "dup_cluster_size": pl.col(_SIZE).fill_null(1).cast(pl.Int64),
        }
        return _apply_state(self, batch, state, reason, cols)


class DedupAgainst(GlobalStep):
    """Drop documents that are exact or near duplicates of a reference corpus."""

    Config = DedupAgainstConfig

    def validate(self) -> None:
        c: DedupAgainstConfig = self.config
        files = reference_files(c.reference)
        if not files:
            raise ValueError(f"reference: no Parquet files at {c.reference!r}")
        import pyarrow.parquet as pq

        names = pq.read_schema(files[0]).names
        if c.text_column not in names:
            raise ValueError(
                f"text_column: {c.text_column!r} is not a column of {files[0]} "
                f"(columns: {', '.join(names)})"
            )

    def index_spec(self) -> IndexSpec:
        c: DedupAgainstConfig = self.config
        return IndexSpec(
            c.text_column, c.id_column, c.exact, c.near, c.exact_normalize, c.shingling(), c.lsh()
        )

    def fit(self, corpus: Corpus) -> AgainstState:
        c: DedupAgainstConfig = self.config
        workers = max(1, corpus.workers)
        spec = self.index_spec()
        cache = Path(c.cache_dir).expanduser() if c.cache_dir else default_cache_dir()
        index = load_or_build_index(reference_files(c.reference), spec, cache, workers)
        log.info(
            "%s: reference index %s (%s)",
            self.name,
            index.folder,
            "built" if index.built else "cached",
        )
        matches = match_reference(
            index,
            spec,
            list(corpus.files),
            Path(corpus.workdir) / f"against-{self.name}",
            workers,
            c.threshold,
            c.verify,
        )
        return AgainstState(
            matches.select("id", "ref_id", "reason", "jaccard"), str(index.folder), index.built
        )

    def apply(self, batch: pl.DataFrame, state: AgainstState) -> StepResult:
        matches = state.matches.select(
            "id", pl.col("ref_id").alias(_DROP), pl.col("reason").alias(_CLUSTER)
        )
        joined = batch.join(matches, on="id", how="left", maintain_order="left")
        matched = pl.col(_CLUSTER).is_not_null()
        reason = pl.lit(f"{self.name}:") + pl.col(_CLUSTER) + pl.lit("_match")
        out = joined.with_columns(
            **{REASON_COLUMN: pl.when(matched).then(reason), DETAIL_COLUMN: pl.col(_DROP)}
        ).drop(_DROP, _CLUSTER)
        counts = joined.group_by(_CLUSTER).len().drop_nulls()
        counters = {f"{r}_matches": int(n) for r, n in counts.iter_rows()}
        return StepResult(out, counters)
