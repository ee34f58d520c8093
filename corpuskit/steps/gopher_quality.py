"""gopher_quality: the Gopher (Rae et al. 2021) quality heuristics, batch-wide.

The rules and order of datatrove 0.10.1's GopherQualityFilter (`DATATROVE` is the config
that gives its decisions exactly); words are spaCy's English tokens (or jieba's for unspaced
scripts, see corpuskit.text.segment), computed once per batch as a (document, word) table
that every statistic is a Polars aggregation of.

Where datatrove's rules reject edited text a curator keeps (issue 16's gold set: news
briefs, forum posts, pages in other languages), the defaults differ: 15 words are enough;
the alphabetic-word share is over non-symbol words (quote markers and rules are not words);
the stop-word rule is that of the document's language (its `lang` column, else the shipped
list it has most words of; scripts without a list are not judged), with more English
function words for documents under 50 words; the end-ellipsis line share needs 3 lines, 2
of them ending in one; the hash and ellipsis ratios are over at least 50 words (the
shortest document Gopher judged).

Unspaced (Chinese) documents keep the same rules with these changes, so that clean Chinese
news is kept: jieba words; `unspaced_min_avg_word_length` / `unspaced_max_avg_word_length`
(Chinese words average 1.5-2 characters); the shipped Chinese stop words
(`unspaced_stop_words`) with the written-register function words of news briefs (据, 约, 已,
该: `unspaced_written_stop_words`) and the informal adverbs and connectives of reviews and
posts (觉得, 感觉, 比较, 太, 不过: `unspaced_informal_stop_words`); no end-ellipsis rule
(`unspaced_max_ellipsis_lines_ratio`: "……", "。。。" and "..." end a sentence as a pause in
Chinese posts, where the rule rejected 3% of the trec06c ham posts and 5 of 7,775 spam
mails); an ellipsis being a run of dots or "…" in the ellipsis ratio; and the alphabetic-word
share over non-symbol words (jieba makes every punctuation mark a word), at least 0.7.

Reasons, in rule order (datatrove's name in brackets): short_doc (gopher_short_doc),
long_doc, short_avg_word (gopher_below_avg_threshold), long_avg_word
(gopher_above_avg_threshold), hash_ratio (gopher_too_many_hashes), ellipsis_ratio
(gopher_too_many_ellipsis), bullet_lines (gopher_too_many_bullets), ellipsis_lines
(gopher_too_many_end_ellipsis), alpha_words (gopher_below_alpha_threshold), stop_words
(gopher_enough_stop_words).
"""

from __future__ import annotations

import functools
from typing import ClassVar, Literal

import polars as pl
from pydantic import Field

from corpuskit.steps.base import FilterStep
from corpuskit.steps.quality import UnspacedConfig, rule_on
from corpuskit.text.chars import normalize_line_breaks, unspaced_mask
from corpuskit.text.rows import unit_counts
from corpuskit.text.segment import segmenter, word_hashes, zh_stop_words

# datatrove's default Gopher stop words (gopher_quality_filter.STOP_WORDS)
STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
# The same rule for other spaced languages: eight frequent function words of each, chosen so
# that no English word is among them (a page of English link text does not pass by them).
OTHER_STOP_WORDS: dict[str, tuple[str, ...]] = {
    "pt": ("de", "que", "não", "uma", "para", "com", "os", "da"),
    "es": ("de", "que", "el", "los", "para", "con", "una", "por"),
    "fr": ("le", "les", "des", "est", "et", "une", "pour", "dans"),
    "de": ("der", "die", "und", "das", "ist", "nicht", "mit", "ein"),
    "it": ("di", "che", "il", "della", "per", "una", "non", "sono"),
    "nl": ("het", "een", "van", "en", "niet", "dat", "zijn", "voor"),
    "id": ("yang", "dan", "di", "ini", "dengan", "untuk", "dari", "dalam"),
    "ru": ("и", "в", "не", "на", "что", "с", "по", "это"),
}
# English documents under `short_doc_words` non-symbol words: a headline and a lead often
# hold one of the eight words or none ("Strong Server, PC Sales Boost Microsoft Revenue / The
# company's earnings beat Wall Street expectations."), so they count these function words too
SHORT_STOP_WORDS = (
    *STOP_WORDS,
    "a", "an", "in", "on", "for", "is", "are", "was", "were", "it", "its", "at", "by", "from",
    "as", "this", "his", "her", "their", "will", "has", "had", "after", "i", "you", "we", "he",
    "she", "they", "not", "or", "but", "about", "than", "into", "over",
)  # fmt: skip
# datatrove 0.10.1's GopherQualityFilter exactly: GopherQualityConfig(**DATATROVE)
DATATROVE = {
    "min_doc_words": 50,
    "alpha_words_over": "tokens",
    "min_lines_for_ellipsis_lines": 0,
    "min_ellipsis_lines": 0,
    "stop_words_by_lang": {},
    "stop_words_latin_share": 0.0,
    "short_doc_words": 0,
    "unspaced_ellipsis_runs": False,
    "unspaced_min_alpha_words_ratio": 0.8,
    "symbol_ratio_min_words": 0,
    "unspaced_max_ellipsis_lines_ratio": 0.3,
    "unspaced_written_stop_words": False,
    "unspaced_informal_stop_words": False,
}


