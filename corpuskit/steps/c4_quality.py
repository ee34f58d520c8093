"""c4_quality: C4's line filter (Raffel et al. 2020), batch-wide, on a (document, line) table.

Same rules, order and defaults as datatrove 0.10.1's C4QualityFilter (split_paragraph=True):
every line is stripped and dropped when it holds a word longer than `max_word_length`, does not
end in terminal punctuation (or ends in "..."), has fewer than `min_words_per_line` words,
mentions javascript or a cookie/terms-of-use policy; wikipedia-style citations are removed
from it. A line with "lorem ipsum" or a curly bracket rejects the whole document, and so do
fewer than `min_num_sentences` sentences in the kept lines (counted like spaCy's sentencizer,
on spaCy's English tokens). Kept documents get the kept lines as their text, joined by "\\n".

Counters: `lines_removed` and `chars_removed` (over kept documents; blank lines are not
counted as removed lines), and one `lines_<cause>` counter per line rule.

Unspaced (Chinese) documents are cut into sentence units (terminal punctuation plus closing
quotes) within each line, because Chinese text is often one line per paragraph or per
document: the rules apply to units (Chinese terminal punctuation 。！？ counts, words are
jieba's, each kept unit is one sentence) and kept units are joined without a separator. Such
documents need `unspaced_min_num_sentences` (2) sentences: flattened Chinese news is often a
headline glued to two to four long sentences, and with C4's 5 the rule rejected 13% of the clean
articles of ../shared/corpora/cnews_subset.

Reasons (datatrove's names): lorem_ipsum, curly_bracket (whichever line comes first),
too_few_sentences. Sentences are counted without spaCy's whitespace tokens (a run of two spaces
or a tab is a token there): that changes the count only where such a run follows a sentence end
and only punctuation follows it on the line.
"""

from __future__ import annotations

from typing import ClassVar

import polars as pl
from pydantic import Field

from corpuskit.steps.base import FilterStep
from corpuskit.steps.quality import (
    ELLIPSIS_END,
    INFORMAL_END,
    LEAD_MIN_WORDS,
    UnspacedConfig,
    continued_lines,
)
from corpuskit.text.chars import (
    NON_WS,
    char_class,
    normalize_line_breaks,
    punctuation,
    py_strip,
    unspaced_mask,
)
from corpuskit.text.paragraphs import (
    INNER_END,
    LENIENT_TAIL,
    QUOTED,
    UNFINISHED_MIN_CHARS,
    Wrapping,
    frame_flags,
    paragraphs,
)
from corpuskit.text.rows import row_sums
from corpuskit.text.segment import segmenter, unit_pattern, whitespace_words
from corpuskit.text.verse import maybe_verse, verse_flags

CITATION = r"\[\d*]|\[edit]|\[citation needed]"
END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
# `lenient_ends`: a paragraph that ends in a colon or semicolon (a lead-in to a quote or a list) or
# in an ellipsis after an earlier sentence end ("... selling \"virtual clothing\"....")
LEAD_IN = r"[:;]$"
LEAD_IN_MIN_WORDS = 5
# ... and the paragraph right under a headline (a news lead truncated by its feed) when it
# has LEAD_MIN_WORDS words
# a paragraph's sentences up to the last end, and an unfinished sentence after it
UNFINISHED = r"(?s)^(.*[.!?][\"')\]]*)\s+\S[^.!?]*$"
# (trimmed in a paragraph of UNFINISHED_MIN_CHARS or more where it is under 60%: a truncated
# lead; a text message's unfinished call to action "Reply END SPTV" stays a reason to drop it)
# closing brackets and quotes at the end of a unit
CLOSERS_AT_END = r"[)\]»”’）】]+$"
LINE_RULES = ("too_long_word", "no_terminal_punct", "too_few_words", "javascript", "policy")


# datatrove 0.10.1's C4QualityFilter's decisions: C4QualityConfig(**DATATROVE) judges
# physical lines as datatrove does (the defaults judge paragraphs and letters, issue 16)
DATATROVE = {
    "rejoin_lines": False,
    "keep_headlines": False,
    "lenient_ends": False,
    "keep_letter_frame": False,
    "keep_verse": False,
}


