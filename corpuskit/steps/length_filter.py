"""length_filter: drop documents by length in characters, words or lines, by their share of CJK
characters, or by their share of symbols.

Statistics are computed only for the bounds that are set (the others stay null), so a plain
character filter stays a single `str.len_chars`:

- `length_chars`: Unicode characters.
- `length_words`: words as the quality steps count them: spaCy-English tokens that are not
  punctuation alone, or jieba words for unspaced (Chinese, Japanese, ...) documents, see
  corpuskit.text.segment.
- `length_lines`: lines that hold something besides whitespace.
- `cjk_ratio`: Han and kana characters over non-whitespace characters.
- `symbol_ratio`: Unicode punctuation and symbols (P*, S*) over non-whitespace characters.
"""

from __future__ import annotations

from typing import ClassVar

import polars as pl
from pydantic import Field, model_validator

from corpuskit.steps.base import FilterStep, StepConfig
from corpuskit.text.chars import NON_WS, cjk_ratio, unspaced_mask
from corpuskit.text.rows import per_row
from corpuskit.text.segment import NONSYM, segmenter


class LengthConfig(StepConfig):
    min_chars: int = Field(0, ge=0)
    max_chars: int | None = Field(None, ge=1)
    min_words: int | None = Field(None, ge=0)
    max_words: int | None = Field(None, ge=0)
    min_lines: int | None = Field(None, ge=0)
    max_lines: int | None = Field(None, ge=0)
    min_cjk_ratio: float | None = Field(None, ge=0, le=1)
    max_cjk_ratio: float | None = Field(None, ge=0, le=1)
    max_symbol_ratio: float | None = Field(None, ge=0, le=1)
    # without a `lang` column: CJK share from which a document is segmented with jieba
    unspaced_cjk_ratio: float = Field(0.3, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> LengthConfig:
        pairs = (
            ("min_chars", "max_chars"),
            ("min_words", "max_words"),
            ("min_lines", "max_lines"),
            ("min_cjk_ratio", "max_cjk_ratio"),
        )
        for lo, hi in pairs:
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and b < a:
                raise ValueError(f"{hi} must be >= {lo}")
        return self


class LengthFilter(FilterStep):
    """Drop documents by length (characters, words, lines), CJK-character share or symbol share."""

    Config = LengthConfig
    columns: ClassVar[dict[str, pl.DataType]] = {
        "length_chars": pl.Int64(),
        "length_words": pl.Int64(),
        "length_lines": pl.Int64(),
        "cjk_ratio": pl.Float64(),
        "symbol_ratio": pl.Float64(),
    }

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        c: LengthConfig = self.config
        text = pl.col("text").fill_null("")
        out = batch.with_columns(length_chars=text.str.len_chars().cast(pl.Int64))
        words = pl.lit(None, pl.Int64)
        if c.min_words is not None or c.max_words is not None:
            unspaced = unspaced_mask(batch, c.unspaced_cjk_ratio)
            tokens = segmenter().tokens(batch["text"], unspaced)
            counted = per_row(
                tokens, batch.height, ((pl.col("flags") & NONSYM) > 0).sum().alias("w")
            )
            words = pl.lit(counted["w"].fill_null(0).cast(pl.Int64))
        lines = pl.lit(None, pl.Int64)
        if c.min_lines is not None or c.max_lines is not None:
            lines = text.str.count_matches(rf"(?m)^[^\n]*{NON_WS}[^\n]*$").cast(pl.Int64)
        cjk = pl.lit(None, pl.Float64)
        if c.min_cjk_ratio is not None or c.max_cjk_ratio is not None:
            cjk = cjk_ratio(text)
        symbols = pl.lit(None, pl.Float64)
        if c.max_symbol_ratio is not None:
            non_ws = text.str.count_matches(NON_WS)
            symbols = (
                pl.when(non_ws > 0)
                .then(text.str.count_matches(r"[\p{P}\p{S}]") / non_ws)
                .otherwise(0.0)
            )
        return out.with_columns(
            length_words=words, length_lines=lines, cjk_ratio=cjk, symbol_ratio=symbols
        )

    def rules(self) -> list[tuple[str, pl.Expr]]:
        c: LengthConfig = self.config
        rules = [("too_short", pl.col("length_chars") < c.min_chars)]
        if c.max_chars is not None:
            rules.append(("too_long", pl.col("length_chars") > c.max_chars))
        bounds = (
            ("too_few_words", "length_words", c.min_words, "<"),
            ("too_many_words", "length_words", c.max_words, ">"),
            ("too_few_lines", "length_lines", c.min_lines, "<"),
            ("too_many_lines", "length_lines", c.max_lines, ">"),
            ("low_cjk_ratio", "cjk_ratio", c.min_cjk_ratio, "<"),
            ("high_cjk_ratio", "cjk_ratio", c.max_cjk_ratio, ">"),
            ("too_many_symbols", "symbol_ratio", c.max_symbol_ratio, ">"),
        )
        for reason, col, value, op in bounds:
            if value is not None:
                rules.append((reason, pl.col(col) < value if op == "<" else pl.col(col) > value))
        return rules
