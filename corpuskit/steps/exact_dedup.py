"""exact_dedup: exact duplicates across the whole corpus, and what the dedup steps share.

`fit` runs once over the whole stage input; its maps and per-partition reduces go through
the `Corpus` it is given (`corpus.map`: threads with the local backend, Ray tasks across
the cluster with the Ray backend) and exchange rows through spill files in the run's work
folder. It returns a table with one row per document that belongs to a duplicate cluster,
keyed by id; `apply` joins each batch to it (`apply_decisions`, which minhash_dedup shares).
Documents are only ever dropped with a reason, and a dropped duplicate names the document it
duplicates in the rejected output's `detail` column. Algorithms: `corpuskit.dedup`.

Document ids must be unique across the corpus (they are unless the input's `id_field`
repeats; a repeat fails the fit with a message naming the ids).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar, Literal

import polars as pl
from pydantic import Field, model_validator

from corpuskit.corpus import Corpus
from corpuskit.dedup.fit import FitReport, Policy, exact_state
from corpuskit.dedup.normalize import Normalize
from corpuskit.schema import DETAIL_COLUMN, REASON_COLUMN
from corpuskit.steps.base import GlobalStep, StepConfig

log = logging.getLogger(__name__)


@dataclass
class DedupState:
    """What travels from `fit` to the workers: decisions for cluster members, by id."""

    table: pl.DataFrame  # id, dup_cluster, dup_cluster_size, drop (null = kept)
    report: FitReport


def check_keep_field(keep: str, field: str | None) -> None:
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
        check_keep_field(self.keep, self.field)
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


# columns of a batch joined to the fit's decisions
CLUSTER, SIZE, DROP = "__dedup_cluster", "__dedup_size", "__dedup_drop"


def apply_decisions(
    step: GlobalStep,
    batch: pl.DataFrame,
    state: DedupState,
    reason: str,
    columns: dict[str, pl.Expr],
) -> pl.DataFrame:
    """Join the batch to the fit's decisions; `columns` may use CLUSTER and SIZE."""
    table = state.table.select(
        "id",
        pl.col("dup_cluster").alias(CLUSTER),
        pl.col("dup_cluster_size").alias(SIZE),
        pl.col("drop").alias(DROP),
    )
    joined = batch.join(table, on="id", how="left", maintain_order="left")
    dropped = pl.col(DROP).is_not_null()
    first = (pl.col(CLUSTER) == pl.col("id")) & (pl.col(SIZE) > 1)
    counters = joined.select(clusters=first.fill_null(False).sum(), duplicates=dropped.sum()).row(
        0, named=True
    )
    for name, n in counters.items():
        step.count(name, n)
    return joined.with_columns(
        **columns,
        **{
            REASON_COLUMN: pl.when(dropped).then(pl.lit(f"{step.name}:{reason}")),
            DETAIL_COLUMN: pl.col(DROP),
        },
    ).drop(CLUSTER, SIZE, DROP)


class ExactDedup(GlobalStep):
    """Drop exact duplicates (after normalization) across the corpus, keeping one copy."""

    Config = ExactDedupConfig
    columns: ClassVar[dict[str, pl.DataType]] = {"exact_copies": pl.Int64()}

    def fit(self, corpus: Corpus) -> DedupState:
        c: ExactDedupConfig = self.config
        table, report = exact_state(
            corpus, c.normalize, c.policy(), self.name, with_fields=c.with_fields
        )
        log.info("%s: %s", self.name, report)
        return DedupState(table, report)

    def apply(self, batch: pl.DataFrame, state: DedupState) -> pl.DataFrame:
        copies = pl.col(SIZE).fill_null(1).cast(pl.Int64)
        return apply_decisions(self, batch, state, "duplicate", {"exact_copies": copies})
