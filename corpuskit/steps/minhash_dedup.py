"""minhash_dedup: near duplicates across the whole corpus, by MinHash LSH (see exact_dedup for
how the fit runs and how its decisions are applied)."""

from __future__ import annotations

import logging
from typing import ClassVar, Literal

import polars as pl
from pydantic import Field, field_validator, model_validator

from corpuskit.corpus import Corpus
from corpuskit.dedup.cluster import Keep
from corpuskit.dedup.fit import Policy, near_state
from corpuskit.dedup.lsh import LSHParams
from corpuskit.dedup.minhash import optimal_bands_rows
from corpuskit.dedup.normalize import TokenNormalize
from corpuskit.dedup.shingles import CHAR_LANGUAGES, Shingling
from corpuskit.steps.base import GlobalStep, StepConfig
from corpuskit.steps.exact_dedup import CLUSTER, SIZE, DedupState, apply_decisions, check_keep_field

log = logging.getLogger(__name__)


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
        check_keep_field(self.keep, self.field)
        return self

    def policy(self) -> Policy:
        return Policy(self.keep, self.field, self.prefer)


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
            corpus,
            c.shingling(),
            c.lsh(),
            c.threshold,
            c.verify,
            c.policy(),
            self.name,
        )
        log.info("%s: %s", self.name, report)
        return DedupState(table, report)

    def apply(self, batch: pl.DataFrame, state: DedupState) -> pl.DataFrame:
        reason = "duplicate_cluster" if self.config.keep == "drop_all" else "near_duplicate"
        cols = {
            "dup_cluster": pl.coalesce(CLUSTER, "id"),
            "dup_cluster_size": pl.col(SIZE).fill_null(1).cast(pl.Int64),
        }
        return apply_decisions(self, batch, state, reason, cols)