class C4QualityConfig(UnspacedConfig):
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    min_num_sentences: int = Field(5, ge=-1)  # -1 disables
    # unspaced documents: kept sentence units needed (-1 disables); see the module docstring
    unspaced_min_num_sentences: int = Field(2, ge=-1)
    min_words_per_line: int = Field(3, ge=-1)  # -1 disables
    max_word_length: int = Field(1000, ge=-1)  # -1 disables
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True
    policy_substrings: tuple[str, ...] = POLICY_SUBSTRINGS
    # judge paragraphs: hard-wrapped lines are rejoined first (corpuskit.text.paragraphs);
    # kept documents get the rejoined paragraphs as their text
    rejoin_lines: bool = True
    # a headline (first line without terminal punctuation, followed by body text) is kept; it
    # counts as no sentence
    keep_headlines: bool = True
    # a sentence end may be followed by closing brackets, an emoticon or a parenthetical
    # ("(FTP sites ??)", "what jumpers to move!! :-("); a paragraph of five words or more
    # may end in ":" or ";", one with an earlier sentence end in "..."; a paragraph of 200
    # characters or more whose last sentence is unfinished (under 60% of it) loses only that
    # sentence; a lead of 15 words or more under a headline may be cut off (datatrove drops
    # all of these)
    lenient_ends: bool = True
    # a letter's salutation ("Hi all,") and closing ("Thanks in advance," and the name under
    # it, above the signature) are the author's text: kept without terminal punctuation, and
    # counted as no sentence (corpuskit.text.paragraphs.letter_frame; datatrove drops them)
    keep_letter_frame: bool = True
    # a verse block (a stanza, a speech of a play; corpuskit.text.verse) whose last line ends
    # a sentence keeps its lines, which end where the metre does, and speaker labels above
    # verse are kept as labels (no sentence)
    keep_verse: bool = True


