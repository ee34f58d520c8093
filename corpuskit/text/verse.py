"""Verse: poems, songs and verse drama, whose line breaks are part of the text.

A verse line starts with a capital and ends where the metre ends, often in a comma or in no
mark at all ("Be pilot to me and thy places shall" / "Still neighbour mine."). A line
filter that judges physical lines (C4's "ends in terminal punctuation") drops most of such a
speech, and rejoining hard-wrapped lines runs verse lines together. Both judge a verse block
(a stanza, a speech) as one unit instead: its lines are kept when its last line ends a
sentence, and a document that is mostly verse is never rejoined.

A *verse block* is a run of at least two non-blank lines (speaker labels and blank lines
separate blocks) where every line starts with a capital (after an indent and an opening
quote; not a quoted line) and is at most VERSE_MAX_CHARS long, the lines have
VERSE_MIN_WORDS words and at most VERSE_MEAN_CHARS characters on average, most words after a
line's first are in lower case (VERSE_MIN_LOWER), and some line but the last ends in a
comma, semicolon, colon or dash. In a document with VERSE_MIN_LINES lines of such blocks, a
block of that shape without the soft end is verse too. Wrapped prose fails the capitals
(most wrapped lines start mid-sentence in lower case) or the width, menus, lists and tables
of contents the words, the lower case and the commas, quoted e-mail the quote mark.
"""

from __future__ import annotations

import numpy as np
import polars as pl

# Letters of the Latin, Greek and Cyrillic scripts, as explicit ranges: Polars compiles a
# regex again whenever its per-thread cache of 32 has dropped it (every batch, in a chain of
# steps), and a bounded repeat of \p{Lu} ("\p{Lu}[\p{Lu} ]{0,30}") takes about 5 ms to
# compile, these classes 0.2 ms.
UPPER = "A-Z\u00c0-\u00d6\u00d8-\u00de\u0391-\u03a9\u0400-\u042f"
LOWER = "a-z\u00df-\u00f6\u00f8-\u00ff\u03ac-\u03ce\u0430-\u045f"
LETTER = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u04ff"
# a speaker label of a play, an interview or a transcript: a capitalised name and a colon
# alone on a line ("ANGELO:", "LADY CAPULET:", "Q:")
SPEAKER_LABEL = rf"^[ \t]*[{UPPER}][{UPPER}0-9 .'’-]{{0,30}}:[ \t]*$"
# the same in the title case of verse drama ("First Citizen:", "Lady Capulet:"): only where
# verse follows is such a line taken for a label
TITLE_SPEAKER_LABEL = (
    rf"^[ \t]*[{UPPER}][{LETTER}'’.-]*(?:[ \t]+[{UPPER}][{LETTER}'’.-]*){{0,3}}:[ \t]*$"
)
VERSE_MAX_CHARS = 80
# a verse line is shorter than a wrapped one (about 70 columns): a block's mean at most this
VERSE_MEAN_CHARS = 56
VERSE_MIN_WORDS = 3
# verse is written in sentences: of the words after a line's first, at least this share
# start in lower case (tables of contents, title lists and "Key : value" lines are in title
# case)
VERSE_MIN_LOWER = 0.6
# a verse document: at least this share of its lines (blank lines and labels left out) are
# verse, and at least VERSE_MIN_LINES of them
VERSE_DOC_SHARE = 0.5
VERSE_MIN_LINES = 4

# a line's start in a capital (after an indent and an opening quote), a soft line end
_CAPITAL = rf"[ \t]*[\"'‘“(\[]?[{UPPER}]"
_SOFT = r"[,;:—–-][\"'’”)]*[ \t]*"
_UPPER_START = rf"^{_CAPITAL}.*[{LETTER}]"
_CAPITAL_LINE = rf"(?m)^{_CAPITAL}"
# a quoted line of e-mail or Usenet ("> ", "JW> ") is no verse
_QUOTE_MARK = r"^[ \t]*(?:[A-Za-z]{1,4})?[>|}]"
_SOFT_END = rf"{_SOFT}$"
_SENTENCE_END = r"[.!?…][\"'’”)\]»]*[ \t]*$"
# a document that may hold verse: a line ending softly before a capitalised line
_MAYBE_VERSE = rf"{_SOFT}\r?\n{_CAPITAL}"


