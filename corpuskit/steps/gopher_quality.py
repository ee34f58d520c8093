"""gopher_quality: the Gopher (Rae et al. 2021) quality heuristics, batch-wide.

Same rules, defaults and order as datatrove 0.10.1's GopherQualityFilter; words are spaCy's
English tokens (or jieba's for unspaced scripts, see corpuskit.text.segment), computed once
per batch as a (document, word) table that every statistic is a Polars aggregation of.

Unspaced (Chinese) documents keep the same rules with these changes, so that clean Chinese
news is kept: jieba words; `unspaced_min_avg_word_length` / `unspaced_max_avg_word_length`
(Chinese words average 1.5-2 characters); the shipped Chinese stop words
(`unspaced_stop_words`); the end-ellipsis ratio over sentence units rather than lines
(flattened Chinese news is one line whose last sentence may end with "……"); and the
alphabetic-word share over non-symbol words (jieba makes every punctuation mark a word).

Reasons, in rule order (datatrove's name in brackets): short_doc (gopher_short_doc),
long_doc, short_avg_word (gopher_below_avg_threshold), long_avg_word
(gopher_above_avg_threshold), hash_ratio (gopher_too_many_hashes), ellipsis_ratio
(gopher_too_many_ellipsis), bullet_lines (gopher_too_many_bullets), ellipsis_lines
(gopher_too_many_end_ellipsis), alpha_words (gopher_below_alpha_threshold), stop_words
(gopher_enough_stop_words).
"""

from __future__ import annotations

from typing import ClassVar

import polars as pl
from pydantic import Field

from corpuskit.steps.base import FilterStep
from corpuskit.steps.quality import UnspacedConfig, rule_on
from corpuskit.text.chars import normalize_line_breaks, unspaced_mask
from corpuskit.text.rows import row_sums, unit_counts
from corpuskit.text.segment import ALPHA, NONSYM, segmenter, word_hashes, zh_stop_words

# datatrove's default Gopher stop words (gopher_quality_filter.STOP_WORDS)
STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")


class GopherQualityConfig(UnspacedConfig):
    min_doc_words: int | None = Field(50, ge=0)
    max_doc_words: int | None = Field(100_000, ge=0)
    min_avg_word_length: float | None = Field(3, ge=0)
    max_avg_word_length: float | None = Field(10, ge=0)
    max_symbol_word_ratio: float | None = Field(0.1, ge=0)
    max_bullet_lines_ratio: float | None = Field(0.9, ge=0)
    max_ellipsis_lines_ratio: float | None = Field(0.3, ge=0)
    # datatrove's name; it is the minimum share of words with an alphabetic character
    max_non_alpha_words_ratio: float | None = Field(0.8, ge=0)
    min_stop_words: int | None = Field(2, ge=0)
    stop_words: list[str] | None = None  # None: datatrove's eight English stop words
    unspaced_min_avg_word_length: float | None = Field(1.2, ge=0)
    unspaced_max_avg_word_length: float | None = Field(4.0, ge=0)
    unspaced_stop_words: list[str] | None = None  # None: corpuskit/data/quality/zh_stopwords.txt