class C4Quality(FilterStep):
    """C4 line filter: keep lines that end in punctuation; drop lorem ipsum, code, few sentences."""

    Config = C4QualityConfig
    columns: ClassVar[dict[str, pl.DataType]] = {
        "c4_sentences": pl.Int64(),
        "c4_lines_removed": pl.Int64(),
    }

    def setup(self) -> None:
        segmenter()  # rules, jieba's dictionary on demand, kernels compiled or loaded

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        """Kept documents lose their removed lines; dropped ones keep their text, for review."""
        c: C4QualityConfig = self.config
        p = punctuation()
        original = batch["text"].fill_null("")
        unspaced = unspaced_mask(batch, c.unspaced_cjk_ratio)
        text, headline = original, None
        if c.rejoin_lines or c.keep_headlines:
            wrapping = Wrapping(keep_headlines=c.keep_headlines)
            para = paragraphs(original, unspaced, wrapping, join=c.rejoin_lines)
            text, headline = para.text, para.headline if c.keep_headlines else None
            if c.rejoin_lines and c.lenient_ends:
                text = continued_lines(text, unspaced, headline)
        norm = pl.DataFrame({"text": text}).select(normalize_line_breaks(pl.col("text")))
        docs = norm.with_columns(
            uns=unspaced,
            hl=pl.repeat(None, len(text), dtype=pl.UInt32) if headline is None else headline,
        ).with_row_index("row")
        lines = (
            docs.select("row", "uns", "hl", s=pl.col("text").str.split("\n"))
            .explode("s")
            .with_row_index("line")
            .with_columns(i=pl.int_range(pl.len(), dtype=pl.UInt32).over("row"))
            .with_columns(
                head=(pl.col("i") == pl.col("hl")).fill_null(False),
                lead=(pl.col("i") == pl.col("hl") + 1).fill_null(False),
                quoted=pl.col("s").str.contains(QUOTED),
            )
            .drop("hl", "i")
        )
        f = (
            frame_flags(lines.select("row", "s"), text=norm["text"])
            if c.keep_letter_frame
            else None
        )
        # the letter's salutation and closing, a play's speaker labels (kept, no sentence);
        # the lines of a verse block that ends a sentence (columns only in batches with one)
        greet, verse = pl.lit(False), pl.lit(False)
        if f is not None:
            lines = lines.with_columns(greet=f["opening"] | f["closing"])
            greet = pl.col("greet")
        if c.keep_verse:
            lines, has_verse = _verse_lines(lines, norm["text"], unspaced)
            if has_verse:
                speaker = pl.col("speaker") if f is None else pl.col("greet") | pl.col("speaker")
                lines = lines.with_columns(greet=speaker).drop("speaker")
                greet, verse = pl.col("greet"), pl.col("verse")
        # unspaced lines are cut into sentence units; a spaced line is one unit
        uns_units = (
            lines.filter(pl.col("uns"))
            .with_columns(s=pl.col("s").str.extract_all(unit_pattern()))
            .explode("s")
            .drop_nulls("s")
        )
        units = pl.concat([lines.filter(~pl.col("uns")), uns_units]).sort(
            "line", maintain_order=True
        )
        # s: the stripped unit the rules read; out: what a kept unit contributes to the text
        units = units.with_columns(
            raw=pl.col("s"),
            out=pl.when("uns").then(pl.col("s")).otherwise(py_strip(pl.col("s"))),
            s=py_strip(pl.col("s")),
        )
        units = self._unit_rules(units, c, p.cjk_terminal, p.cjk_closers, greet, verse)
        # sentences of the kept spaced lines (spaCy sentencizer over spaCy tokens)
        kept = units.filter(pl.col("cause").is_null())
        # a kept headline is no sentence: a headline and a byline are still a stub
        sentences = self._sentences(
            kept.filter(~pl.col("uns") & ~pl.col("head") & ~greet), len(text)
        )
        # per document: first doc-level event in line order, sentences, the kept text
        doc_event = (
            units.filter(pl.col("doc_drop").is_not_null())
            .group_by("row")
            .agg(pl.col("doc_drop").first())
        )
        joined = kept.group_by("line", maintain_order=True).agg(
            pl.col("row").first(), pl.col("uns").first(), s=pl.col("out").str.join("")
        )
        # a spaced line is kept as datatrove keeps it (stripped before citations are removed);
        # an unspaced line is its kept units, stripped
        joined = joined.with_columns(
            s=pl.when("uns").then(py_strip(pl.col("s"))).otherwise(pl.col("s"))
        )
        new_text = joined.group_by("row", maintain_order=True).agg(new=pl.col("s").str.join("\n"))
        counts = row_sums(
            units,
            batch.height,
            **{r: (pl.col("cause") == r).fill_null(False) for r in LINE_RULES},
            removed=pl.col("cause").is_not_null() & pl.col("s").str.contains(NON_WS),
            uns_sent=pl.col("cause").is_null() & pl.col("uns") & ~pl.col("head") & ~greet,
        )
        frame = (
            pl.DataFrame({"row": pl.int_range(batch.height, dtype=pl.UInt32, eager=True)})
            .join(doc_event.cast({"row": pl.UInt32}), on="row", how="left", maintain_order="left")
            .join(new_text.cast({"row": pl.UInt32}), on="row", how="left", maintain_order="left")
            .with_columns(
                counts,
                sent=sentences,
                new=py_strip(pl.col("new").fill_null("")),
            )
            .with_columns(c4_sentences=(pl.col("sent") + pl.col("uns_sent")).cast(pl.Int64))
            .with_columns(_doc_drop=pl.col("doc_drop"), _uns=unspaced)
        )
        keep = self.keeps(frame)
        kept_frame = frame.filter(keep)
        self.count("lines_removed", kept_frame["removed"].sum())
        chars = original.filter(keep).str.len_chars() - kept_frame["new"].str.len_chars()
        self.count("chars_removed", chars.sum())
        for r in LINE_RULES:
            self.count(f"lines_{r}", kept_frame[r].sum())
        return batch.with_columns(
            text=pl.when(keep).then(frame["new"]).otherwise(batch["text"]),
            c4_sentences=frame["c4_sentences"],
            c4_lines_removed=frame["removed"].cast(pl.Int64),
            _doc_drop=frame["_doc_drop"],
            _uns=unspaced,
        )

    def rules(self) -> list[tuple[str, pl.Expr]]:
        c: C4QualityConfig = self.config
        rules: list[tuple[str, pl.Expr]] = [
            ("lorem_ipsum", pl.col("_doc_drop") == "lorem_ipsum"),
            ("curly_bracket", pl.col("_doc_drop") == "curly_bracket"),
        ]
        few = []
        if c.min_num_sentences != -1:
            few.append(~pl.col("_uns") & (pl.col("c4_sentences") < c.min_num_sentences))
        if c.unspaced_min_num_sentences != -1:
            few.append(pl.col("_uns") & (pl.col("c4_sentences") < c.unspaced_min_num_sentences))
        if few:
            rules.append(("too_few_sentences", pl.any_horizontal(few)))
        return rules

    def _unit_rules(
        self,
        units: pl.DataFrame,
        c: C4QualityConfig,
        cjk_terminal: frozenset[str],
        cjk_closers: frozenset[str],
        greet: pl.Expr,
        verse: pl.Expr,
    ) -> pl.DataFrame:
        """Per unit: `cause` (the line rule that drops it, "doc_rule" for a unit that rejects
        its document) and `doc_drop` (lorem_ipsum / curly_bracket), in datatrove's order.
        `greet`: the unit is a letter's salutation or closing or a speaker label (kept, no
        sentence); `verse`: a line of a verse block whose last line ends a sentence (the
        block is the unit that ends, so its lines pass the end and word-count rules)."""
        s = pl.col("s")
        uns = pl.col("uns")
        units = units.with_columns(jieba_words=_jieba_counts(units))
        too_long = pl.repeat(False, units.height, dtype=pl.Boolean, eager=True)
        if c.max_word_length != -1:
            # only units longer than the limit can hold a word longer than it
            idx = (units["s"].str.len_chars() > c.max_word_length).arg_true()
            if idx.len():
                long = units[idx]
                longest = long.select(
                    pl.when(uns)
                    .then(_jieba_longest(long, c.max_word_length))
                    .otherwise(
                        s.str.extract_all(NON_WS + "+")
                        .list.eval(pl.element().str.len_chars())
                        .list.max()
                    )
                ).to_series()
                too_long = too_long.scatter(idx, (longest > c.max_word_length).fill_null(False))
        # words and word lengths are taken before citations are removed, as datatrove does
        units = units.with_columns(
            words=pl.when(uns).then(pl.col("jieba_words")).otherwise(whitespace_words(units["s"])),
            too_long=too_long,
        )
        if c.remove_citations:
            # every citation starts with "[": only units holding one pay for the regex
            idx = (
                units.select(
                    s.str.contains("[", literal=True)
                    | pl.col("out").str.contains("[", literal=True)
                )
                .to_series()
                .arg_true()
            )
            if idx.len():
                sub = units[idx].select(
                    s=s.str.replace_all(CITATION, ""),
                    out=pl.col("out").str.replace_all(CITATION, ""),
                )
                units = units.with_columns(
                    s=units["s"].scatter(idx, sub["s"]), out=units["out"].scatter(idx, sub["out"])
                )
        e = s
        lenient = pl.lit(False)
        if c.lenient_ends:
            units, lenient = _lenient_ends(units)
            e = pl.col("_e")
        ascii_end = e.str.contains(char_class(END_PUNCTUATION) + "$") & ~e.str.ends_with("...")
        closers = char_class(cjk_closers) + "*"
        cjk_end = e.str.contains(
            f"(?:{char_class(END_PUNCTUATION)}|{char_class(cjk_terminal)}{closers})$"
        ) & ~e.str.contains(rf"(?:\.\.\.|…){closers}$")
        if c.lenient_ends:
            # informal Chinese: the last unit of a line of the author's own (not quoted) may
            # end in a particle, an emoticon or a trailing ellipsis ("他却可以说个不停......"),
            # or as a list item in "；", when it has five words or more ("去旅行吧" and
            # "推出新产品：" are no sentences)
            last = (pl.col("line") != pl.col("line").shift(-1)).fill_null(True)
            informal = (
                last
                & ~pl.col("quoted")
                & (pl.col("words") >= LEAD_IN_MIN_WORDS)
                & e.str.contains(f"{INFORMAL_END}|；$|{ELLIPSIS_END}")
            )
            cjk_end = cjk_end | informal
        # when/then evaluates both branches: a batch without unspaced units skips the CJK one
        ends = pl.when(uns).then(cjk_end).otherwise(ascii_end) if units["uns"].any() else ascii_end
        terminal = ends | pl.col("head") | greet | lenient | verse
        found = _keywords(units["s"], c)
        cause = pl.when(pl.col("too_long")).then(pl.lit("too_long_word"))
        if c.filter_no_terminal_punct:
            cause = cause.when(~terminal).then(pl.lit("no_terminal_punct"))
        short = (pl.col("words") < c.min_words_per_line) & ~pl.col("head") & ~greet & ~verse
        cause = cause.when(short).then(pl.lit("too_few_words"))
        if c.filter_lorem_ipsum:
            cause = cause.when(found["lorem_ipsum"]).then(pl.lit("lorem_ipsum"))
        if c.filter_javascript:
            cause = cause.when(found["javascript"]).then(pl.lit("javascript"))
        if c.filter_curly_bracket:
            cause = cause.when(s.str.contains("{", literal=True)).then(pl.lit("curly_bracket"))
        if c.filter_policy and c.policy_substrings:
            cause = cause.when(found["policy"]).then(pl.lit("policy"))
        units = units.with_columns(cause=cause.otherwise(pl.lit(None, pl.String)))
        doc_rule = pl.col("cause").is_in(["lorem_ipsum", "curly_bracket"])
        return units.with_columns(
            doc_drop=pl.when(doc_rule).then("cause"),
            cause=pl.when(doc_rule).then(pl.lit("doc_rule")).otherwise("cause"),
        )

    def _sentences(self, kept: pl.DataFrame, height: int) -> pl.Series:
        """spaCy-sentencizer sentence count of the kept spaced lines, per document: one per
        line and one per sentence boundary in it. A spaced line's words depend only on its
        own text: the kept lines (stripped, their citations removed) are segmented as they are."""
        if kept.height == 0:
            return pl.Series([0] * height, dtype=pl.Int64)
        bounds = segmenter().sentence_boundaries(kept["s"])
        counts = row_sums(kept.select("row", b=bounds), height, n=pl.lit(1), b="b")
        return counts["n"] + counts["b"]