def verse_flags(lines: pl.DataFrame, col: str = "line") -> pl.DataFrame:
    """`lines` (one row per physical line, `row` the document, lines of a document together
    and in order) with `verse` (the line belongs to a verse block), `verse_closed` (its
    block's last line ends a sentence) and `speaker` (a speaker label in a document that
    has a verse block). The line features are one Polars pass; the block and document sums
    are numpy reductions over the runs of lines (a group_by costs more than the lines)."""
    s = pl.col(col).fill_null("")
    label = s.str.contains(SPEAKER_LABEL) | s.str.contains(TITLE_SPEAKER_LABEL)
    chars = s.str.len_chars()
    f = lines.select(
        "row",
        label=label,
        body=s.str.contains(r"\S") & ~label,
        ok=s.str.contains(_UPPER_START) & ~s.str.contains(_QUOTE_MARK) & (chars <= VERSE_MAX_CHARS),
        chars=chars,
        words=s.str.count_matches(r"\S+"),
        lower=s.str.count_matches(rf"\s[{LOWER}]"),
        letters=s.str.count_matches(rf"\s[{LETTER}]"),
        soft=s.str.contains(_SOFT_END),
        closed=s.str.contains(_SENTENCE_END),
    )
    if not f.height:
        no = pl.Series([], dtype=pl.Boolean)
        return lines.with_columns(verse=no, verse_closed=no, speaker=no)
    a = {k: f[k].to_numpy() for k in f.columns}
    body = a["body"]
    new_doc = np.r_[True, a["row"][1:] != a["row"][:-1]]
    # blocks: a separator line (blank or a label) or a document's first line opens one
    opens = ~body | new_doc
    block = np.cumsum(opens) - 1
    last = np.r_[block[1:] != block[:-1], True]

    def per_block(x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(np.where(body, x, 0).astype(np.float64), np.flatnonzero(opens))

    n = per_block(np.ones(len(body)))
    with np.errstate(invalid="ignore", divide="ignore"):
        shaped_b = (
            (n >= 2)
            & (per_block(~a["ok"]) == 0)
            & (per_block(a["words"]) >= VERSE_MIN_WORDS * n)
            & (per_block(a["chars"]) <= VERSE_MEAN_CHARS * n)
            & (per_block(a["lower"]) >= VERSE_MIN_LOWER * per_block(a["letters"]))
            & (per_block(a["letters"]) > 0)
        )
    soft_b = per_block(a["soft"] & ~last) > 0
    closed_b = per_block(a["closed"] & last) > 0
    shaped = body & shaped_b[block]
    strict = shaped & soft_b[block]
    doc_starts = np.flatnonzero(new_doc)
    doc = np.cumsum(new_doc) - 1
    # a document with VERSE_MIN_LINES lines of soft-ending blocks is verse throughout: its
    # other blocks of the same shape are verse too ("It is in mine authority to command")
    strict_doc = np.add.reduceat(strict.astype(np.int64), doc_starts)
    verse = strict | (shaped & (strict_doc[doc] >= VERSE_MIN_LINES))
    has_verse = np.add.reduceat(verse.astype(np.int64), doc_starts) > 0
    return lines.with_columns(
        verse=pl.Series(verse),
        verse_closed=pl.Series(verse & closed_b[block]),
        speaker=pl.Series(a["label"] & has_verse[doc]),
    )


def maybe_verse(text: pl.Series, unspaced: pl.Series) -> pl.Series:
    """The documents that may hold verse: spaced, with two lines that end softly before a
    capitalised line (one regex scan; only these need `verse_flags`). A lone couplet in
    prose is left to the line rules."""
    text = text.fill_null("")
    return ~unspaced.fill_null(False) & (text.str.count_matches(_MAYBE_VERSE) >= 2)


def verse_documents(text: pl.Series, unspaced: pl.Series) -> pl.Series:
    """Whether each document is mostly verse (VERSE_DOC_SHARE of its lines, blank lines and
    speaker labels left out): such a document keeps its line breaks. Only spaced documents
    with a line ending softly before a capitalised line are split into lines."""
    text = text.fill_null("")
    out = pl.repeat(False, text.len(), dtype=pl.Boolean, eager=True)
    # a necessary condition first: verse lines start with a capital, so half of a verse
    # document's non-blank lines do (wrapped prose mostly starts its lines in lower case)
    capitals = text.str.count_matches(_CAPITAL_LINE) * 2 >= text.str.count_matches(r"(?m)^.*\S")
    idx = (maybe_verse(text, unspaced) & capitals).arg_true()
    if idx.len() == 0:
        return out
    lines = (
        pl.DataFrame({"t": text.gather(idx)})
        .with_row_index("row")
        .select("row", line=pl.col("t").str.replace_all("\r\n?", "\n").str.split("\n"))
        .explode("line")
        .with_columns(pl.col("line").fill_null(""))
    )
    f = verse_flags(lines)
    counted = pl.col("line").str.contains(r"\S") & ~pl.col("speaker")
    per_doc = (
        f.group_by("row", maintain_order=True)
        .agg(v=pl.col("verse").sum(), n=counted.sum())
        .sort("row")
    )
    doc = (per_doc["v"] >= VERSE_MIN_LINES) & (per_doc["v"] >= VERSE_DOC_SHARE * per_doc["n"])
    return out.scatter(idx, doc)
