"""length_filter: drop documents whose length in characters is out of bounds."""

from __future__ import annotations

from typing import ClassVar

import polars as pl
from pydantic import Field, model_validator

from corpuskit.steps.base import FilterStep, StepConfig


class LengthConfig(StepConfig):
    min_chars: int = Field(0, ge=0)
    max_chars: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LengthConfig:
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError("max_chars must be >= min_chars")
        return self


class LengthFilter(FilterStep):
    """Drop documents shorter than min_chars or longer than max_chars (Unicode characters)."""

    Config = LengthConfig
    columns: ClassVar[dict[str, pl.DataType]] = {"length_chars": pl.Int64()}

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        return batch.with_columns(length_chars=pl.col("text").str.len_chars().cast(pl.Int64))

    def rules(self) -> list[tuple[str, pl.Expr]]:
        c: LengthConfig = self.config
        rules = [("too_short", pl.col("length_chars") < c.min_chars)]
        if c.max_chars is not None:
            rules.append(("too_long", pl.col("length_chars") > c.max_chars))
        return rules