# Characters whose lowercase (str.lower) holds an ASCII letter: "İ" -> "i̇", KELVIN SIGN -> "k".
_LOWERS_TO_ASCII = "[\u0130\u212a]"


def _keywords(s: pl.Series, c: C4QualityConfig) -> dict[str, pl.Series]:
    """Per unit: whether its lowercase holds "lorem ipsum", "javascript", a policy substring.

    Only the units that may hold one are lowercased: those with an ASCII-case-insensitive
    match of any (one Aho-Corasick pass) or a character whose lowercase is ASCII."""
    words = {"lorem_ipsum": ["lorem ipsum"], "javascript": ["javascript"]}
    words["policy"] = list(c.policy_substrings)
    out = {k: pl.repeat(False, len(s), dtype=pl.Boolean, eager=True) for k in words}
    every = [w for group in words.values() for w in group]
    if not every or not len(s):
        return out
    maybe = s.str.contains_any(every, ascii_case_insensitive=True) | s.str.contains(
        _LOWERS_TO_ASCII
    )
    idx = maybe.arg_true()
    if idx.len():
        lower = s.gather(idx).str.to_lowercase()
        for key, group in words.items():
            if group:
                hit = pl.select(
                    pl.any_horizontal([pl.lit(lower).str.contains(w, literal=True) for w in group])
                ).to_series()
                out[key] = out[key].scatter(idx, hit)
    return out


