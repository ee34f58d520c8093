"""fineweb_quality: FineWeb's line-level quality rules (Penedo et al. 2024), batch-wide.

Same rules and order as datatrove 0.10.1's FineWebQualityFilter, on a (document, line)
table; the defaults judge paragraphs and the author's own text (issue 16), and the options
that do so, turned off (`DATATROVE`), give datatrove's decisions. For unspaced
(Chinese) documents the terminal-punctuation share is taken over sentence units instead of
lines (Chinese news is often flattened to one line that ends with a byline such as
"（记者 张三）"), terminal punctuation may be followed by closing quotes (“……。”), lines
count as short up to `unspaced_short_line_length` characters (a Chinese character carries
about what 2-3 English ones do) and words are jieba's.

Reasons (datatrove's names), in rule order: empty, line_punct_ratio, short_line_ratio,
char_dup_ratio, list_ratio.
"""

from __future__ import annotations

from typing import ClassVar

import polars as pl
from pydantic import Field

from corpuskit.steps.base import FilterStep
from corpuskit.steps.quality import (
    INFORMAL_END,
    INFORMAL_MIN_CHARS,
    LEAD_MIN_WORDS,
    LIST_ITEM_END,
    UnspacedConfig,
    continued_lines,
)
from corpuskit.text.chars import NON_WS, char_class, punctuation, unspaced_mask
from corpuskit.text.paragraphs import (
    INNER_END,
    LENIENT_TAIL,
    QUOTED,
    UNFINISHED_MIN_CHARS,
    Wrapping,
    frame_flags,
    paragraphs,
)
from corpuskit.text.rows import duplicate_stats, per_row, row_sums, unit_counts
from corpuskit.text.segment import HASH_SEED, segmenter
from corpuskit.text.verse import SPEAKER_LABEL

# a reply is judged by its own sentence units from this many on
OWN_MIN_UNITS = 2

# LENIENT_TAIL with straight quotes ('He said "no."') and trailing whitespace
LENIENT_TAIL_QUOTES = LENIENT_TAIL.removesuffix(")+$").replace("]|", "\"']|", 1) + r")+[ \t]*$"


# datatrove 0.10.1's FineWebQualityFilter's decisions: FineWebQualityConfig(**DATATROVE)
# (the defaults judge paragraphs and the author's own text, issue 16)
DATATROVE = {
    "rejoin_lines": False,
    "keep_headlines": False,
    "lenient_ends": False,
    "dup_ignore_symbol_lines": False,
    "dup_ignore_quoted_lines": False,
    "char_dup_min_lines": 1,
    "judge_own_text": False,
    "dup_ignore_short_lines": False,
    "dup_ignore_headings": False,
    "char_duplicates_ratio": 0.01,
    "skip_speaker_labels": False,
}


