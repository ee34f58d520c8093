"""What the quality filters (gopher_quality, gopher_repetition, c4_quality, fineweb_quality)
share: how unspaced (CJK) documents are recognised, where informal Chinese ends a sentence
without punctuation, which wrapped lines go on with a sentence, and datatrove's way to
switch a rule off."""

from __future__ import annotations

import polars as pl
from pydantic import Field

from corpuskit.steps.base import StepConfig
from corpuskit.text.paragraphs import LIST_ITEM, QUOTED


class UnspacedConfig(StepConfig):
    """How unspaced (CJK) documents are recognised when there is no `lang` column."""

    unspaced_cjk_ratio: float = Field(0.3, ge=0, le=1)


# Informal Chinese (BBS posts, mail) ends sentences with a line break: the sentence-final
# particle (语气词), the emoticon or the thanks at the end of a line is its full stop
# ("那就给我回信吧：）", "我和他已经两个月没见面了", "有意者站内联系，谢谢"). Menu entries and
# link lists end in nouns.
EMOTICON = r"(?:[:：;；]-?[)）(（DPp]|\^_*\^|[~～]+)"
INFORMAL_MIN_CHARS = 5  # "去旅行吧" is no sentence
INFORMAL_END = (
    rf"(?:(?:[吧呢啊吗呀啦嘛哦呗咯喔噢哟了]|呵呵|哈哈|嘻嘻|谢谢(?:大家|各位)?|多谢){EMOTICON}?"
    rf"|{EMOTICON})$"
)
# an informal Chinese sentence trails off in an ellipsis as often as it ends in "。"
# ("挺沉默的人...", "说个不停......"); c4_quality accepts it on a line of the author's own
ELLIPSIS_END = r"(?:\.{3,}|…+|。{3,})$"
# a numbered list item closed by "；": items of a Chinese enumeration are separated by
# semicolons (GB/T 15834-2011, 4.6), so "；" ends the item as "。" ends a sentence
LIST_MARKER = r"(?:(?:\d{1,3}|[一二三四五六七八九十]{1,3})[、.．)）]|[(（]\d{1,3}[)）])"
LIST_ITEM_END = rf"^[ \t　]*{LIST_MARKER}[^\d\n][^\n]*；$"


# a news lead under its headline, cut off mid-sentence by its feed, when it has this many words
LEAD_MIN_WORDS = 15
# `continued_lines`: a line that ends mid-sentence (a letter, digit, comma or semicolon) and
# a next line that starts with a lower-case letter
MID_SENTENCE_END = r"[\p{L}\p{N},;][ \t]*$"
LOWER_START = r"^[ \t]*\p{Ll}"
CONTINUED_MIN_CHARS = 40


def rule_on(value: float | None) -> bool:
    """datatrove disables a rule whose threshold is None or 0."""
    return bool(value)


def continued_lines(
    text: pl.Series, unspaced: pl.Series, headline: pl.Series | None = None
) -> pl.Series:
    """In spaced documents, a line of CONTINUED_MIN_CHARS or more that ends mid-sentence (a
    letter, digit, comma or semicolon) is joined to the next line when that one starts with
    a lower-case letter: the sentence goes on there. corpuskit.text.paragraphs misses
    wrappers that broke a line early and documents whose widest line is a header or an
    attribution ("unfortunately, i don't have that info anymore.  try stopping" / "at a
    local bookstore ..."). Quoted lines, list items and the `headline` line (its index per
    document) are not joined; menu entries are shorter than a wrapped line."""
    maybe = ~unspaced & text.str.contains(r"[\p{L}\p{N},;][ \t]*\n[ \t]*\p{Ll}")
    idx = maybe.arg_true()
    if idx.len() == 0:
        return text
    line = pl.col("line")
    nxt = line.shift(-1).over("row")
    hl = (
        headline.gather(idx)
        if headline is not None
        else pl.repeat(None, idx.len(), dtype=pl.UInt32, eager=True)
    )
    lines = (
        pl.DataFrame({"t": text.gather(idx), "hl": hl.cast(pl.UInt32)})
        .with_row_index("row")
        .select("row", "hl", line=pl.col("t").str.split("\n"))
        .explode("line")
        .with_columns(
            head=(pl.int_range(pl.len(), dtype=pl.UInt32).over("row") == pl.col("hl")).fill_null(
                False
            )
        )
    )
    cont = (
        (line.str.len_chars() >= CONTINUED_MIN_CHARS)
        & ~pl.col("head")
        & line.str.contains(MID_SENTENCE_END)
        & ~line.str.contains(QUOTED)
        & nxt.str.contains(LOWER_START)
        & ~nxt.str.contains(QUOTED)
        & ~nxt.str.contains(LIST_ITEM)
    ).fill_null(False)
    prev = cont.shift(1).over("row").fill_null(False)
    last = (pl.col("row").shift(-1) != pl.col("row")).fill_null(True)
    body = pl.when(prev).then(line.str.strip_chars_start()).otherwise(line)
    body = pl.when(cont).then(body.str.strip_chars_end()).otherwise(body)
    sep = pl.when(last).then(pl.lit("")).when(cont).then(pl.lit(" ")).otherwise(pl.lit("\n"))
    joined = (
        lines.select("row", piece=body + sep)
        .group_by("row", maintain_order=True)
        .agg(pl.col("piece").str.join(""))["piece"]
    )
    return text.clone().scatter(idx, joined)  # scatter writes in place: not the caller's