def _jieba_counts(units: pl.DataFrame) -> pl.Series:
    """jieba words (whitespace tokens left out) of each unspaced unit; null for spaced ones.
    The raw unit is segmented: the segmenter has it memoized from the document."""
    seg = segmenter()
    idx = units["uns"].arg_true()
    values = [len(seg.cut_words([raw])[0]) for raw in units["raw"].gather(idx).to_list()]
    return _scatter("jieba_words", units.height, idx, values)


def _jieba_longest(units: pl.DataFrame, limit: int) -> pl.Series:
    """The longest jieba word of each unspaced unit longer than `limit`; null elsewhere."""
    seg = segmenter()
    idx = (units["uns"] & (units["raw"].str.len_chars() > limit)).arg_true()
    values = [
        max((len(w) for w in seg.cut_words([raw])[0]), default=0)
        for raw in units["raw"].gather(idx).to_list()
    ]
    return _scatter("jieba_longest", units.height, idx, values)


def _scatter(name: str, height: int, idx: pl.Series, values: list[int]) -> pl.Series:
    out = pl.repeat(None, height, dtype=pl.Int64, eager=True).alias(name)
    if idx.len():
        out = out.scatter(idx, pl.Series(values, dtype=pl.Int64))
    return out


def _verse_lines(
    lines: pl.DataFrame, text: pl.Series, unspaced: pl.Series
) -> tuple[pl.DataFrame, bool]:
    """`lines` with `verse` (a line of a verse block whose last line ends a sentence) and
    `speaker` (a speaker label in a document with verse), and whether any line has either.
    Only the documents that may hold verse (corpuskit.text.verse.maybe_verse) are read."""
    cand = maybe_verse(text, unspaced)
    if not cand.any():
        return lines, False
    sub = lines.filter(pl.col("row").is_in(cand.arg_true().cast(pl.UInt32).implode()))
    got = verse_flags(sub.select("row", "line", "s"), col="s")
    got = got.filter(pl.col("verse_closed") | pl.col("speaker"))
    if not got.height:
        return lines, False
    idx = got["line"]

    def spread(col: str) -> pl.Series:  # Series.scatter writes in place: a new one each
        return pl.repeat(False, lines.height, dtype=pl.Boolean, eager=True).scatter(idx, got[col])

    return lines.with_columns(verse=spread("verse_closed"), speaker=spread("speaker")), True


