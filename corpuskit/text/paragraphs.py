"""Paragraphs of hard-wrapped text: which physical lines continue a paragraph, and the text
with those lines rejoined (English with a space, Chinese without one).

Newswire, e-mail, Usenet and Project Gutenberg text is wrapped at a fixed width (about 70
display columns; a CJK character takes two). A line filter that judges each physical line
then sees sentence fragments: C4's "ends in terminal punctuation" drops most of them and a
boilerplate pattern anchored at a line start ("share on ...") matches a line that merely
starts with the word. The line filters judge paragraphs instead (`rejoin`), and recipes can
rejoin once for every later step (the `rejoin_paragraphs` map step).

A line is *wrapped* into the next one when the document looks wrapped at a width `W` (its
widest line up to `max_width` columns, at least `min_width`) and:

- the line is full: at least `fill` x `W` columns (a wrapped line is close to the width; a
  short line without punctuation is a title, a name, a list item or a signature);
- the line does not end with a date ("2015/07/03": a list of related links);
- the next line's first word would not have fitted on the line (within `slack`);
- the next line is non-blank, no wider than `max_width`, not indented more than this one,
  not a list item, and neither line is quoted (`>`, `|>`, `: `);
- the line ends no sentence (text with a sentence per line stays as it is; a wrapped
  paragraph cut where a line ends a sentence is still judged right);
- the next line is full too, or ends a sentence or with a colon, or ends its block (blank
  line or end after it): the last line of a wrapped paragraph. A short line after a full
  one otherwise is a list item, a name or "Regards";
- it is not the document's headline, when `keep_headlines`: its first non-blank line, that
  ends no sentence (an ellipsis may end it), holds none (but for "U.S." or "Dec." in title
  case), at most 160 columns (spaced: two words with letters at least), followed by more
  text that is not quoted (a reply above a quote is no headline), and either in title case
  or followed by a capitalized line (spaced text: "Dell Exits Low-End China Consumer PC
  Market"), or not full, or clearly narrower than the next non-blank line (x 1.3). A
  wrapped first line taken for a headline loses nothing: it stays a line of its own.

A hyphen after a letter at the end of a line joins without a space ("well-\\nknown");
unspaced text joins without a space except between two ASCII letters or digits.
The reference runs on a (document, line) table in Polars; no per-document Python. Where
numba imports, `paragraphs()` runs its compiled twin (`paragraphs_kernels.py`, the same
results: the tests compare them), about ten times faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from corpuskit import jit
from corpuskit.text.chars import char_class, normalize_line_breaks, punctuation
from corpuskit.text.rows import per_row
from corpuskit.text.utf8 import utf8_buffer
from corpuskit.text.verse import verse_documents

# Characters that take two display columns (East Asian Wide and Fullwidth, the common ranges).
WIDE = (
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\u3000-\u303f\uff01-\uff60\uffe0-\uffe6"
    r"\u2e80-\u2fdf\u3190-\u31ff\ufe30-\ufe4f]"
)
# Quoted lines of e-mail and Usenet ("> ", "|> ", "JD> ") and of BBS posts (": ", which
# normalize_punctuation makes "：", no space: no sentence starts with a full-width colon).
QUOTED = r"^[ \t]*(?:[>|}]|[A-Za-z]{1,4}>|:[ \t　]|：)"
# List items: bullets, "1." / "1)" / "(1)" / "１．" / "一、" / "a)".
LIST_ITEM = (
    r"^[ \t　]*(?:[-*+•·▪◦○●◆◇■□►▶※]\s|[(（]?\d{1,3}[.)、．）](?:\s|$)|[(（]\d{1,3}[)）]"
    r"|[０-９]{1,3}[．、]|[一二三四五六七八九十]{1,3}[、．]|[a-zA-Z][.)]\s)"
)
_INDENT = r"^[ \t\u3000]*"
HEADLINE_WIDTH = 160
# What may follow a sentence end at the end of a paragraph (the line steps' `lenient_ends`):
# closing brackets, an emoticon, a parenthetical ("drivers ? (FTP sites ??)", "move!! :-(").
LENIENT_TAIL = r"(?:[)\]»”’）】]|\s+[:;]-?[()DPp/\\|]|\s+\([^()]{1,80}\))+$"
# A sentence end inside a paragraph.
INNER_END = r"[.!?][\"')\]]*\s+\S"
# A prose paragraph at least this long whose last sentence is unfinished is a truncated
# lead, not a menu line (text messages, under 160 characters, are not).
UNFINISHED_MIN_CHARS = 200


@dataclass(frozen=True)
class Wrapping:
    """When lines count as hard-wrapped (see the module docstring)."""

    min_width: int = 40  # a document whose widest line is narrower is not wrapped
    max_width: int = 100  # lines wider than this are paragraphs already
    fill: float = 0.6  # a full line is at least this share of the document's width
    keep_headlines: bool = True
    # a wrapped line plus the next line's first word comes within this share of the width
    # (spaced text: wrappers that balance lines leave some room) or these columns (unspaced)
    slack: float = 0.15
    slack_unspaced: int = 4
    # a document that is mostly verse keeps its line breaks (corpuskit.text.verse)
    keep_verse: bool = True


def terminal_sets() -> tuple[set[str], set[str]]:
    """Sentence ends (. ! ? and CJK ends) and the closing quotes that may follow them."""
    p = punctuation()
    return set(".!?") | p.cjk_terminal | {"…"}, set("\"')]»") | p.cjk_closers


def _terminal_regex() -> str:
    """A sentence end at the end of a line: . ! ? (and CJK ends), closing quotes after it."""
    ends, closers = terminal_sets()
    return rf"{char_class(ends)}+{char_class(closers)}*$"


def line_table(text: pl.Series, unspaced: pl.Series) -> pl.DataFrame:
    """One row per physical line: `row` (document), `uns`, `line` (text, line breaks made
    "\\n", trailing whitespace kept) and `first` (the document's first line)."""
    docs = pl.DataFrame(
        {"text": text.fill_null(""), "uns": unspaced.fill_null(False)}
    ).with_row_index("row")
    return (
        docs.select("row", "uns", line=normalize_line_breaks(pl.col("text")).str.split("\n"))
        .explode("line")
        .with_columns(line=pl.col("line").fill_null(""))
    )


# What a line wider than any wrapped line or headline gets instead of its features.
_LONG_LINE = {
    "indent": 0,
    "terminal": True,
    "quoted": False,
    "item": False,
    "hyphen": False,
    "colon": False,
    "clause": False,
    "dated": False,
    "first": 1,
    "gap": 1,
}


def _line_features(t: pl.DataFrame) -> pl.DataFrame:
    line = pl.col("line")
    s = line.str.strip_chars()
    return t.with_columns(
        width=pl.col("chars") + line.str.strip_chars_end().str.count_matches(WIDE),
        indent=line.str.extract(f"({_INDENT})", 1).str.len_chars(),
        terminal=s.str.contains(_terminal_regex()),
        quoted=line.str.contains(QUOTED),
        item=line.str.contains(LIST_ITEM),
        hyphen=s.str.contains(r"\p{L}-$"),
        colon=s.str.contains("[:：]$"),
        clause=s.str.contains("[,，、;；]$"),
        # a related-links list: headlines with their date or comment count
        dated=s.str.contains(
            r"(?:\d{4}[/\-.]\d{1,2}[/\-.]\d{1,2}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?|评论\d+条)$"
        ),
        first=pl.when("uns")
        .then(s.str.extract(r"^([A-Za-z0-9]+|\S)", 1))
        .otherwise(s.str.extract(r"^(\S+)", 1))
        .fill_null(""),
    ).with_columns(
        first=pl.col("first").str.len_chars() + pl.col("first").str.count_matches(WIDE),
        gap=pl.when(pl.col("uns") & pl.col("first").str.contains(f"^{WIDE}")).then(0).otherwise(1),
    )


def mark_lines(lines: pl.DataFrame, w: Wrapping = Wrapping()) -> pl.DataFrame:
    """Add `join` (the line continues into the next one) and `headline` to a line table
    (columns `row`, `uns`, `line`, in document order)."""
    line = pl.col("line")
    t = lines.with_row_index("_k").with_columns(
        blank=line.str.strip_chars() == "", chars=line.str.strip_chars_end().str.len_chars()
    )
    # only lines that may join (two non-blank lines up to max_width in a row somewhere in
    # their document) or head a document need their features: text of one paragraph a line
    # skips the regexes
    cand = ~pl.col("blank") & (pl.col("chars") <= w.max_width)
    pair = cand & cand.shift(-1) & (pl.col("row").shift(-1) == pl.col("row"))
    t = t.with_columns(
        nb=(~pl.col("blank")).cast(pl.UInt32).cum_sum().over("row"),
        _pair=pair.fill_null(False).any().over("row"),
    )
    short = (
        (t["chars"] <= max(w.max_width, HEADLINE_WIDTH))
        & ~t["blank"]
        & (t["_pair"] | (t["nb"] <= 2))
    )
    feats = _line_features(t.filter(short))
    rest = t.filter(~short).with_columns(
        width=pl.col("chars"), **{k: pl.lit(v) for k, v in _LONG_LINE.items()}
    )
    rest = rest.select(pl.col(c).cast(feats.schema[c]) for c in feats.columns)
    t = pl.concat([feats, rest]).sort("_k").drop("_k", "chars", "_pair")
    fits = ~pl.col("blank") & ~pl.col("quoted") & (pl.col("width") <= w.max_width)
    doc_width = wrap_width(t.filter(fits).select("row", "width"), w)
    t = t.join(doc_width, on="row", how="left", maintain_order="left")
    doc_width = pl.col("_wrap").fill_null(0)
    threshold = pl.max_horizontal(pl.lit(w.min_width * w.fill), doc_width * w.fill)
    slack = pl.when("uns").then(pl.lit(w.slack_unspaced)).otherwise(pl.col("doc_width") * w.slack)
    t = t.with_columns(
        doc_width=doc_width,
        full=fits & (doc_width >= w.min_width) & (pl.col("width") >= threshold),
        nb=(~pl.col("blank")).cast(pl.UInt32).cum_sum().over("row"),
        nb_total=(~pl.col("blank")).cast(pl.UInt32).sum().over("row"),
    )
    # title case only matters for a first line (the headline candidate)
    first_lines = (t["nb"] == 1) & ~t["blank"]
    idx = first_lines.arg_true()
    title = pl.repeat(False, t.height, dtype=pl.Boolean, eager=True)
    if idx.len():
        title = title.scatter(
            idx, t[idx].select(_title_case(pl.col("line").str.strip_chars())).to_series()
        )
    t = t.with_columns(title=title)
    same = (pl.col("row").shift(-1) == pl.col("row")).fill_null(False)

    def nxt(col: str) -> pl.Expr:
        return pl.col(col).shift(-1)

    # the width of the document's second non-blank line
    second = pl.col("nb") == 2
    next_width = pl.col("width").filter(second).first().over("row")
    next_quoted = pl.col("quoted").filter(second).first().over("row").fill_null(False)
    next_upper = pl.col("line").filter(second).first().over("row").str.contains(r"^\s*[\p{Lu}\d]")
    headline = (
        ~pl.col("blank")
        & (pl.col("nb") == 1)
        & (pl.col("nb_total") > 1)
        & ~next_quoted
        & (~pl.col("terminal") | pl.col("line").str.contains(r"(?:\.\.\.|…)\s*$"))
        & ~pl.col("quoted")
        & ~pl.col("clause")
        & (
            (~pl.col("uns") & pl.col("title"))
            | ~pl.col("line").str.contains(r"[.!?][\"')\]]*\s+[\"'(\[]?\p{Lu}|[。！？]")
        )
        & (pl.col("width") <= HEADLINE_WIDTH)
        & (pl.col("uns") | pl.col("line").str.contains(r"\p{L}\S*\s+\S*\p{L}"))
        & (
            (~pl.col("uns") & (pl.col("title") | next_upper))
            | (next_width >= 1.3 * pl.col("width"))
            | ~pl.col("full")
        )
    )
    # the next line ends its block: a blank line or the document's end follows it
    block_end = ~(pl.col("row").shift(-2) == pl.col("row")).fill_null(False) | pl.col(
        "blank"
    ).shift(-2).fill_null(True)
    join = (
        same
        & pl.col("full")
        & ~pl.col("dated")
        & ~nxt("blank")
        & (nxt("width") <= w.max_width)
        & (nxt("indent") <= pl.col("indent"))
        & ~nxt("item")
        & ~nxt("quoted")
        & ~pl.col("terminal")
        & (nxt("full") | nxt("terminal") | nxt("colon") | block_end)
        # the next line's first word would not have fitted on this one
        & (pl.col("width") + nxt("gap") + nxt("first") > pl.col("doc_width") - slack)
    )
    if w.keep_headlines:
        join = join & ~headline
    return t.with_columns(join=join.fill_null(False), headline=headline.fill_null(False))


def wrap_width(widths: pl.DataFrame, w: Wrapping) -> pl.DataFrame:
    """A document's wrap width (`row`, `_wrap`) from its fitting lines' widths (`row`,
    `width`): the widest width that another line comes within `slack` of (a wrapper fills
    many lines to about its width; a single wider line is a header, an attribution or a
    URL), else the widest."""
    ranked = widths.sort(["row", "width"], descending=[False, True]).with_columns(
        _next=pl.col("width").shift(-1).over("row")
    )
    shared = ranked.filter(pl.col("_next") >= pl.col("width") * (1 - w.slack))
    widest = ranked.group_by("row").agg(_wrap=pl.col("width").max())
    first = shared.group_by("row").agg(_shared=pl.col("width").first())
    return widest.join(first, on="row", how="left").select(
        "row", _wrap=pl.coalesce("_shared", "_wrap")
    )


_WORD = r"\p{L}[\p{L}'’\-]*"
_SMALL = r"\b(?:a|an|the|of|to|in|on|for|and|or|at|by|with|as|from)\b"


def _title_case(s: pl.Expr) -> pl.Expr:
    """Spaced lines whose words (three or more with letters) are capitalized, but for short
    function words and one word in eight. Regex counts, no lists: it runs on every line."""
    n = s.str.count_matches(_WORD)
    caps = s.str.count_matches(r"\p{Lu}[\p{L}'’\-]*")
    small = s.str.count_matches(_SMALL)
    # at most one lower-case word of eight ("Searching for Clues in the Shadow of a Legend")
    return (n >= 3) & (n - small - caps <= (n - small) // 8)


def joined_text(marked: pl.DataFrame, height: int) -> pl.Series:
    """The documents of a marked line table with wrapped lines joined into paragraphs."""
    prev_join = pl.col("join").shift(1).over("row").fill_null(False)
    line = pl.col("line")
    body = pl.when(pl.col("join")).then(line.str.strip_chars_end()).otherwise(line)
    body = pl.when(prev_join).then(body.str.strip_chars_start()).otherwise(body)
    last = (pl.col("row").shift(-1) != pl.col("row")).fill_null(True)
    ascii_pair = line.str.contains(r"[A-Za-z0-9]\s*$") & pl.col("next_start").str.contains(
        r"^[A-Za-z0-9]"
    )
    space = pl.when(pl.col("hyphen") | (pl.col("uns") & ~ascii_pair)).then(pl.lit(""))
    sep = (
        pl.when(last)
        .then(pl.lit(""))
        .when(pl.col("join"))
        .then(space.otherwise(pl.lit(" ")))
        .otherwise(pl.lit("\n"))
    )
    pieces = marked.with_columns(
        next_start=line.shift(-1).str.strip_chars_start().fill_null("")
    ).select("row", piece=body + sep)
    out = pieces.group_by("row", maintain_order=True).agg(pl.col("piece").str.join(""))
    rows = pl.DataFrame({"row": pl.int_range(height, dtype=pl.UInt32, eager=True)})
    return (
        rows.join(out.cast({"row": pl.UInt32}), on="row", how="left", maintain_order="left")[
            "piece"
        ]
        .fill_null("")
        .alias("text")
    )


@dataclass(frozen=True)
class Paragraphs:
    """Documents with wrapped lines rejoined, and where their headline is."""

    text: pl.Series
    # index of the headline's line in `text` (the same as in the input), null if none
    headline: pl.Series


def paragraphs(
    text: pl.Series,
    unspaced: pl.Series,
    wrapping: Wrapping = Wrapping(),
    join: bool = True,
    kernels: bool = True,
) -> Paragraphs:
    """`text` with hard-wrapped lines joined into paragraphs (other lines unchanged; line
    breaks normalized to "\\n" in documents that had a wrapped line) and each headline.
    With `join` false the text is left as it is and only the headlines are found; with
    `wrapping.keep_verse` a document that is mostly verse is left as it is too. With
    `kernels` (and numba) the compiled twin runs; else the Polars reference."""
    text = text.fill_null("")
    compiled = paragraph_kernels() if kernels else None
    if compiled is not None:
        got = _paragraphs_compiled(compiled, text, unspaced, wrapping, join)
    else:
        got = _paragraphs_reference(text, unspaced, wrapping, join)
    if join and wrapping.keep_verse:
        changed = (got.text != text).fill_null(False).arg_true()
        if changed.len():
            verse = verse_documents(text.gather(changed), unspaced.gather(changed))
            idx = changed.filter(verse)
            if idx.len():
                return Paragraphs(got.text.scatter(idx, text.gather(idx)), got.headline)
    return got


def _paragraphs_reference(
    text: pl.Series, unspaced: pl.Series, wrapping: Wrapping, join: bool
) -> Paragraphs:
    """`paragraphs` through the Polars reference (`text` without nulls)."""
    headline = pl.repeat(None, text.len(), dtype=pl.UInt32, eager=True).alias("headline")
    maybe = text.str.contains("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
    idx = maybe.arg_true()
    if idx.len() == 0:
        return Paragraphs(text, headline)
    marked = mark_lines(line_table(text.gather(idx), unspaced.gather(idx)), wrapping)
    marked = marked.with_columns(i=pl.int_range(pl.len(), dtype=pl.UInt32).over("row"))
    per_doc = per_row(
        marked,
        idx.len(),
        pl.col("join").any().alias("joins"),
        pl.col("i").filter("headline").first().alias("headline"),
    )
    headline = headline.scatter(idx, per_doc["headline"])
    changed = per_doc["joins"].fill_null(False)
    if join and changed.any():
        new = joined_text(marked, idx.len())
        text = text.clone().scatter(idx.filter(changed), new.filter(changed))
    return Paragraphs(text, headline)


def rejoin(text: pl.Series, unspaced: pl.Series, wrapping: Wrapping = Wrapping()) -> pl.Series:
    """`text` with hard-wrapped lines joined into paragraphs (see `paragraphs`)."""
    return paragraphs(text, unspaced, wrapping).text


def paragraph_kernels():
    """corpuskit.text.paragraphs_kernels (compiled or loaded), or None (`corpuskit.jit`)."""
    return jit.kernels("corpuskit.text.paragraphs_kernels")


def _paragraphs_compiled(
    kernels, text: pl.Series, unspaced: pl.Series, wrapping: Wrapping, join: bool
) -> Paragraphs:
    """`paragraphs` through the numba twin (`text` without nulls)."""
    data, offsets = utf8_buffer(text)
    uns = np.ascontiguousarray(unspaced.fill_null(False).to_numpy(), dtype=np.bool_)
    head, joins, out, out_offsets = kernels.run(data, offsets, uns, wrapping, join)
    headline = pl.Series("headline", head, dtype=pl.Int64)
    headline = headline.set(headline < 0, None).cast(pl.UInt32)
    if join and joins.any():
        arr = pa.LargeStringArray.from_buffers(
            text.len(), pa.py_buffer(out_offsets), pa.py_buffer(out)
        )
        text = pl.Series(text.name, arr, dtype=pl.String)
    return Paragraphs(text, headline)


# A letter's frame (e-mail, Usenet and BBS posts, letters to the editor): what the line
# rules judge apart from the author's own paragraphs.
# The signature separator ("-- ", RFC 3676); the block after it is the signature when it
# has at most SIGNATURE_MAX_LINES non-blank lines (a longer one is text after a dash line).
SIGNATURE_MARK = r"^--[ \t]*$"
SIGNATURE_MAX_LINES = 10
# A valediction: a line of at most CLOSING_MAX_WORDS words that ends in a comma ("Regards,",
# "Thanks in advance,", "God be with you,"), among the last CLOSING_MAX_LINES lines above
# the signature, followed only by lines of at most CLOSING_MAX_WORDS words (the name).
CLOSING_MAX_WORDS = 4
CLOSING_MAX_LINES = 4
OPENING_MAX_WORDS = 3
# "In article <...> X writes:", "X wrote:": the line that introduces a quote
_SAYS = "writes|wrote|says|said|schrieb|a écrit"
ATTRIBUTION = rf"(?i:\b(?:{_SAYS}))\s*:\s*$"
# a quote marker ("> ", "|> ", "JD> ", ": ", "："); nested ones repeat it ("> >", ": : ")
_QUOTE_MARK = r"[>|}]|[A-Za-z]{1,4}>|:(?:[ \t　]|$)|："
QUOTE_PREFIX = rf"^((?:[ \t]*(?:{_QUOTE_MARK}))+)"


# a line that may belong to a letter's frame: quoted, a signature separator, a short line
# ending in a comma (salutation, valediction), an attribution
_FRAME_HINT = (
    rf"^[ \t]*(?:{_QUOTE_MARK})|{SIGNATURE_MARK}"
    r"|^[ \t]*\S+(?:[ \t]+\S+){0,3}[,，][ \t]*$"
    rf"|(?i:{_SAYS})[ \t]*:[ \t]*$"
)
FRAME_FLAGS = ("quoted", "quote_end", "signature", "closing", "opening", "attribution")


# what a document with a frame line holds somewhere: literals, which the regex engine scans
# for at once (several times faster than _FRAME_HINT line by line)
_FRAME_LITERALS = r",\n|, \n|，\n|>|--|:\n|：\n|\n:|\n："


def frame_flags(
    lines: pl.DataFrame, col: str = "s", text: pl.Series | None = None
) -> pl.DataFrame | None:
    """`letter_frame`'s flags (and `quote_chars`) for every line of a line table (`row`,
    `col`, in document order), computed only for the documents with a line that may be
    frame: False and 0 elsewhere. None when no document has one (most web text). `text`
    (the documents, by `row`) lets a literal scan skip most documents first."""
    if text is not None:
        maybe = text.str.contains(_FRAME_LITERALS)
        if not maybe.any():
            return None
        sub = maybe.gather(lines["row"]).arg_true()
        hint = pl.repeat(False, lines.height, dtype=pl.Boolean, eager=True)
        hint = hint.scatter(sub, lines[col].gather(sub).str.contains(_FRAME_HINT))
    else:
        hint = lines[col].str.contains(_FRAME_HINT)
    if not hint.any():
        return None
    out = {k: pl.repeat(False, lines.height, dtype=pl.Boolean, eager=True) for k in FRAME_FLAGS}
    out["quote_chars"] = pl.repeat(0, lines.height, dtype=pl.UInt32, eager=True)
    docs = lines["row"].filter(hint).unique()
    idx = lines["row"].is_in(docs.implode()).arg_true()
    got = letter_frame(lines[idx].select("row", col), col)
    for k in out:
        out[k] = out[k].scatter(idx, got[k].cast(out[k].dtype))
    return pl.DataFrame({k: v.alias(k) for k, v in out.items()})


def letter_frame(lines: pl.DataFrame, col: str = "s") -> pl.DataFrame:
    """Flag the frame of a letter in a line table (`row`, `col`, in document order, blank
    lines included): `quoted` (a line of an earlier message), `quote_end` (the last line
    of a quoted paragraph: the quoted lines up to a quoted blank line, a change of quote
    level or an unquoted line), `quote_chars` (that paragraph's characters, on its last
    line), `signature` (the separator and the block after it), `closing` (valediction and
    name above the signature), `opening` (the salutation) and `attribution` ("X writes:").
    Polars window expressions over `row`; no per-document Python."""
    s = pl.col(col)
    blank = ~s.str.contains(r"\S")
    nb = ~pl.col("_blank")
    t = lines.with_columns(
        _blank=blank,
        _k=pl.int_range(pl.len(), dtype=pl.Int64).over("row"),
        _mark=s.str.contains(SIGNATURE_MARK),
        _words=s.str.count_matches(r"\S+"),
        _prefix=s.str.extract(QUOTE_PREFIX, 1).str.replace_all(r"[ \t　]", ""),
    )
    # the signature starts at the first separator with at most SIGNATURE_MAX_LINES non-blank
    # lines after it (a signature pasted twice is one)
    after = nb.cast(pl.Int64).cum_sum(reverse=True).over("row") - nb.cast(pl.Int64)
    sig_start = (
        pl.when(pl.col("_mark") & (after <= SIGNATURE_MAX_LINES)).then(pl.col("_k")).min()
    ).over("row")
    content = s.str.replace(QUOTE_PREFIX, "").str.strip_chars()
    t = t.with_columns(
        quoted=pl.col("_prefix").is_not_null(),
        _qtext=pl.when(pl.col("_prefix").is_not_null()).then(content),
        signature=(pl.col("_k") >= sig_start).fill_null(False),
        attribution=s.str.contains(ATTRIBUTION) & (s.str.len_chars() <= 200),
    )
    # quoted paragraphs: a quoted line with text continues the quoted line above it when
    # that one has text at the same quote level
    has_text = pl.col("_qtext").fill_null("") != ""
    same_prev = (
        pl.col("quoted").shift(1).over("row").fill_null(False)
        & has_text.shift(1).over("row").fill_null(False)
        & (pl.col("_prefix").shift(1).over("row") == pl.col("_prefix")).fill_null(False)
    )
    starts = pl.col("quoted") & has_text & ~same_prev
    t = t.with_columns(_qp=starts.cast(pl.Int64).cum_sum().over("row"), _has=has_text)
    continues = pl.col("_qp").shift(-1).over("row") == pl.col("_qp")
    continued = (
        pl.col("quoted").shift(-1).over("row").fill_null(False)
        & pl.col("_has").shift(-1).over("row").fill_null(False)
        & (pl.col("_prefix").shift(-1).over("row") == pl.col("_prefix")).fill_null(False)
        & continues.fill_null(False)
    )
    t = t.with_columns(
        quote_end=pl.col("quoted") & pl.col("_has") & ~continued,
        quote_chars=pl.when(pl.col("quoted") & pl.col("_has"))
        .then(pl.col("_qtext").str.len_chars().sum().over("row", "_qp"))
        .otherwise(0),
    )
    # position from the end among the non-blank lines above the signature; all lines from
    # here to the end short
    body = ~pl.col("signature") & nb
    t = t.with_columns(
        _from_end=pl.when(body).then(body.cast(pl.Int64).cum_sum(reverse=True).over("row") - 1),
        _short=((pl.col("_words") <= CLOSING_MAX_WORDS) | ~body).cast(pl.Int8),
    ).with_columns(_tail_short=pl.col("_short").cum_min(reverse=True).over("row"))
    valediction = (
        body
        & ~pl.col("quoted")
        & s.str.contains(r"[,，][ \t]*$")
        & (pl.col("_words") <= CLOSING_MAX_WORDS)
        & (pl.col("_from_end") < CLOSING_MAX_LINES)
        & (pl.col("_tail_short") == 1)
    )
    start = pl.when(valediction).then(pl.col("_from_end")).max().over("row")
    # a letter has a body above its closing
    has_body = (body & (pl.col("_from_end") > start)).any().over("row")
    closing = (body & (pl.col("_from_end") <= start) & has_body).fill_null(False)
    # the salutation: the first line of the author's own, of at most OPENING_MAX_WORDS
    # words, ending in a comma ("Hi all,", "Dear Sir,"), above a line of text
    own = body & ~pl.col("quoted") & ~pl.col("attribution")
    first_own = pl.when(own).then(pl.col("_k")).min().over("row")
    opening = (
        own
        & (pl.col("_k") == first_own)
        & (pl.col("_words") <= OPENING_MAX_WORDS)
        & s.str.contains(r"[,，][ \t]*$")
        & (own & (pl.col("_k") > first_own) & (pl.col("_words") > CLOSING_MAX_WORDS))
        .any()
        .over("row")
    ).fill_null(False)
    return t.with_columns(closing=closing, opening=opening).drop(
        "_blank",
        "_k",
        "_mark",
        "_words",
        "_prefix",
        "_qtext",
        "_qp",
        "_has",
        "_from_end",
        "_short",
        "_tail_short",
    )