class GopherQuality(FilterStep):
    """Gopher quality rules: words, word length, symbols, bullets, ellipses, stop words."""

    Config = GopherQualityConfig
    columns: ClassVar[dict[str, pl.DataType]] = {
        "gopher_words": pl.Int64(),
        "gopher_nonsym_words": pl.Int64(),
        "gopher_avg_word_length": pl.Float64(),
        "gopher_hash_ratio": pl.Float64(),
        "gopher_ellipsis_ratio": pl.Float64(),
        "gopher_bullet_lines_ratio": pl.Float64(),
        "gopher_ellipsis_lines_ratio": pl.Float64(),
        "gopher_alpha_words_ratio": pl.Float64(),
        "gopher_stop_words": pl.Int64(),
    }

    def setup(self) -> None:
        segmenter()  # rules, jieba's dictionary on demand, kernels compiled or loaded

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        c: GopherQualityConfig = self.config
        unspaced = unspaced_mask(batch, c.unspaced_cjk_ratio)
        tokens = segmenter().tokens(batch["text"], unspaced)
        stop_en = word_hashes(STOP_WORDS if c.stop_words is None else c.stop_words)
        stop_zh = word_hashes(
            zh_stop_words() if c.unspaced_stop_words is None else c.unspaced_stop_words
        )
        tokens = tokens.with_columns(uns=unspaced.gather(tokens["row"]))
        nonsym = (pl.col("flags") & NONSYM) > 0
        stop = (
            pl.when(pl.col("uns"))
            .then(pl.col("h").is_in(stop_zh.implode()))
            .otherwise(pl.col("h").is_in(stop_en.implode()))
        )
        stats = row_sums(
            tokens,
            batch.height,
            n=pl.lit(1),
            ns=nonsym,
            ns_len=pl.when(nonsym).then(pl.col("len")).otherwise(0),
            alpha=(pl.col("flags") & ALPHA) > 0,
        )
        # distinct stop words per document
        stops = tokens.filter(stop).select("row", "h").unique()
        stats = stats.with_columns(stop=row_sums(stops, batch.height, n=pl.lit(1))["n"])
        text = pl.col("text").fill_null("")
        norm = normalize_line_breaks(text)
        n_lines = (
            pl.when(norm == "")
            .then(0)
            .otherwise(
                norm.str.count_matches("\n", literal=True)
                + 1
                - norm.str.ends_with("\n").cast(pl.UInt32)
            )
        )
        inline_ws = r"(?:[^\S\n]|\x1f)"
        bullets = norm.str.count_matches(rf"(?m)^{inline_ws}*[•\-]")
        end_ellipsis = norm.str.count_matches(rf"(?m)(?:\.\.\.|…){inline_ws}*$")
        normalized = batch.select(norm.alias("t"))["t"]
        n_units, unit_ellipsis = unit_counts(normalized, unspaced, r"(?:\.\.\.|…)[^\p{L}\p{N}]*$")
        ellipsis_lines = (
            pl.when(pl.col("_uns"))
            .then(pl.when(pl.lit(n_units) > 0).then(pl.lit(unit_ellipsis) / pl.lit(n_units)))
            .otherwise(end_ellipsis / n_lines)
        )
        n = pl.col("_n")
        return (
            batch.with_columns(
                _uns=unspaced,
                _n=stats["n"],
                _ns=stats["ns"],
                _ns_len=stats["ns_len"],
                _alpha=stats["alpha"],
                _stop=stats["stop"],
            )
            .with_columns(
                gopher_words=n.cast(pl.Int64),
                gopher_nonsym_words=pl.col("_ns").cast(pl.Int64),
                gopher_avg_word_length=pl.when(pl.col("_ns") > 0).then(
                    pl.col("_ns_len") / pl.col("_ns")
                ),
                gopher_hash_ratio=pl.when(n > 0).then(
                    text.str.count_matches("#", literal=True) / n
                ),
                gopher_ellipsis_ratio=pl.when(n > 0).then(
                    (
                        text.str.count_matches("...", literal=True)
                        + text.str.count_matches("…", literal=True)
                    )
                    / n
                ),
                gopher_bullet_lines_ratio=pl.when(n_lines > 0).then(bullets / n_lines),
                gopher_ellipsis_lines_ratio=pl.when(n_lines > 0).then(ellipsis_lines),
                # unspaced: over non-symbol words, since jieba makes every punctuation mark
                # a word (about one word in six of Chinese text) where whitespace words do not
                gopher_alpha_words_ratio=pl.when(pl.col("_uns"))
                .then(pl.when(pl.col("_ns") > 0).then(pl.col("_alpha") / pl.col("_ns")))
                .otherwise(pl.when(n > 0).then(pl.col("_alpha") / n)),
                gopher_stop_words=pl.col("_stop").cast(pl.Int64),
            )
            .drop("_uns", "_n", "_ns", "_ns_len", "_alpha", "_stop")
            .with_columns(_uns=unspaced)
        )

    def rules(self) -> list[tuple[str, pl.Expr]]:
        c: GopherQualityConfig = self.config
        words = pl.col("gopher_nonsym_words")
        avg = pl.col("gopher_avg_word_length")
        rules: list[tuple[str, pl.Expr]] = []
        if rule_on(c.min_doc_words):
            rules.append(("short_doc", words < c.min_doc_words))
        if rule_on(c.max_doc_words):
            rules.append(("long_doc", words > c.max_doc_words))
        lo = _per_script(c.min_avg_word_length, c.unspaced_min_avg_word_length)
        if lo is not None:
            rules.append(("short_avg_word", avg < lo))
        hi = _per_script(c.max_avg_word_length, c.unspaced_max_avg_word_length)
        if hi is not None:
            rules.append(("long_avg_word", avg > hi))
        if rule_on(c.max_symbol_word_ratio):
            rules.append(("hash_ratio", pl.col("gopher_hash_ratio") > c.max_symbol_word_ratio))
            rules.append(
                ("ellipsis_ratio", pl.col("gopher_ellipsis_ratio") > c.max_symbol_word_ratio)
            )
        if rule_on(c.max_bullet_lines_ratio):
            rules.append(
                ("bullet_lines", pl.col("gopher_bullet_lines_ratio") > c.max_bullet_lines_ratio)
            )
        if rule_on(c.max_ellipsis_lines_ratio):
            rules.append(
                (
                    "ellipsis_lines",
                    pl.col("gopher_ellipsis_lines_ratio") > c.max_ellipsis_lines_ratio,
                )
            )
        if rule_on(c.max_non_alpha_words_ratio):
            rules.append(
                ("alpha_words", pl.col("gopher_alpha_words_ratio") < c.max_non_alpha_words_ratio)
            )
        if rule_on(c.min_stop_words):
            rules.append(("stop_words", pl.col("gopher_stop_words") < c.min_stop_words))
        return rules


def _per_script(spaced: float | None, unspaced: float | None) -> pl.Expr | None:
    """A threshold that differs for unspaced documents; None where both are off."""
    if not rule_on(spaced) and not rule_on(unspaced):
        return None
    a = pl.lit(spaced if rule_on(spaced) else None, dtype=pl.Float64)
    b = pl.lit(unspaced if rule_on(unspaced) else None, dtype=pl.Float64)
    return pl.when(pl.col("_uns")).then(b).otherwise(a)