def _lenient_ends(units: pl.DataFrame) -> tuple[pl.DataFrame, pl.Expr]:
    """`lenient_ends` on the spaced units that do not end in C4's punctuation (most prose
    units do; only the others pay for these regexes). Adds `_e` (the unit without a closing
    tail, for the terminal check) and trims an unfinished last sentence of long paragraphs;
    returns the units and the expression of the units the lenient rules accept."""
    s = pl.col("s")
    plain = s.str.slice(-1).is_in(list(END_PUNCTUATION)) & ~s.str.ends_with("...")
    idx = units.select(~pl.col("uns") & ~plain).to_series().arg_true()
    units = units.with_columns(_e=s, _lenient=pl.lit(False))
    if idx.len() == 0:
        return units, pl.col("_lenient")
    sub = units[idx]
    # a sentence end inside the closing brackets ("... sloped down (for visibility?)"), else
    # before the closing tail
    in_brackets = s.str.replace(CLOSERS_AT_END, "")
    ends_at = char_class(END_PUNCTUATION) + "$"
    e = (
        pl.when(in_brackets.str.contains(ends_at))
        .then(in_brackets)
        .otherwise(s.str.replace(LENIENT_TAIL, ""))
    )
    sub = sub.with_columns(_e=e)
    # a paragraph whose last sentence is unfinished (a truncated lead) loses only it; the
    # capturing regex runs only on the long units that end no sentence and have one before
    at = (
        sub.select(
            ~pl.col("_e").str.contains(ends_at)
            & (s.str.len_chars() >= UNFINISHED_MIN_CHARS)
            & s.str.contains(UNFINISHED)
        )
        .to_series()
        .arg_true()
    )
    if at.len():
        trimmed = s.str.replace(UNFINISHED, "$1")
        cut = trimmed.str.len_chars() >= 0.4 * s.str.len_chars()
        out = pl.col("out")
        long = (
            sub[at]
            .with_columns(
                s=pl.when(cut).then(trimmed).otherwise(s),
                out=pl.when(cut).then(out.str.replace(UNFINISHED, "$1")).otherwise(out),
            )
            .with_columns(_e=e)  # from the trimmed unit
        )
        sub = sub.with_columns(**{k: sub[k].scatter(at, long[k]) for k in ("s", "out", "_e")})
    e = pl.col("_e")  # computed once (from the trimmed unit, as the expression would be)
    lead_in = e.str.contains(LEAD_IN) & (pl.col("words") >= LEAD_IN_MIN_WORDS)
    # a sentence trailing off after an earlier sentence end or a clause ("No problem, no
    # offence taken ...", "... important to me, mainly for financial reasons...")
    trailing = (
        e.str.contains(r"(?:\.\.\.|…)$")
        & (e.str.contains(INNER_END) | e.str.contains(r",\s+\S"))
        & (pl.col("words") >= LEAD_IN_MIN_WORDS)
    )
    # the lead under a headline, cut off mid-sentence by the feed ("... it could")
    cut_lead = pl.col("lead") & (pl.col("words") >= LEAD_MIN_WORDS)
    sub = sub.with_columns(_lenient=lead_in | trailing | cut_lead)
    units = units.with_columns(
        **{k: units[k].scatter(idx, sub[k]) for k in ("s", "out", "_e", "_lenient")}
    )
    return units, pl.col("_lenient")
