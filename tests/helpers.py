"""Steps used only by tests, registered through a real entry point (see conftest)."""

from __future__ import annotations

import hashlib
import time
from typing import Any, ClassVar

import polars as pl

from corpuskit.schema import DETAIL_COLUMN, REASON_COLUMN
from corpuskit.steps import Corpus, GlobalStep, MapStep, StepConfig


class SlowConfig(StepConfig):
    seconds: float = 0.05


class SlowIdentity(MapStep):
    """Sleeps per batch, so a test can kill a run in the middle."""

    Config = SlowConfig

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        time.sleep(self.config.seconds)
        return batch


class FirstCopy(GlobalStep):
    """Keeps the first document (corpus order) of each exact text; a real corpus-wide step."""

    columns: ClassVar[dict[str, pl.DataType]] = {"copies": pl.Int64()}

    def fit(self, corpus: Corpus) -> Any:
        lf = corpus.scan(["id", "text"]).with_row_index("order")
        return (
            lf.with_columns(h=pl.col("text").hash(seed=0))
            .group_by("h")
            .agg(pl.col("id").sort_by("order").first().alias("keeper"), pl.len().alias("copies"))
            .collect()
        )

    def apply(self, batch: pl.DataFrame, state: pl.DataFrame) -> pl.DataFrame:
        joined = batch.with_columns(h=pl.col("text").hash(seed=0)).join(
            state, on="h", how="left", maintain_order="left"
        )
        self.count("clusters", state.height)
        return joined.with_columns(
            copies=pl.col("copies").cast(pl.Int64),
            **{
                REASON_COLUMN: pl.when(pl.col("keeper") != pl.col("id")).then(
                    pl.lit("first_copy:duplicate")
                ),
                DETAIL_COLUMN: pl.lit("copy of ") + pl.col("keeper"),
            },
        ).drop("h", "keeper")


class Boom(MapStep):
    """Fails on a document that says BOOM."""

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch["text"].str.contains("BOOM").any():
            raise ValueError("found BOOM")
        return batch


class Undeclared(MapStep):
    """Adds a column it did not declare."""

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        return batch.with_columns(surprise=pl.lit(1))


class Checksum(MapStep):
    """Adds a declared column computed per row in Python (for worker-count tests)."""

    columns: ClassVar[dict[str, pl.DataType]] = {"md5": pl.String()}

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        return batch.with_columns(
            md5=pl.col("text").map_elements(
                lambda t: hashlib.md5(t.encode()).hexdigest(), return_dtype=pl.String
            )
        )