class FineWebQualityConfig(UnspacedConfig):
    line_punct_thr: float = Field(0.12, ge=0)
    line_punct_exclude_zero: bool = False
    stop_chars: str | None = None  # None: datatrove's TERMINAL_PUNCTUATION
    short_line_thr: float = Field(0.67, ge=0)
    short_line_length: int = Field(30, ge=0)
    # the FineWeb paper's threshold (Penedo et al. 2024, section 3.6: "fraction of characters
    # in duplicated lines >= 0.1", 12.47% of tokens); datatrove's FineWebQualityFilter and the
    # paper's appendix table say 0.01, which rejects a book chapter for a song's refrain
    char_duplicates_ratio: float = Field(0.1, ge=0)
    new_line_ratio: float = Field(0.3, ge=0)
    unspaced_short_line_length: int = Field(12, ge=0)
    # judge paragraphs: hard-wrapped lines are rejoined first (corpuskit.text.paragraphs)
    rejoin_lines: bool = True
    # lines without a letter or digit (separator rules) and quoted lines ("> ...", repeated
    # by replies) do not count as duplicated lines
    dup_ignore_symbol_lines: bool = True
    dup_ignore_quoted_lines: bool = True
    # char_dup_ratio needs this many repeated lines: one repeated paragraph (a pull quote, a
    # refrain, a list item said twice) is an edited text's, not a spam page's (datatrove: 1)
    char_dup_min_lines: int = Field(2, ge=1)
    # duplicated lines no longer than a short line (the short-line length above: labels,
    # headings, field names such as a stock table's "成交量", "Reply") do not count: a
    # document's repeated paragraphs are what char_dup_ratio is after (datatrove counts all)
    dup_ignore_short_lines: bool = True
    # a heading (a line standing alone between blank lines, up to `heading_max_chars`) that
    # repeats a line of a block above it, as a FAQ's headings repeat its contents list,
    # does not count
    dup_ignore_headings: bool = True
    heading_max_chars: int = Field(80, ge=0)
    # a headline (first line without terminal punctuation, followed by text) is no line for
    # the punctuation and short-line shares
    keep_headlines: bool = True
    # nor is a play's or a transcript's speaker label ("ANGELO:", "Q:"): verse drama is
    # half labels and short speeches
    skip_speaker_labels: bool = True
    # a line may end in closing brackets, an emoticon or a parenthetical after its sentence
    # end; a prose paragraph of 200 characters or more with a sentence end inside counts as
    # ending in one (a truncated lead); a Chinese sentence may end in a sentence-final
    # particle or an emoticon (informal text breaks lines instead of writing "。"); the lead
    # under a headline (15 words or more) may be cut off
    lenient_ends: bool = True
    # the line shares (punctuation, short lines, duplicates) judge the author's own text:
    # quoted lines of an earlier message, the signature (after "-- ") and a letter's closing
    # ("Thanks in advance," and the name under it) are left out when the document has other
    # lines (corpuskit.text.paragraphs.letter_frame); trailing whitespace ends no line
    judge_own_text: bool = True


