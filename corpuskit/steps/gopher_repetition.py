"""gopher_repetition: the Gopher (Rae et al. 2021) repetition heuristics, batch-wide.

The rules and order of datatrove 0.10.1's GopherRepetitionFilter (`DATATROVE` is the config
that gives its decisions exactly), over the same word table as gopher_quality (spaCy's
English tokens, jieba's for unspaced scripts; n-gram character lengths of unspaced text
without the joining spaces). Reasons, datatrove's names: empty, dup_para_frac,
dup_para_char_frac, dup_line_frac, dup_line_char_frac, top_{n}_gram, duplicated_{n}_n_grams;
and no_text_lines, a text with no line left to judge once symbol-only lines and speaker
labels are set aside ("!!!!" x 10,000: datatrove's mode counts those lines and says
dup_line_frac).

Where datatrove's rules reject edited text a curator keeps (issue 16's gold set), the
defaults differ: the n-gram rules only judge documents of `min_ngram_words` or more; a run
of one punctuation mark is one token (`collapse_symbol_runs`: spaCy and jieba make each "!"
of "!!!!" a token, so a post ending in 37 of them had "! !" as its top 2-gram); runs of one
symbol (rules, ASCII art) are not words and symbol-only lines not lines; Chinese n-grams are
`unspaced_ngram_scale` times longer; a body given twice keeps one copy.

Its `gopher_dup_ngram_frac` column is exact where it decides a document and otherwise an
upper bound (the characters covered by repeated n-grams), see _NGrams. The n-gram
statistics come from a numba kernel (`gopher_repetition_kernels.py`) where numba imports;
`_NGrams`, the Polars path, is the reference it is tested against (same values) and the
fallback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import polars as pl
from pydantic import Field

from corpuskit import jit
from corpuskit.steps.base import FilterStep, StepConfig
from corpuskit.steps.quality import UnspacedConfig, rule_on
from corpuskit.text.chars import py_strip, unspaced_mask
from corpuskit.text.rows import duplicate_stats, per_row, row_sums
from corpuskit.text.segment import NONSYM, segmenter, word_hashes
from corpuskit.text.verse import SPEAKER_LABEL

# mixes a document's row into a 64-bit n-gram hash, so one is_first_distinct covers the batch
_ROW_MIX = 0x9E3779B97F4A7C15
_GRAM_MUL = 0x100000001B3


# Rules and ASCII art (`=====`, `-----`, `~~~~`, `>>>`) are runs of one symbol: not words.
# spaCy cuts some into one-character tokens, so a signature rule made "= =" the top 2-gram.
RULE_CHARS = "=-_*~#+<>|/\\^."
RULE_TOKENS = tuple(ch * k for ch in RULE_CHARS for k in range(1, 81) if ch * k != ".")


# datatrove 0.10.1's GopherRepetitionFilter exactly: GopherRepetitionConfig(**DATATROVE)
DATATROVE = {
    "min_ngram_words": 0,
    "skip_rule_tokens": False,
    "collapse_symbol_runs": False,
    "skip_symbol_lines": False,
    "skip_speaker_labels": False,
    "unspaced_ngram_scale": 1,
    "collapse_doubled_body": False,
}


class GopherRepetitionConfig(UnspacedConfig):
    dup_line_frac: float | None = Field(0.3, ge=0)
    dup_para_frac: float | None = Field(0.3, ge=0)
    dup_line_char_frac: float | None = Field(0.2, ge=0)
    dup_para_char_frac: float | None = Field(0.2, ge=0)
    top_n_grams: tuple[tuple[int, float], ...] = ((2, 0.2), (3, 0.18), (4, 0.16))
    dup_n_grams: tuple[tuple[int, float], ...] = (
        (5, 0.15),
        (6, 0.14),
        (7, 0.13),
        (8, 0.12),
        (9, 0.11),
        (10, 0.10),
    )
    # n-gram rules only for documents of at least this many non-symbol words: the n-gram
    # fractions of a one-paragraph brief say little (datatrove: 0, every document)
    min_ngram_words: int = Field(100, ge=0)
    # lines without a letter or digit (a bare ":" or ">" of a quoted reply, rules) are not
    # counted as (duplicate) lines
    skip_symbol_lines: bool = True
    # nor are a play's or a transcript's speaker labels ("ANGELO:", "Q:"), which repeat in
    # every scene (ho-shakespeare-l31031 in the held-out gold: 0.34 > 0.3)
    skip_speaker_labels: bool = True
    # a head and a body given twice (a scraping fault: P + B + B) keeps one copy of the body
    # (cnews-l0156 and others in the gold set); the n-gram rules would reject it
    collapse_doubled_body: bool = True
    # leave runs of one symbol character (rules, ASCII art, quote markers) out of n-grams
    skip_rule_tokens: bool = True
    # a run of one symbol token ("!" x 37, "…" "…", "。。。") counts as one token: spaCy and
    # jieba cut "!!!!" into one-mark tokens, so a forum post ending in 37 "!" had "! !" as
    # its top 2-gram (ho-trec-ham-854: 0.48 > 0.2), where Gopher's whitespace-split words
    # held the run in one word. Single marks stay in the n-grams: leaving all punctuation
    # out let URL- and CSS-repeating spam through (trec06c: 30 more spam mails kept)
    collapse_symbol_runs: bool = True
    # unspaced documents: n-grams of n x this many jieba words (a Chinese word is 1.5
    # characters, an English one 4.5: 5 jieba words repeat in clean news; datatrove: 1)
    unspaced_ngram_scale: int = Field(2, ge=1)


class GopherRepetition(FilterStep):
    """Gopher repetition rules: duplicate lines and paragraphs, top and duplicated word n-grams."""

    Config = GopherRepetitionConfig
    columns: ClassVar[dict[str, pl.DataType]] = {
        "gopher_dup_para_frac": pl.Float64(),
        "gopher_dup_para_char_frac": pl.Float64(),
        "gopher_dup_line_frac": pl.Float64(),
        "gopher_dup_line_char_frac": pl.Float64(),
        # the largest top-n-gram / duplicated-n-gram character fraction over the configured n
        "gopher_top_ngram_frac": pl.Float64(),
        "gopher_dup_ngram_frac": pl.Float64(),
    }

    def __init__(self, config: StepConfig | None = None, name: str | None = None) -> None:
        super().__init__(config, name)
        # the numba n-gram kernel where numba imports; False: the Polars reference path
        self._kernel = True

    def setup(self) -> None:
        # kernels compiled or loaded from numba's cache here, not inside the first batch
        segmenter()
        self._kernel = self._kernel and ngram_kernel() is not None

    def validate(self) -> None:
        c: GopherRepetitionConfig = self.config
        for key in ("top_n_grams", "dup_n_grams"):
            for n, _frac in getattr(c, key):
                if n < 1:
                    raise ValueError(f"{key}: n-gram sizes must be >= 1, got {n}")

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        """The duplicate line and paragraph fractions first; the n-gram statistics (scratch
        columns `_top_{n}`, `_dup_{n}`) only for the documents those rules keep."""
        c: GopherRepetitionConfig = self.config
        if c.collapse_doubled_body:
            batch = self._collapse_doubled(batch)
        text = batch["text"].fill_null("")
        length = text.str.len_chars().cast(pl.Float64)
        para, line = _paragraph_line_stats(text, c.skip_symbol_lines, c.skip_speaker_labels)
        frame = pl.DataFrame(
            {
                "gopher_dup_para_frac": para["dup"] / para["n"],
                "gopher_dup_para_char_frac": para["dup_chars"] / length,
                # null where no line is left to count (see no_text_lines), not 0/0 = NaN,
                # which Polars orders above every threshold
                "gopher_dup_line_frac": (line["dup"] / line["n"]).fill_nan(None),
                "gopher_dup_line_char_frac": line["dup_chars"] / length,
                "_length": length,
                "_lines": line["n"],
            }
        )
        undecided = frame.select(
            ~pl.any_horizontal([r.fill_null(False) for _, r in self._line_rules()])
        ).to_series()
        unspaced = unspaced_mask(batch, c.unspaced_cjk_ratio)
        tokens = segmenter().tokens(batch["text"], unspaced)
        words = row_sums(tokens, batch.height, n=(pl.col("flags") & NONSYM) > 0)["n"]
        undecided = undecided & (words >= c.min_ngram_words)
        if c.collapse_symbol_runs:
            tokens = tokens.filter(~_repeated_symbol())
        if c.skip_rule_tokens:
            # one-character runs spaCy cut a rule into, and tokens of 4+ symbols only
            # (`^~^~^~`, `-=-=-`, `....`)
            art = ((pl.col("flags") & NONSYM) == 0) & (pl.col("len") >= 4)
            tokens = tokens.filter(~pl.col("h").is_in(_rule_hashes().implode()) & ~art)
        fracs = self._fracs(tokens, unspaced, length, undecided)
        tops = [fracs[f"top_{n}"] for n, _ in c.top_n_grams]
        dups = [fracs[f"dup_{n}"] for n, _ in c.dup_n_grams]
        return batch.with_columns(
            *frame.get_columns()[:4],
            gopher_top_ngram_frac=pl.max_horizontal(tops) if tops else pl.lit(None, pl.Float64),
            gopher_dup_ngram_frac=pl.max_horizontal(dups) if dups else pl.lit(None, pl.Float64),
            _length=length,
            _lines=frame["_lines"],
            **{f"_{name}": values for name, values in fracs.items()},
        )

    def _collapse_doubled(self, batch: pl.DataFrame) -> pl.DataFrame:
        """A text made of a head and a body given twice (P + B + B, B at least 30% of the
        text) keeps one copy of the body, counted `doubled_bodies`. Candidates (a 30-character
        probe three quarters in occurs twice) are found batch-wide; each is then checked."""
        f = pl.DataFrame({"t": batch["text"].fill_null("")}).with_columns(
            n=pl.col("t").str.len_chars()
        )
        probe = pl.col("t").str.slice(pl.col("n") * 3 // 4, 30)
        cand = f.select(
            (pl.col("n") >= 200) & (pl.col("t").str.count_matches(probe, literal=True) >= 2)
        ).to_series()
        idx, new = [], []
        for i in cand.fill_null(False).arg_true().to_list():
            kept = _one_copy(f["t"][i])
            if kept is not None:
                idx.append(i)
                new.append(kept)
        self.count("doubled_bodies", len(idx))
        if not idx:
            return batch
        text = batch["text"].clone()
        text.scatter(idx, pl.Series(new, dtype=pl.String))
        return batch.with_columns(text)

    def _fracs(
        self, tokens: pl.DataFrame, unspaced: pl.Series, length: pl.Series, undecided: pl.Series
    ) -> dict[str, pl.Series]:
        """The n-gram statistics, unspaced documents with n-grams `unspaced_ngram_scale` times
        longer (named by the configured n)."""
        c: GopherRepetitionConfig = self.config
        scale = c.unspaced_ngram_scale
        uns = unspaced.fill_null(False)
        if scale == 1 or not (undecided & uns).any():
            return ngram_fracs(
                tokens, unspaced, length, undecided, c.top_n_grams, c.dup_n_grams, self._kernel
            )
        spaced = ngram_fracs(
            tokens, unspaced, length, undecided & ~uns, c.top_n_grams, c.dup_n_grams, self._kernel
        )
        tops = [(n * scale, f) for n, f in c.top_n_grams]
        dups = [(n * scale, f) for n, f in c.dup_n_grams]
        wide = ngram_fracs(tokens, unspaced, length, undecided & uns, tops, dups, self._kernel)
        out = {}
        for kind, sizes in (("top", c.top_n_grams), ("dup", c.dup_n_grams)):
            for n, _ in sizes:
                name = f"{kind}_{n}"
                out[name] = (
                    pl.select(
                        pl.when(pl.lit(uns))
                        .then(pl.lit(wide[f"{kind}_{n * scale}"]))
                        .otherwise(pl.lit(spaced[name]))
                    )
                    .to_series()
                    .alias(name)
                )
        return out

    def _line_rules(self) -> list[tuple[str, pl.Expr]]:
        """The rules decided before any n-gram is counted."""
        c: GopherRepetitionConfig = self.config
        rules: list[tuple[str, pl.Expr]] = [
            ("empty", pl.col("_length") == 0),
            # a text whose every line is symbols (`skip_symbol_lines`) or a speaker label
            ("no_text_lines", (pl.col("_lines") == 0) & (pl.col("_length") > 0)),
        ]
        for key, column in (
            ("dup_para_frac", "gopher_dup_para_frac"),
            ("dup_para_char_frac", "gopher_dup_para_char_frac"),
            ("dup_line_frac", "gopher_dup_line_frac"),
            ("dup_line_char_frac", "gopher_dup_line_char_frac"),
        ):
            if rule_on(getattr(c, key)):
                rules.append((key, pl.col(column) > getattr(c, key)))
        return rules

    def rules(self) -> list[tuple[str, pl.Expr]]:
        c: GopherRepetitionConfig = self.config
        rules = self._line_rules()
        for n, frac in c.top_n_grams:
            rules.append((f"top_{n}_gram", pl.col(f"_top_{n}") > frac))
        for n, frac in c.dup_n_grams:
            rules.append((f"duplicated_{n}_n_grams", pl.col(f"_dup_{n}") > frac))
        return rules


def _repeated_symbol() -> pl.Expr:
    """A symbol token (no character outside datatrove's punctuation set) that repeats the
    token before it in its document: the second and later marks of a run such as "!!!!"."""
    same = (pl.col("h") == pl.col("h").shift(1)) & (pl.col("row") == pl.col("row").shift(1))
    return ((pl.col("flags") & NONSYM) == 0) & same.fill_null(False)


def _one_copy(text: str) -> str | None:
    """`text` without the second copy of its body, or None when it is not P + B + B."""
    n = len(text)
    at = 3 * n // 4
    first = text.find(text[at : at + 30])
    body = at - first
    if first < 0 or body < 0.3 * n or text[n - body :] != text[n - 2 * body : n - body]:
        return None
    return text[: n - body]


@functools.cache
def _rule_hashes() -> pl.Series:
    return word_hashes(RULE_TOKENS)


@functools.cache
def ngram_kernel() -> Callable[..., Any] | None:
    """The numba n-gram kernel (`gopher_repetition_kernels`), or None (`corpuskit.jit`)."""
    module = jit.kernels("corpuskit.steps.gopher_repetition_kernels")
    return None if module is None else module.ngram_stats


def ngram_fracs(
    tokens: pl.DataFrame,
    unspaced: pl.Series,
    length: pl.Series,
    undecided: pl.Series,
    top_n_grams: Sequence[tuple[int, float]],
    dup_n_grams: Sequence[tuple[int, float]],
    kernel: bool = True,
) -> dict[str, pl.Series]:
    """`top_{n}` and `dup_{n}` character fractions per document (null where `undecided` is
    false), from the numba kernel when `kernel` and numba imports, else from `_NGrams`."""
    height = len(length)
    stats = ngram_kernel() if kernel else None
    if stats is None:
        ngram = _NGrams.build(tokens, height, unspaced, length, undecided)
        ngram.dup_fracs = [frac for n, frac in dup_n_grams if n > 5]
        out = {f"top_{n}": ngram.top(n) for n, _ in top_n_grams}
        out.update({f"dup_{n}": ngram.duplicated(n, frac) for n, frac in dup_n_grams})
        return out
    rows = tokens["row"].to_numpy()
    offsets = np.zeros(height + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=height), out=offsets[1:])
    top = np.full((height, len(top_n_grams)), np.nan)
    dup = np.full((height, len(dup_n_grams)), np.nan)
    stats(
        np.array(tokens["h"].to_numpy(), dtype=np.uint64),
        np.array(tokens["len"].to_numpy(), dtype=np.int64),
        offsets,
        np.arange(height, dtype=np.int64),
        1 - np.array(unspaced.fill_null(False).to_numpy(), dtype=np.int64),
        np.array(length.to_numpy(), dtype=np.float64),
        np.array(undecided.fill_null(False).to_numpy(), dtype=np.bool_),
        np.array([n for n, _ in top_n_grams], dtype=np.int64),
        np.array([n for n, _ in dup_n_grams], dtype=np.int64),
        np.array([frac for _, frac in dup_n_grams], dtype=np.float64),
        top,
        dup,
    )
    names = [f"top_{n}" for n, _ in top_n_grams] + [f"dup_{n}" for n, _ in dup_n_grams]
    if not names:
        return {}
    got = pl.from_numpy(np.hstack([top, dup])).fill_nan(None)
    # a size configured twice keeps its last column, as the reference's dict does
    return {name: got.to_series(k).alias(name) for k, name in enumerate(names)}


def _paragraph_line_stats(
    text: pl.Series, skip_symbol_lines: bool = False, skip_speaker_labels: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """datatrove's paragraph (text.strip() split at 2+ newlines) and line (split at newline
    runs, keeping the empty first/last piece of a text that starts/ends with one) duplicates;
    `skip_symbol_lines`: lines without a letter or digit (quote markers alone, rules) are
    left out of the line statistics; `skip_speaker_labels`: so are speaker labels, and the
    paragraphs that are nothing but one (a speech the source dropped)."""
    height = len(text)
    docs = pl.DataFrame({"text": text}).with_row_index("row")
    paras = docs.select(
        "row", s=py_strip(pl.col("text")).str.extract_all(r"[^\n]+(?:\n[^\n]+)*")
    ).explode("s")
    paras = paras.drop_nulls("s")
    if skip_speaker_labels:
        paras = paras.filter(~pl.col("s").str.contains(SPEAKER_LABEL))
    p = row_sums(duplicate_stats(paras, ""), height, n=pl.lit(1), dup="dup", dup_chars="dup_chars")
    # a text without paragraphs still has one: ""
    p = p.with_columns(n=pl.max_horizontal(pl.col("n"), pl.lit(1)))
    # the non-empty pieces between newlines (re.split(r"\n+") less the empty ends, added below)
    lines = docs.select("row", s=pl.col("text").str.split("\n")).explode("s")
    lines = lines.filter(pl.col("s") != "")
    if skip_symbol_lines:
        lines = lines.filter(pl.col("s").str.contains(r"[\p{L}\p{N}]"))
    if skip_speaker_labels:
        lines = lines.filter(~pl.col("s").str.contains(SPEAKER_LABEL))
    ln = row_sums(duplicate_stats(lines, ""), height, n=pl.lit(1), dup="dup", dup_chars="dup_chars")
    starts = text.str.starts_with("\n").cast(pl.UInt32)
    ends = text.str.ends_with("\n").cast(pl.UInt32)
    ln = ln.with_columns(
        n=pl.col("n") + starts + ends + (text == "").cast(pl.UInt32),
        dup=pl.col("dup") + (starts & ends),
    )
    return p, ln


class _NGrams:
    """Word n-gram statistics of a token table, exact for every document it decides.

    top(n): datatrove's find_top_duplicate (count x length of the most frequent n-gram, ties to
    the first seen) over the text length, from a group_by over the repeated n-grams only (a
    document without one has its first n-gram on top, once).
    duplicated(n): datatrove's find_all_duplicate, a greedy left-to-right scan that skips n
    words after each repeated n-gram. Its upper bound is the characters covered by repeated
    n-grams, and repeated 5-grams cover every repeated longer n-gram, so one Polars pass settles
    almost every document; those over the threshold by the bound get the exact scan (Python,
    over their n-gram hashes).
    """

    def __init__(
        self, t: pl.DataFrame, height: int, length: pl.Series, undecided: pl.Series
    ) -> None:
        self.t = t  # row, h (row mixed in), len, pos, left, sep; in document order
        self.height = height
        self.length = length
        self.undecided = undecided
        self.lengths = pl.DataFrame(
            {"row": pl.int_range(height, dtype=pl.UInt32, eager=True), "L": length}
        )
        self._raw: dict[int, tuple[pl.Series, pl.Series]] = {}
        self._cover: dict[int, pl.DataFrame] = {}
        self._subsets: dict[tuple[int, ...], _NGrams] = {}
        self.dup_fracs: list[float] = []

    @classmethod
    def build(
        cls,
        tokens: pl.DataFrame,
        height: int,
        unspaced: pl.Series,
        length: pl.Series,
        undecided: pl.Series,
    ) -> _NGrams:
        t = tokens.filter(undecided.gather(tokens["row"])) if tokens.height else tokens
        t = t.select("row", "h", "len")
        # position of each word in its document, and words from it to the document's end
        counts = per_row(t, height, pl.len().alias("n")).fill_null(0)["n"].cast(pl.UInt32)
        offsets = counts.cum_sum() - counts
        pos = pl.int_range(t.height, dtype=pl.UInt32, eager=True) - offsets.gather(t["row"])
        t = t.with_columns(
            h=pl.col("h") + pl.col("row").cast(pl.UInt64) * _ROW_MIX,
            len=pl.col("len").cast(pl.Int64),
            pos=pos,
            left=counts.gather(t["row"]) - pos,
            sep=1 - unspaced.gather(t["row"]).cast(pl.Int64),
        )
        return cls(t, height, length, undecided)

    def subset(self, rows: pl.Series) -> _NGrams:
        """The same statistics for some documents only (their words stay in order)."""
        key = tuple(rows.sort().to_list())
        if key not in self._subsets:
            t = self.t.filter(pl.col("row").is_in(rows.implode()))
            self._subsets[key] = _NGrams(t, self.height, self.length, self.undecided)
        return self._subsets[key]

    def _gram(self, n: int) -> tuple[pl.Series, pl.Series]:
        """n-gram hash (row mixed in) and characters without separators, at every position
        (meaningful where `left >= n`)."""
        if n not in self._raw:
            if n == 1:
                self._raw[1] = (self.t["h"], self.t["len"])
            else:
                g, w = self._gram(n - 1)
                h = self.t["h"].shift(-(n - 1)).fill_null(0)
                ln = self.t["len"].shift(-(n - 1)).fill_null(0)
                self._raw[n] = (g * _GRAM_MUL + h, w + ln)
        return self._raw[n]

    def top(self, n: int) -> pl.Series:
        if self.t.height == 0:
            return self._full(pl.DataFrame(schema={"row": pl.UInt32, "v": pl.Float64}))
        g, w = self._gram(n)
        f = pl.DataFrame(
            {"row": self.t["row"], "pos": self.t["pos"], "g": g, "sl": w + (n - 1) * self.t["sep"]}
        ).filter(self.t["left"] >= n)
        repeated = (
            f.filter(pl.col("g").is_duplicated())
            .group_by("g")
            .agg(
                pl.col("row").first(),
                pl.col("pos").first(),
                pl.col("sl").first(),
                cnt=pl.len(),
            )
            .with_columns(key=pl.col("cnt").cast(pl.Int64) * (1 << 32) - pl.col("pos"))
            .group_by("row")
            .agg(top=(pl.col("sl") * pl.col("cnt")).get(pl.col("key").arg_max()))
        )
        single = (
            f.filter(pl.col("pos") == 0)
            .select("row", top="sl")
            .join(repeated.select("row"), on="row", how="anti")
        )
        both = pl.concat([repeated.cast({"top": pl.Int64}), single.cast({"top": pl.Int64})])
        v = both.join(self.lengths, on="row").select("row", v=pl.col("top") / pl.col("L"))
        return self._full(v)

    def covered(self, n: int) -> pl.DataFrame:
        """Per document: characters covered by repeated n-grams over the text length, an
        upper bound of datatrove's duplicated n-gram fraction for this n and every larger one."""
        if n not in self._cover:
            g, _ = self._gram(n)
            valid = self.t["left"] >= n
            dup = (~g.is_first_distinct()) & valid
            cover = dup.cast(pl.UInt8).rolling_max(window_size=n, min_samples=1) > 0
            got = (
                self.t.select("row", c=pl.when(cover).then(pl.col("len")).otherwise(0))
                .group_by("row")
                .agg(pl.col("c").sum())
            )
            self._cover[n] = got.join(self.lengths, on="row").select(
                "row", v=pl.col("c") / pl.col("L")
            )
        return self._cover[n]

    def duplicated(self, n: int, frac: float) -> pl.Series:
        if self.t.height == 0:
            return self._full(pl.DataFrame(schema={"row": pl.UInt32, "v": pl.Float64}))
        base = self.covered(min(n, 5))
        settled = base.filter(pl.col("v") <= frac)
        open_rows = base.filter(pl.col("v") > frac)["row"]
        if n > 5 and open_rows.len():
            # one subset for every n > 5: the documents over the lowest threshold by the bound
            lowest = min(self.dup_fracs) if self.dup_fracs else frac
            candidates = base.filter(pl.col("v") > lowest)["row"]
            cover_n = (
                self.subset(candidates).covered(n).filter(pl.col("row").is_in(open_rows.implode()))
            )
            settled = pl.concat([settled, cover_n.filter(pl.col("v") <= frac)])
            open_rows = cover_n.filter(pl.col("v") > frac)["row"]
        exact = self._greedy(n, open_rows)
        return self._full(pl.concat([settled.select("row", "v"), exact]))

    def _greedy(self, n: int, rows: pl.Series) -> pl.DataFrame:
        """datatrove's find_all_duplicate, exactly, for a few documents."""
        if rows.len() == 0:
            return pl.DataFrame(schema={"row": pl.UInt32, "v": pl.Float64})
        sub = self.subset(rows)
        g, w = sub._gram(n)
        f = pl.DataFrame({"row": sub.t["row"], "g": g, "w": w}).filter(sub.t["left"] >= n)
        out_rows: list[int] = []
        values: list[float] = []
        for (row,), part in f.group_by(["row"], maintain_order=True):
            grams = part["g"].to_list()
            wlen = part["w"].to_list()
            seen: set[int] = set()
            idx, repeated = 0, 0
            while idx < len(grams):
                if grams[idx] in seen:
                    repeated += wlen[idx]
                    idx += n
                else:
                    seen.add(grams[idx])
                    idx += 1
            out_rows.append(row)
            values.append(repeated / self.length[row])
        return pl.DataFrame(
            {"row": pl.Series(out_rows, dtype=pl.UInt32), "v": pl.Series(values, dtype=pl.Float64)}
        )

    def _full(self, part: pl.DataFrame) -> pl.Series:
        """Values for every document: computed ones, 0 for documents without n-grams, null
        for documents an earlier rule already rejected."""
        rows = pl.DataFrame({"row": pl.int_range(self.height, dtype=pl.UInt32, eager=True)})
        got = rows.join(part.cast({"row": pl.UInt32}), on="row", how="left", maintain_order="left")
        return got.select(
            pl.when(pl.lit(self.undecided)).then(pl.col("v").fill_null(0.0)).otherwise(None)
        ).to_series()
