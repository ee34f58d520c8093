"""blocklist: drop documents that contain blocked words or match blocked patterns."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import polars as pl
from pydantic import Field

from corpuskit.steps import FilterStep, StepConfig


class BlocklistConfig(StepConfig):
    words: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list, description="term lists, one per line")
    case_sensitive: bool = False
    max_hits: int = Field(0, ge=0, description="documents with more hits than this are dropped")


class BlocklistFilter(FilterStep):
    """Drop documents containing blocked words (Aho-Corasick) or matching blocked regexes."""

    Config = BlocklistConfig
    columns: ClassVar[dict[str, pl.DataType]] = {
        "blocklist_hits": pl.Int32(),
        "blocklist_word_hits": pl.Int32(),
    }

    def validate(self) -> None:
        c: BlocklistConfig = self.config
        for f in c.files:
            if not Path(f).is_file():
                raise ValueError(f"files: {f!r} does not exist")
        for p in c.patterns:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"patterns: {p!r} is not a valid regex: {e}") from None
        if not (c.words or c.patterns or c.files):
            raise ValueError("give at least one of words, patterns or files")

    def setup(self) -> None:
        c: BlocklistConfig = self.config
        words = list(c.words)
        for f in c.files:
            for line in Path(f).read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    words.append(line)
        self._words = list(dict.fromkeys(words))
        flag = "" if c.case_sensitive else "(?i)"
        self._patterns = [flag + p for p in c.patterns]

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        c: BlocklistConfig = self.config
        text = pl.col("text")
        word_hits = (
            text.str.extract_many(self._words, ascii_case_insensitive=not c.case_sensitive)
            .list.unique()
            .list.len()
            if self._words
            else pl.lit(0)
        )
        pattern_hits = pl.sum_horizontal(
            [text.str.contains(p).cast(pl.Int32) for p in self._patterns] or [pl.lit(0)]
        )
        return batch.with_columns(
            blocklist_word_hits=word_hits.cast(pl.Int32),
            blocklist_hits=(word_hits + pattern_hits).cast(pl.Int32),
        )

    def rules(self) -> list[tuple[str, pl.Expr]]:
        over = pl.col("blocklist_hits") > self.config.max_hits
        return [
            ("word", over & (pl.col("blocklist_word_hits") > 0)),
            ("pattern", over),
        ]