class FineWebQuality(FilterStep):
    """FineWeb rules: lines ending in punctuation, short lines, duplicated lines, list-like text."""

    Config = FineWebQualityConfig
    columns: ClassVar[dict[str, pl.DataType]] = {
        "fineweb_line_punct_ratio": pl.Float64(),
        "fineweb_short_line_ratio": pl.Float64(),
        "fineweb_char_dup_ratio": pl.Float64(),
        "fineweb_list_ratio": pl.Float64(),
    }

    def setup(self) -> None:
        segmenter()  # rules, jieba's dictionary on demand, kernels compiled or loaded

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        c: FineWebQualityConfig = self.config
        p = punctuation()
        stop = frozenset(c.stop_chars) if c.stop_chars is not None else p.terminal
        text = batch["text"].fill_null("")
        unspaced = unspaced_mask(batch, c.unspaced_cjk_ratio)
        headline = pl.repeat(None, len(text), dtype=pl.UInt32, eager=True)
        if c.rejoin_lines or c.keep_headlines:
            wrapping = Wrapping(keep_headlines=c.keep_headlines)
            para = paragraphs(text, unspaced, wrapping, join=c.rejoin_lines)
            text = para.text
            if c.rejoin_lines and c.lenient_ends:
                text = continued_lines(text, unspaced, para.headline)
            if c.keep_headlines:
                headline = para.headline
        docs = pl.DataFrame({"text": text, "uns": unspaced, "hl": headline}).with_row_index("row")
        lines = docs.select("row", "uns", "hl", s=pl.col("text").str.split("\n")).explode("s")
        lines = lines.with_columns(
            i=pl.int_range(pl.len(), dtype=pl.UInt32).over("row"),
            blank=~pl.col("s").str.contains(NON_WS),
        )
        f = frame_flags(lines.select("row", "s"), text=docs["text"]) if c.judge_own_text else None
        own_text = None
        framed = f is not None
        if f is not None:
            blank = lines["blank"]
            frame = f["quoted"] | f["signature"] | f["closing"] | f["opening"] | f["attribution"]
            own = ~frame & ~blank
            # a document of nothing but frame is judged line by line
            has_own = row_sums(pl.DataFrame({"row": lines["row"], "o": own}), docs.height, o="o")
            has_own = (has_own["o"] > 0).gather(lines["row"])
            # spaced text: a quoted paragraph (hard-wrapped by its poster, never rejoined)
            # counts once; BBS quotes of unspaced text keep the quoted post's lines (a clause
            # a line) and count line by line
            uns = lines["uns"]
            weight = ~frame | f["quote_end"] | (f["quoted"] & uns)
            own_text = _own_text(lines.filter(own & has_own & lines["uns"]), docs.height)
            lines = lines.with_columns(
                weight=(weight | ~has_own).cast(pl.UInt32),
                qlen=pl.when(f["quote_end"] & ~uns).then(f["quote_chars"]),
                frame=(f["signature"] | f["closing"] | f["opening"]) & has_own,
            )
        if c.dup_ignore_headings:
            # a line alone between blank lines (or the document's ends)
            first = pl.col("row") != pl.col("row").shift(1)
            last = pl.col("row") != pl.col("row").shift(-1)
            lines = lines.with_columns(
                alone=(pl.col("blank").shift(1).fill_null(True) | first)
                & (pl.col("blank").shift(-1).fill_null(True) | last)
            )
        head = (pl.col("i") == pl.col("hl")).fill_null(False)
        if c.skip_speaker_labels:
            head = head | pl.col("s").str.contains(SPEAKER_LABEL)
        lines = lines.with_columns(head=head).filter(~pl.col("blank"))
        short_len = pl.when(pl.col("uns")).then(c.unspaced_short_line_length)
        short_len = short_len.otherwise(c.short_line_length)
        dup_chars = duplicate_stats(lines.select("row", "s"), "")["dup_chars"]
        if c.dup_ignore_headings:
            lines = lines.with_columns(
                heading=repeated_headings(lines, dup_chars > 0, c.heading_max_chars)
            )
        counted = pl.lit(True)
        if c.dup_ignore_short_lines:
            counted = pl.col("s").str.len_chars() > short_len
        if c.dup_ignore_headings:
            counted = counted & ~pl.col("heading")
        if c.dup_ignore_symbol_lines:
            # separator rules ("+-----+", "*    *    *") repeat in posts and books
            counted = counted & pl.col("s").str.contains(r"[\p{L}\p{N}]")
        if c.dup_ignore_quoted_lines:
            counted = counted & ~pl.col("s").str.contains(QUOTED)
        if framed:
            counted = counted & ~pl.col("frame")
        s = pl.col("s")
        # trailing whitespace ends no line (datatrove's endswith counts it)
        end = r"[ \t]*$" if c.judge_own_text else "$"
        punct = s.str.contains(char_class(stop) + end)
        if c.lenient_ends:
            long_prose = (s.str.len_chars() >= UNFINISHED_MIN_CHARS) & s.str.contains(INNER_END)
            # closing brackets and quotes, an emoticon, a parenthetical after the end
            tail = s.str.replace(LENIENT_TAIL_QUOTES, "")
            punct = tail.str.contains(char_class(stop) + end) | (~pl.col("uns") & long_prose)
            # the lead under a headline, cut off mid-sentence by its feed (as c4_quality)
            lead = (pl.col("i") == pl.col("hl") + 1).fill_null(False)
            punct = punct | (lead & (s.str.count_matches(NON_WS + "+") >= LEAD_MIN_WORDS))
        body = ~pl.col("head")
        short = s.str.len_chars() <= short_len
        if framed:
            # quoted paragraphs count once (on their last line), the frame not at all
            body = body & (pl.col("weight") > 0)
            short = pl.coalesce("qlen", s.str.len_chars()) <= short_len
        # unspaced: share of sentence units ending in terminal punctuation (closers allowed)
        ends = char_class(stop | p.cjk_terminal) + char_class(p.cjk_closers) + "*$"
        stats = row_sums(
            lines.with_columns(dup_chars=pl.when(counted).then(dup_chars).otherwise(0)),
            batch.height,
            n=body,
            punct=punct & body,
            short=short & body,
            dup_chars=pl.col("dup_chars"),
            dup_lines=pl.col("dup_chars") > 0,
            lines=pl.lit(1),
            # informal Chinese: a line of the author's own (not quoted) whose last sentence
            # ends in a particle, an emoticon or thanks instead of punctuation, or a numbered
            # list item closed by "；"
            informal=pl.col("uns")
            & ~s.str.contains(QUOTED)
            & (s.str.len_chars() >= INFORMAL_MIN_CHARS)
            & s.str.contains(f"{INFORMAL_END}|{LIST_ITEM_END}")
            & ~s.str.contains(ends)
            if c.lenient_ends and unspaced.any()
            else pl.lit(False),
        )
        unit_n, unit_punct = unit_counts(text, unspaced, ends)
        unit_punct = unit_punct + stats["informal"]
        if own_text is not None:
            # a Chinese reply of two sentences or more is judged by its own sentences when
            # they end better than the thread's: the quoted post's header lines and lists
            # are not the author's (one sentence says too little: "嗯，好。" is a stub)
            own_n, own_punct = unit_counts(own_text, own_text.is_not_null(), ends)
            own_punct = own_punct + stats["informal"]
            better = (own_n >= OWN_MIN_UNITS) & (own_punct * unit_n > unit_punct * own_n)
            unit_n = own_n.zip_with(better, unit_n)
            unit_punct = own_punct.zip_with(better, unit_punct)
        words = segmenter().word_counts(text, unspaced)
        n = stats["n"]
        frame = pl.DataFrame(
            {
                "n": n,
                "uns": unspaced,
                "punct": stats["punct"],
                "unit_n": unit_n,
                "unit_punct": unit_punct,
                "short": stats["short"],
                "dup_chars": stats["dup_chars"],
                "chars": text.str.len_chars() - text.str.count_matches("\n", literal=True),
                "newlines": text.str.count_matches("\n", literal=True),
                "words": words,
            }
        ).with_columns(
            fineweb_line_punct_ratio=pl.when(pl.col("uns") & (pl.col("unit_n") > 0))
            .then(pl.col("unit_punct") / pl.col("unit_n"))
            .when(pl.col("n") > 0)
            .then(pl.col("punct") / pl.col("n")),
            fineweb_short_line_ratio=pl.when(pl.col("n") > 0).then(pl.col("short") / pl.col("n")),
            fineweb_char_dup_ratio=pl.when(pl.col("chars") > 0).then(
                pl.col("dup_chars") / pl.col("chars")
            ),
            fineweb_list_ratio=pl.when(pl.col("words") > 0).then(
                pl.col("newlines") / pl.col("words")
            ),
        )
        return batch.with_columns(
            frame.select(*self.columns), _lines=stats["lines"], _dup_lines=stats["dup_lines"]
        )

    def rules(self) -> list[tuple[str, pl.Expr]]:
        c: FineWebQualityConfig = self.config
        punct = pl.col("fineweb_line_punct_ratio")
        low_punct = punct < c.line_punct_thr
        if c.line_punct_exclude_zero:
            low_punct = low_punct & (punct != 0)
        return [
            ("empty", pl.col("_lines") == 0),
            ("line_punct_ratio", low_punct),
            ("short_line_ratio", pl.col("fineweb_short_line_ratio") > c.short_line_thr),
            (
                "char_dup_ratio",
                (pl.col("fineweb_char_dup_ratio") > c.char_duplicates_ratio)
                & (pl.col("_dup_lines") >= c.char_dup_min_lines),
            ),
            ("list_ratio", pl.col("fineweb_list_ratio") > c.new_line_ratio),
        ]


