"""dedup_against: drop documents that are exact or near duplicates of a reference corpus
(decontamination against evaluation sets); the reference index is cached (see
`corpuskit.dedup.reference`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from pydantic import Field, model_validator

from corpuskit.corpus import Corpus
from corpuskit.dedup.normalize import Normalize
from corpuskit.dedup.reference import (
    IndexSpec,
    default_cache_dir,
    load_or_build_index,
    match_reference,
    reference_files,
)
from corpuskit.schema import DETAIL_COLUMN, REASON_COLUMN
from corpuskit.steps.base import GlobalStep
from corpuskit.steps.exact_dedup import CLUSTER, DROP
from corpuskit.steps.minhash_dedup import NearConfig

log = logging.getLogger(__name__)


@dataclass
class AgainstState:
    """Matches of corpus documents in the reference, by id."""

    matches: pl.DataFrame  # id, ref_id, reason (exact | near), jaccard
    index: str  # the index folder
    built: bool  # built by this fit (False: found in the cache)


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
        spec = self.index_spec()
        cache = Path(c.cache_dir).expanduser() if c.cache_dir else default_cache_dir()
        index = load_or_build_index(corpus, reference_files(c.reference), spec, cache)
        log.info(
            "%s: reference index %s (%s)",
            self.name,
            index.folder,
            "built" if index.built else "cached",
        )
        matches = match_reference(corpus, index, spec, c.threshold, c.verify, self.name)
        return AgainstState(
            matches.select("id", "ref_id", "reason", "jaccard"), str(index.folder), index.built
        )

    def apply(self, batch: pl.DataFrame, state: AgainstState) -> pl.DataFrame:
        matches = state.matches.select(
            "id", pl.col("ref_id").alias(DROP), pl.col("reason").alias(CLUSTER)
        )
        joined = batch.join(matches, on="id", how="left", maintain_order="left")
        matched = pl.col(CLUSTER).is_not_null()
        reason = pl.lit(f"{self.name}:") + pl.col(CLUSTER) + pl.lit("_match")
        out = joined.with_columns(
            **{REASON_COLUMN: pl.when(matched).then(reason), DETAIL_COLUMN: pl.col(DROP)}
        ).drop(DROP, CLUSTER)
        for r, n in joined.group_by(CLUSTER).len().drop_nulls().iter_rows():
            self.count(f"{r}_matches", n)
        return out