class GopherQualityConfig(UnspacedConfig):
    # datatrove: 50, which rejects every one-paragraph news brief and short forum post
    min_doc_words: int | None = Field(15, ge=0)
    max_doc_words: int | None = Field(100_000, ge=0)
    min_avg_word_length: float | None = Field(3, ge=0)
    max_avg_word_length: float | None = Field(10, ge=0)
    max_symbol_word_ratio: float | None = Field(0.1, ge=0)
    # the hash and ellipsis ratios are taken over at least this many words: Gopher's rules
    # only ever saw documents of 50 words or more (its short_doc rule dropped the rest), and
    # one "..." in a five-word reply ("hahaha ... my sentiments exactly.") is no symbol spam
    # (0: over the document's words, as datatrove)
    symbol_ratio_min_words: int = Field(50, ge=0)
    max_bullet_lines_ratio: float | None = Field(0.9, ge=0)
    max_ellipsis_lines_ratio: float | None = Field(0.3, ge=0)
    # unspaced documents (None: not judged): Chinese posts end sentences with "……", "。。。"
    # or "..." as a pause (ho-trec-ham-5347, 2431: 211 of 7,063 trec06c ham posts rejected
    # at 0.3, against 5 of 7,775 spam mails); the share is over sentence units
    unspaced_max_ellipsis_lines_ratio: float | None = Field(None, ge=0)
    # the end-ellipsis share of lines says little about a headline and a cut lead (1 of 2)
    min_lines_for_ellipsis_lines: int = Field(3, ge=0)
    # ... and at least this many lines ending in one: a post whose one sentence trails off
    # ("...get rid of the dang thing...") is no page of truncated teasers
    min_ellipsis_lines: int = Field(2, ge=0)
    # datatrove's name; it is the minimum share of words with an alphabetic character
    max_non_alpha_words_ratio: float | None = Field(0.8, ge=0)
    # Chinese news carries many numbers (jieba cuts "2014/08/06" into three words)
    unspaced_min_alpha_words_ratio: float | None = Field(0.7, ge=0)
    # "words": over non-symbol words, so that quote markers (`>`), rules (`====`) and
    # punctuation do not count as words without letters; "tokens": datatrove's, over every token
    alpha_words_over: Literal["words", "tokens"] = "words"
    min_stop_words: int | None = Field(2, ge=0)
    stop_words: list[str] | None = None  # None: datatrove's eight English stop words
    # The stop-word rule of other spaced languages (None: OTHER_STOP_WORDS; {}: English only).
    # A document's language is its `lang` column when set (a language without a list is not
    # judged by this rule), else the list it has most stop words of, among the documents
    # whose letters are at least `stop_words_latin_share` Latin or Cyrillic (others, e.g.
    # Korean, are not judged).
    stop_words_by_lang: dict[str, list[str]] | None = None
    stop_words_latin_share: float = Field(0.5, ge=0, le=1)
    # English documents with fewer non-symbol words count SHORT_STOP_WORDS (0: never)
    short_doc_words: int = Field(50, ge=0)
    short_stop_words: list[str] | None = None  # None: SHORT_STOP_WORDS, also capitalized
    # unspaced documents: an ellipsis is a run of dots or of "…" (datatrove counts each "…")
    unspaced_ellipsis_runs: bool = True
    unspaced_min_avg_word_length: float | None = Field(1.2, ge=0)
    unspaced_max_avg_word_length: float | None = Field(4.0, ge=0)
    unspaced_stop_words: list[str] | None = None  # None: corpuskit/data/quality/zh_stopwords.txt
    # with the shipped list, also count the written-register function words of news briefs
    # (corpuskit/data/quality/zh_stopwords_written.txt: 据, 约, 已, 该, 即, ...): a Xinhua
    # brief writes 据...约 where the colloquial list has 根据...大概
    unspaced_written_stop_words: bool = True
    # and the informal-register adverbs and connectives of reviews and posts
    # (corpuskit/data/quality/zh_stopwords_informal.txt: 觉得, 感觉, 比较, 太, 不过, ...): a
    # hotel review writes "房间设施太旧，总体感觉一般" with no word of the base list but one
    unspaced_informal_stop_words: bool = True


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
        stop_zh = word_hashes(_unspaced_stop_words(c))
        # the word sums, and only the words of a stop-word list (all _stop_words looks at)
        wanted = pl.concat([self._stop_table()[2]["h"], stop_zh]).unique()
        stats, tokens = segmenter().word_stats(batch["text"], unspaced, wanted)
        tokens = tokens.with_columns(uns=unspaced.gather(tokens["row"]))
        stop, judged = self._stop_words(batch, tokens, unspaced, stop_zh, stats["ns"])
        stats = stats.with_columns(stop=stop)
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
        few_lines = (
            pl.when(pl.col("_uns")).then(pl.lit(n_units)).otherwise(n_lines)
            < c.min_lines_for_ellipsis_lines
        ) | (
            pl.when(pl.col("_uns")).then(pl.lit(unit_ellipsis)).otherwise(end_ellipsis)
            < c.min_ellipsis_lines
        )
        over_tokens = c.alpha_words_over == "tokens"
        n = pl.col("_n")
        symbol_n = pl.max_horizontal(n, pl.lit(c.symbol_ratio_min_words))
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
                    text.str.count_matches("#", literal=True) / symbol_n
                ),
                gopher_ellipsis_ratio=pl.when(n > 0).then(
                    pl.when(pl.col("_uns") & c.unspaced_ellipsis_runs)
                    # a Chinese ellipsis is two characters (……) and one mark
                    .then(text.str.count_matches(r"\.{3,}|…+|。{3,}"))
                    .otherwise(
                        text.str.count_matches("...", literal=True)
                        + text.str.count_matches("…", literal=True)
                    )
                    / symbol_n
                ),
                gopher_bullet_lines_ratio=pl.when(n_lines > 0).then(bullets / n_lines),
                gopher_ellipsis_lines_ratio=pl.when((n_lines > 0) & ~few_lines).then(
                    ellipsis_lines
                ),
                # over non-symbol words (always for unspaced text: jieba makes every
                # punctuation mark a word), or datatrove's over every token
                gopher_alpha_words_ratio=pl.when(~pl.col("_uns") & over_tokens)
                .then(pl.when(n > 0).then(pl.col("_alpha") / n))
                .otherwise(pl.when(pl.col("_ns") > 0).then(pl.col("_alpha") / pl.col("_ns"))),
                gopher_stop_words=pl.col("_stop").cast(pl.Int64),
            )
            .drop("_uns", "_n", "_ns", "_ns_len", "_alpha", "_stop")
            .with_columns(_uns=unspaced, _stop_judged=judged)
        )

    @functools.cache  # noqa: B019 (one table per step and config, for the process's life)
    def _stop_table(self) -> tuple[list[str], int, pl.DataFrame]:
        """The languages with a list, the index of the wider English list, and every list's
        word hashes with its index (`h`, `li`)."""
        c: GopherQualityConfig = self.config
        lists = {"en": tuple(STOP_WORDS if c.stop_words is None else c.stop_words)}
        others = OTHER_STOP_WORDS if c.stop_words_by_lang is None else c.stop_words_by_lang
        lists.update({k: tuple(v) for k, v in others.items() if k != "en"})
        names = list(lists)
        # the wider English list for short documents, last
        short_li = len(lists)
        wide = SHORT_STOP_WORDS if c.short_stop_words is None else c.short_stop_words
        lists["en+"] = (*wide, *(w.capitalize() for w in wide))
        table = pl.concat(
            [
                pl.DataFrame({"h": word_hashes(words)}).with_columns(li=pl.lit(i, pl.Int32))
                for i, words in enumerate(lists.values())
            ]
        ).unique()
        return names, short_li, table

    def _stop_words(
        self,
        batch: pl.DataFrame,
        tokens: pl.DataFrame,
        unspaced: pl.Series,
        stop_zh: pl.Series,
        stats_ns: pl.Series,
    ) -> tuple[pl.Series, pl.Series]:
        """Distinct stop words per document, of its language's list, and whether the rule
        judges it (a known language with a list, or an unknown one in a Latin or Cyrillic
        script, whose count is that of the list it has most words of)."""
        c: GopherQualityConfig = self.config
        names, short_li, table = self._stop_table()
        if unspaced.any():
            zh = tokens.filter(pl.col("uns") & pl.col("h").is_in(stop_zh.implode()))
            zh = zh.select("row", "h").unique().group_by("row").agg(zh=pl.len())
        else:  # no unspaced document: skip a pass over every token
            zh = pl.DataFrame(schema={"row": pl.UInt32, "zh": pl.UInt32})
        hits = (
            tokens.filter(~pl.col("uns") & pl.col("h").is_in(table["h"].implode()))
            .select("row", "h")
            .unique()
            .join(table, on="h")
            .group_by("row", "li")
            .agg(k=pl.len())
        )
        rows = pl.DataFrame({"row": pl.int_range(batch.height, dtype=pl.UInt32, eager=True)})
        if "lang" in batch.columns:
            code = batch["lang"].cast(pl.String).str.to_lowercase().str.extract(r"^([a-z]+)", 1)
        else:
            code = pl.repeat(None, batch.height, dtype=pl.String, eager=True)
        known = code.replace_strict(names, list(range(len(names))), default=None)
        rows = rows.with_columns(code=code, known=known.cast(pl.Int32), uns=unspaced)
        ns = stats_ns
        short = (ns < c.short_doc_words).fill_null(True)
        rows = rows.with_columns(short=short).with_columns(
            # a short English document is judged by the wider list
            known=pl.when(pl.col("short") & (pl.col("known") == 0))
            .then(pl.lit(short_li, pl.Int32))
            .otherwise(pl.col("known")),
        )
        hits = hits.join(rows.select("row", "short"), on="row")
        best = (
            hits.filter((pl.col("li") != short_li) | pl.col("short"))
            .group_by("row")
            .agg(best=pl.col("k").max())
        )
        own = hits.join(
            rows.select("row", li="known").drop_nulls("li"), on=["row", "li"], how="inner"
        ).select("row", own="k")
        got = (
            rows.join(best, on="row", how="left", maintain_order="left")
            .join(own, on="row", how="left", maintain_order="left")
            .join(zh, on="row", how="left", maintain_order="left")
            .select(
                "code",
                "uns",
                stop=pl.when(pl.col("uns"))
                .then(pl.col("zh"))
                .when(pl.col("code").is_not_null())
                .then(pl.col("own"))
                .otherwise(pl.col("best"))
                .fill_null(0),
                judged=pl.col("uns") | pl.col("code").is_null() | pl.col("known").is_not_null(),
            )
        )
        # the script share only where it decides: a spaced document of unknown language
        # that the rule would reject
        ask = got.select(
            pl.col("code").is_null() & ~pl.col("uns") & (pl.col("stop") < (c.min_stop_words or 0))
        ).to_series()
        idx = ask.arg_true()
        judged = got["judged"]
        if idx.len():
            text = batch["text"].gather(idx).fill_null("")
            letters = text.str.count_matches(r"\p{L}")
            western = text.str.count_matches(r"[\p{Latin}\p{Cyrillic}]")
            share = (western / letters).fill_nan(0.0).fill_null(0.0)
            judged = judged.scatter(idx, share >= c.stop_words_latin_share)
        return got["stop"], judged

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
        ellipsis_lines = _per_script(
            c.max_ellipsis_lines_ratio, c.unspaced_max_ellipsis_lines_ratio
        )
        if ellipsis_lines is not None:
            rules.append(("ellipsis_lines", pl.col("gopher_ellipsis_lines_ratio") > ellipsis_lines))
        alpha = _per_script(c.max_non_alpha_words_ratio, c.unspaced_min_alpha_words_ratio)
        if alpha is not None:
            rules.append(("alpha_words", pl.col("gopher_alpha_words_ratio") < alpha))
        if rule_on(c.min_stop_words):
            rules.append(
                (
                    "stop_words",
                    (pl.col("gopher_stop_words") < c.min_stop_words) & pl.col("_stop_judged"),
                )
            )
        return rules


def _unspaced_stop_words(c: GopherQualityConfig) -> tuple[str, ...]:
    """The stop words of unspaced documents: the configured list, else the shipped one
    (with the written-register words where `unspaced_written_stop_words`, the informal ones
    where `unspaced_informal_stop_words`)."""
    if c.unspaced_stop_words is not None:
        return tuple(c.unspaced_stop_words)
    written = zh_stop_words("zh_stopwords_written.txt") if c.unspaced_written_stop_words else ()
    informal = zh_stop_words("zh_stopwords_informal.txt") if c.unspaced_informal_stop_words else ()
    return zh_stop_words() + written + informal


def _per_script(spaced: float | None, unspaced: float | None) -> pl.Expr | None:
    """A threshold that differs for unspaced documents; None where both are off."""
    if not rule_on(spaced) and not rule_on(unspaced):
        return None
    a = pl.lit(spaced if rule_on(spaced) else None, dtype=pl.Float64)
    b = pl.lit(unspaced if rule_on(unspaced) else None, dtype=pl.Float64)
    return pl.when(pl.col("_uns")).then(b).otherwise(a)