def _own_text(own: pl.DataFrame, n_docs: int) -> pl.Series | None:
    """Per document, its own lines (`own`: the line table's `row` and `s`) joined; null for
    the documents without any. None when there are none at all."""
    if not own.height:
        return None
    return per_row(own, n_docs, pl.col("s").str.join("\n"))["s"]


def repeated_headings(lines: pl.DataFrame, dup: pl.Series, max_chars: int) -> pl.Series:
    """Per line of `lines` (row, s, alone; blank lines dropped): a repeated line (`dup`) that
    stands alone, has at most `max_chars` characters and also occurs inside a block of lines
    of its document, as a FAQ's section headings repeat its contents list."""
    cand = dup & lines["alone"]
    heading = pl.Series("heading", [False] * lines.height, dtype=pl.Boolean)
    if not cand.any():
        return heading
    # only the documents with a candidate are hashed
    in_doc = lines["row"].is_in(lines["row"].filter(cand).unique().implode())
    sub = lines.filter(in_doc).select(
        "alone",
        cand=cand.filter(in_doc) & (pl.col("s").str.len_chars() <= max_chars),
        key=pl.col("s").hash(HASH_SEED) + pl.col("row").cast(pl.UInt64),
    )
    block = sub.filter(~pl.col("alone"))["key"]
    return heading.scatter(in_doc.arg_true(), sub["cand"] & sub["key"].is_in(block.implode()))
