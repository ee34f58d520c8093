"""rejoin_paragraphs: join hard-wrapped lines into paragraphs, once, for every later step.

Newswire, e-mail, Usenet and Project Gutenberg text arrives wrapped at about 70 columns;
every line-level step (c4_quality, fineweb_quality, remove_boilerplate_lines, and the
frequent-line and repetition steps) then judges sentence fragments. The line filters rejoin
for their own judgment; this map step makes the rejoined text the document's text, so the
output has paragraphs and the later steps need not rejoin again. English lines join with a
space, Chinese ones without; headlines, list items, quoted lines, signatures and short lines
stay lines (the rules: `corpuskit.text.paragraphs`), and a document that is mostly verse
keeps its line breaks (`corpuskit.text.verse`).

Counters: `docs_changed` (documents with a wrapped line) and `lines_joined`.
"""

from __future__ import annotations

import polars as pl
from pydantic import Field

from corpuskit.steps.base import MapStep
from corpuskit.steps.quality import UnspacedConfig
from corpuskit.text.chars import unspaced_mask
from corpuskit.text.paragraphs import Wrapping, paragraphs


class RejoinParagraphsConfig(UnspacedConfig):
    # a document whose widest line (up to max_width display columns) is narrower is not wrapped
    min_width: int = Field(40, ge=1)
    # lines wider than this many display columns (a CJK character takes two) are paragraphs
    max_width: int = Field(100, ge=1)
    # a line is full (may continue into the next) from this share of the document's width
    fill: float = Field(0.6, gt=0, le=1)
    # keep a headline (first line without terminal punctuation, followed by text) a line
    keep_headlines: bool = True
    # leave a document that is mostly verse (a poem, a play) with its line breaks
    keep_verse: bool = True


class RejoinParagraphs(MapStep):
    """Join hard-wrapped lines into paragraphs (English with a space, Chinese without)."""

    Config = RejoinParagraphsConfig

    def validate(self) -> None:
        c: RejoinParagraphsConfig = self.config
        if c.min_width > c.max_width:
            raise ValueError(f"min_width {c.min_width} is above max_width {c.max_width}")

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        c: RejoinParagraphsConfig = self.config
        text = batch["text"]
        wrapping = Wrapping(
            c.min_width, c.max_width, c.fill, c.keep_headlines, keep_verse=c.keep_verse
        )
        new = paragraphs(text, unspaced_mask(batch, c.unspaced_cjk_ratio), wrapping).text
        changed = (new != text.fill_null("")).fill_null(False)
        self.count("docs_changed", changed.sum())
        lines = text.str.count_matches("\n", literal=True) - new.str.count_matches(
            "\n", literal=True
        )
        self.count("lines_joined", lines.filter(changed).sum() or 0)
        return batch.with_columns(pl.when(changed).then(new).otherwise(text).alias("text"))
