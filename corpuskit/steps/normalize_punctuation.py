"""normalize_punctuation: script-aware punctuation normalization (Chinese vs Latin context)."""

from __future__ import annotations

import re
from types import ModuleType
from typing import ClassVar, Literal

import polars as pl

from corpuskit import jit
from corpuskit.steps.base import MapStep, StepConfig
from corpuskit.steps.subset import rewrite_frame_rows, rewrite_matching, rewrite_rows
from corpuskit.text.fullwidth import ANY_DIGIT, convert_numbers, number_rows

# ---------------------------------------------------------------------------------------
# Character classes (Rust regex syntax, for use inside [...]).

# "CJK" anchors: ideographs, kana, bopomofo, and punctuation that only CJK text uses
# (、〃〈〉《》「」『』【】〔〕〖〗〘〙〚〛・ー). None of these is ever changed by the step.
_CJK = (
    r"\p{Han}\p{Hiragana}\p{Katakana}\p{Bopomofo}"
    r"\x{3001}\x{3003}\x{3005}-\x{3007}\x{3008}-\x{3011}\x{3014}-\x{301B}\x{30FB}\x{30FC}"
)
_LATIN = rf"\p{{L}}&&[^{_CJK}]"  # letters of other scripts (Latin, Greek, Cyrillic, Hangul...)
# Pre-pass markers (plane-15 private use). Rows that already contain any are passed
# through unchanged. _MO/_MC: a quote or parenthesis pair under decision; _FO/_FC: a pair
# of parentheses decided full-width, _LO/_LC: decided ASCII. The decided markers stay
# in the text (as run characters, never converted by runs) until the very end.
_MO, _MC, _FO, _FC, _LO, _LC = (chr(0xF8000 + i) for i in range(6))
_TAGS = _FO + _FC + _LO + _LC
_SENTINELS = f"[{_MO}{_MC}{_TAGS}]"
# Marks the step converts, in both widths.
_ASCII_MARKS = r",.?!:;()"
_FW_MARKS = "，。？！：；（）"
_QUOTES = "\"“”'‘’"
# A "run" is a maximal stretch of these: spaces, convertible marks, quotes, ellipses, dashes.
_SPACES = " \t\u3000"
_RUN = rf"{_SPACES}{_ASCII_MARKS}{_FW_MARKS}{_QUOTES}…⋯\-—―{_TAGS}"
# Skipped when looking for the anchor outside a quote pair (everything in a run but "“”).
_SKIP = rf"{_SPACES}{_ASCII_MARKS}{_FW_MARKS}'‘’…⋯\-—―"

# Never altered: URLs (stop at whitespace, quotes, parentheses, ellipses, dashes, CJK and
# CJK punctuation; a trailing .,;:!?- is left out, so that a mark made ASCII next to a URL
# never joins it on a second pass) and e-mail addresses. Numbers and times need no pattern
# of their own: ASCII marks glued between two ASCII letters/digits (3.14, 1,000, 12:30,
# v1.2, a.com) are never touched.
_URL_BODY = rf"[^\s{_CJK}{_TAGS}…⋯—―\"“”'‘’<>()，。？！：；（）]"
_URL_END = rf"[^\s{_CJK}{_TAGS}…⋯—―\"“”'‘’<>()，。？！：；（）.,;:!?\-]"
_URL = rf"(?:(?:https?|ftp)://|www\.){_URL_BODY}*{_URL_END}"
_EMAIL_REST = r"[A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
_EMAIL = rf"[A-Za-z0-9_]{_EMAIL_REST}"
_PROT = rf"{_URL}|{_EMAIL}"


_FULLWIDTH_ALNUM = {
    **{chr(0xFF10 + i): chr(0x30 + i) for i in range(10)},
    **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
    **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
    "＂": '"',
    "＇": "'",
    "．": ".",
}
# Decided parentheses (marker + original character) map to themselves in runs.
_SHIELD = {tag + p: tag + p for tag in _TAGS for p in "()（）"}
# (Longer keys first: these are applied with leftmost-first matching.)
_TO_FULLWIDTH = {**_SHIELD, **dict(zip(_ASCII_MARKS, _FW_MARKS, strict=True))}
_TO_ASCII = {**_SHIELD, **dict(zip(_FW_MARKS, _ASCII_MARKS, strict=True))}
_UNTAG = {
    **{tag + p: out for tag, out in ((_FO, "（"), (_LO, "(")) for p in "(（"},
    **{tag + p: out for tag, out in ((_FC, "）"), (_LC, ")")) for p in ")）"},
    **{tag: "" for tag in _TAGS},
}
# Runs of one repeated mark collapse to one. Rust regex has no back-references, so each
# mark gets its own alternative and capture group.
_COLLAPSIBLE = "!！?？,，;；："
_COLLAPSE = "|".join(f"({re.escape(c)}){re.escape(c)}+" for c in _COLLAPSIBLE)
_COLLAPSE_TO = "".join(f"${{{i + 1}}}" for i in range(len(_COLLAPSIBLE)))

# A run outside Chinese context changes only if it holds one of these.
_NEEDS_OTHER = r"[，。？！：；（）]|…{2}|" + "|".join(re.escape(c * 2) for c in _COLLAPSIBLE)

# Rows whose runs may change (supersets; other rows skip segmentation). Any row: a
# full-width mark in a run without a CJK anchor (so it may be in Latin context), an
# ellipsis, a repeat. Rows with CJK or a zh/ja
# language: also any ASCII mark, space, dash or ellipsis, or two marks in a row.
_ANY_ROW_CANDIDATE = (
    rf"(?:^|[^{_CJK}{_RUN}])[{_RUN}]*[，。？！：；（）][{_RUN}]*(?:$|[^{_CJK}{_RUN}])|[…⋯]|"
    + "|".join(re.escape(c * 2) for c in _COLLAPSIBLE + "。")
)
_NOT_WORD = rf"[^A-Za-z0-9{_LATIN}{_RUN}]"  # a CJK/symbol anchor, or a newline
_ZH_MARK = r"(?:[,.?!:;()…⋯—―]|--)"  # what a run in Chinese context may rewrite
_RUN_NOT_ASCII = rf" \t\x{{3000}}，。？！：；（）“”‘’…⋯—―{_TAGS}"
_ZH_ROW_CANDIDATE = "|".join(
    [
        # a mark whose run touches a CJK/symbol anchor or a line end (so not Latin context)
        rf"(?:^|{_NOT_WORD})[{_RUN}]*{_ZH_MARK}",
        rf"{_ZH_MARK}[{_RUN}]*(?:$|{_NOT_WORD})",
        # a run between two digits that is not glued (1, 2 in a zh/ja text)
        rf"[0-9][{_RUN}]*[{_RUN_NOT_ASCII}][{_RUN}]*[0-9]",
        # spaces between CJK, or in a run with a full-width mark
        rf"[{_CJK}][{_RUN}]*[ \t][{_RUN}]*[{_CJK}]",
        rf"[ \t][{_RUN}]*[，。？！：；（）…⋯—―{_TAGS}]|[，。？！：；（）…⋯—―{_TAGS}][{_RUN}]*[ \t]",
    ]
)
# A mark (with at most one quote) right before a CJK character is in Chinese context
# and already full-width: segmentation keeps it inside the surrounding text.
_NOOP_RUN = "(?:[，。？！：；]|[，。？！：；]?[“”‘’][，。？！：；]?)"
# ASCII marks glued between ASCII letters/digits (3.14, 2020-01-02) are never rewritten.
# After glued marks, a URL or e-mail address starting with a letter/digit is taken whole
# (a...https://x.cn/1:/): the glued word must not cut it, or a run inside it would be
# rewritten, and a first pass that turns …… into ... would change it on the second.
_GLUED = (
    r"[A-Za-z0-9]+(?:[,.?!:;()\"'\-]+"
    rf"(?:{_URL}|[A-Za-z0-9]{_EMAIL_REST}|[A-Za-z0-9]+))*"
)
# Segmentation covers every character: (1) Latin words, numbers, URLs, e-mails joined by
# single spaces, (2) runs, (3) everything else (CJK, digits, symbols, newlines). Only runs
# are rewritten, so a URL or e-mail can never be touched. No-op runs stay inside (3).
_SEGMENT = (
    rf"(?:{_PROT}|{_GLUED})(?: (?:{_PROT}|{_GLUED}))*"
    rf"|[{_RUN}]+"
    rf"|[^{_RUN}A-Za-z]+(?:{_NOOP_RUN}[{_CJK}][^{_RUN}A-Za-z]*)*"
)

_LANG_ZH = r"^(zh|ja|cmn|yue|wuu|zho|chi|jpn)([-_].*)?$"
_LANG_UNKNOWN = ["", "und", "unknown", "xx", "zxx"]

# Context of a run, decided by its anchors.
_ZH, _LAT, _KEEP = 1, 2, 0
_CLS_CJK, _CLS_LAT, _CLS_OTHER = 1, 2, 3


class PunctuationConfig(StepConfig):
    # A column with the document's language (e.g. "zh", "en"); when it says zh/ja,
    # marks without a letter on either side lean Chinese, when it names another language
    # they lean Latin. None, or a missing column: such marks are left as they are.
    lang_column: str | None = "lang"
    # Curly quotes in Latin context: make them straight, or keep them.
    latin_quotes: Literal["straight", "keep"] = "straight"
    # Collapse runs of one repeated mark (！！！ -> ！, ??? -> ?, 、、 -> 、).
    collapse_repeats: bool = True
    # Spaces alone between two CJK characters: "keep" them (they separate names and
    # headline clauses: 记者 张三 李四), or "remove" them (你 好 -> 你好). An ideographic
    # space (U+3000) is a separator either way.
    cjk_space: Literal["keep", "remove"] = "keep"


class NormalizePunctuation(MapStep):
    """Normalize punctuation by script: full-width in Chinese context, ASCII in Latin context.

    Context. The text is cut into *runs* (maximal stretches of spaces, tabs, U+3000,
    the marks , . ? ! : ; ( ) and their full-width forms, quotes, ellipses and dashes)
    and everything else. Each run's *anchors* are the characters just outside it, i.e.
    the nearest character on each side that is not a space or a mark (the start/end of
    the text or a newline count as no anchor). A run is in

    - Chinese context when either anchor is CJK (Han, kana, bopomofo, or CJK-only
      punctuation such as 、《》「」【】);
    - Latin context otherwise, when either anchor is a letter of another script;
    - neither (digits, symbols, line ends on both sides): it follows the document's
      language when `lang_column` says zh/ja (Chinese) or names another language
      (Latin); without a language such runs are left alone (only repeats collapse).

    Chinese context: , . ? ! : ; ( ) become ，。？！：；（）; `...`, `。。。`, `…` become
    ……; `--`, `—`, `―` become —— (not `--` glued to a following ASCII word: --help);
    spaces inside the run are removed when it holds a full-width mark, or, with
    `cjk_space: remove`, when it sits between two CJK anchors (the default keeps them:
    they separate names and headline clauses, 记者 李良 王妮娜).

    Latin context: ，。？！：；（） become ASCII with English spacing (no space before
    , . ? ! : ; ), one space after them before a word, one before "(" after a word);
    `……` becomes `...` (a single … is kept). Only runs that held a full-width mark are
    respaced: existing ASCII text is never reflowed. In a document that holds CJK a
    Latin-context run is left as it is (要求在读MBA。, 给5000，lg说: the writer's marks).

    Quotes are paired first, on one line: "..." / “...” (also mixed) pairs become “…”
    when the quoted text holds CJK or an anchor outside the pair is CJK (or the
    language is zh/ja), else straight "..." when the pair has a Latin letter inside or
    a Latin anchor outside and `latin_quotes` is "straight". '...' becomes ‘…’ when it
    starts with a CJK character; ‘...’ without CJK and with a letter, and ’ between
    letters (don’t), become straight in "straight" mode. Unpaired quotes are kept.
    Parenthesis pairs on one line (either width, also mixed) are decided as a whole
    by the same rules as double quotes, so "(1)第一" -> "（1）第一" and a pair never
    ends up half converted; unpaired parentheses follow their run's context.

    Before both implementations (shared Polars passes): full-width times and numbers
    are converted whole (１６：４５ -> 16:45, １，６３３．８２ -> 1,633.82), ％ -> %,
    ＂...＂ pairs become “...” by position (then decided like other pairs), and the dot
    of a list marker at a line start (１．　内容, 1.从来) is kept. After them, times that
    Chinese-context spacing made (12 ：45 -> 12：45) are converted too (12:45).

    Everywhere: full-width letters/digits (ＡＢＣ１２３) and ＂＇． become ASCII; repeats
    of ! ? , ; and full-width ！？，；：、 collapse (optional). Distinct marks stay
    distinct: 、《》「」 etc. are never mapped. Never altered: URLs and e-mail
    addresses, and ASCII marks glued between two ASCII letters/digits, which protects
    numbers and times (3.14, 1,000, 12:30, 2020-2021) and names like v1.2 or a.com.

    Two implementations with one output. The reference, `normalize_text`: a few Polars
    regex passes over the text column (Rust regex: no look-around, so context is
    carried by capture groups and marker characters), then one `extract_all`
    segmentation, per-segment expressions over the exploded segments, and a join back
    per row. The step runs its compiled twin (`normalize_punctuation_kernels`, numba) when numba is
    installed: the same passes as scanners over each document's code points, about four
    times faster; the tests hold the two equal. No Python runs per document in either.
    Rows that already contain the step's private-use markers (U+F8000..U+F8005) are
    passed through unchanged. The output is idempotent: normalizing twice equals
    normalizing once.
    """

    Config = PunctuationConfig
    columns: ClassVar[dict[str, pl.DataType]] = {}

    def setup(self) -> None:
        # The compiled twin (normalize_punctuation_kernels) when numba imports; compiling or loading
        # its cache happens here, once per process, not in the first batch.
        self._kernel = compiled_kernel()
        if self._kernel is not None:
            self._kernel.warm_up()

    def _transient(self) -> tuple[str, ...]:
        return ("_kernel",)

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        self.ensure_ready()
        c: PunctuationConfig = self.config
        if batch.height == 0:
            return batch
        if c.lang_column is not None and c.lang_column in batch.columns:
            lean = _lean(batch.get_column(c.lang_column))
        else:
            lean = pl.Series("lean", [_KEEP] * batch.height, dtype=pl.Int8)
        text = batch.get_column("text")
        if self._kernel is not None:
            text = normalize_compiled(self._kernel, text, lean, c)
        else:
            text = normalize_text(text, lean, c)
        return batch.with_columns(text)


def compiled_kernel() -> ModuleType | None:
    """corpuskit.steps.normalize_punctuation_kernels (numba), or None (`corpuskit.jit`)."""
    return jit.kernels("corpuskit.steps.normalize_punctuation_kernels")


def normalize_compiled(
    kernel: ModuleType, text: pl.Series, lean: pl.Series, config: PunctuationConfig
) -> pl.Series:
    """`normalize_text` through the compiled twin: the shared number and list-marker
    passes around `kernel.normalize_series`."""
    c = config
    prepared, rows = _numbers_and_markers(text)
    core = kernel.normalize_series(
        prepared,
        lean,
        c.latin_quotes == "straight",
        c.collapse_repeats,
        c.cjk_space == "keep",
    )
    return _restore_markers(core, rows).alias(text.name)


# ---------------------------------------------------------------------------------------
# Passes shared by both implementations, before and after them (Polars): numbers and
# times written in full width are converted whole, straight full-width quotes paired by
# position, list markers (１．　内容) protected from becoming a full stop.

_LIST_DOT = chr(0xF8010)  # stands for the "." of a list marker while the core runs
_FW_QUOTE_PAIR = "＂([^＂\n]*)＂"
_LIST_MARKER = (
    rf"(^|\n)([ \t\x{{3000}}]*[{ANY_DIGIT}]{{1,3}})[.．]([ \t\x{{3000}}]|[^{ANY_DIGIT}\s])"
)
# Rows with an ASCII list marker (1.从来, 1.　ア): `_LIST_MARKER` with ASCII digits and
# dot (full-width ones hold a full-width digit or dot). It must gate every row the
# marker pass would protect, or a second pass sees the 1. that a first pass made of
# １． unprotected and turns it into 1。 (before kana, CJK punctuation, or in zh/ja rows).
_ASCII_LIST_MARKER = r"(?:^|\n)[ \t\x{3000}]*[0-9]{1,3}\.(?:[ \t\x{3000}]|[^0-9\s])"


def _number_rows(text: pl.Series) -> pl.Series:
    rows = number_rows(text) | text.str.contains(_ASCII_LIST_MARKER)
    for mark in "．＂":
        rows = rows | text.str.contains(mark, literal=True)
    return rows.fill_null(False)


def _numbers_and_markers(text: pl.Series) -> tuple[pl.Series, pl.Series]:
    """The text with the shared passes applied, and the rows they ran on. Rows that
    already hold the list-marker stand-in are left out."""

    def rewrite(t: pl.Expr) -> pl.Expr:
        t = convert_numbers(t).str.replace_all(_FW_QUOTE_PAIR, "“${1}”")
        return t.str.replace_all(_LIST_MARKER, f"${{1}}${{2}}{_LIST_DOT}${{3}}")

    rows = _number_rows(text)
    rows = rows & ~text.str.contains(_LIST_DOT, literal=True).fill_null(False)
    return rewrite_rows(text, rows, rewrite), rows


def _restore_markers(text: pl.Series, rows: pl.Series) -> pl.Series:
    """The list-marker stand-ins put back as dots, on the rows the shared passes ran on;
    then the times the core made (12 ：45, 1\t:16 and 2：:：23 become 12：45, 1：16 and
    2：23 in Chinese context) converted, as the next pass's number pass would."""
    text = rewrite_rows(text, rows, lambda t: t.str.replace_all(_LIST_DOT, ".", literal=True))
    return rewrite_rows(text, number_rows(text), convert_numbers)


def _lean(lang: pl.Series) -> pl.Series:
    """Per row: _ZH for zh/ja, _LAT for another named language, _KEEP when unknown."""
    norm = lang.cast(pl.String).str.strip_chars().str.to_lowercase()
    frame = pl.DataFrame({"l": norm})
    return frame.select(
        pl.when(pl.col("l").str.contains(_LANG_ZH))
        .then(pl.lit(_ZH, pl.Int8))
        .when(pl.col("l").is_null() | pl.col("l").is_in(_LANG_UNKNOWN))
        .then(pl.lit(_KEEP, pl.Int8))
        .otherwise(pl.lit(_LAT, pl.Int8))
        .alias("lean")
    ).to_series()


def normalize_text(
    text: pl.Series,
    lean: pl.Series | None = None,
    config: PunctuationConfig | None = None,
    exhaustive: bool = False,
) -> pl.Series:
    """Normalize a String Series (see NormalizePunctuation); `lean` is an Int8 per row.

    The Polars reference implementation (the step itself runs the compiled twin in
    `normalize_punctuation_kernels` where numba is installed). Each pass skips the rows that cheap
    regexes show it cannot change. `exhaustive` runs every pass on every row instead:
    slower, same output (the tests check it); it is the oracle of both fast paths.
    """
    c = config or PunctuationConfig()
    if lean is None:
        lean = pl.Series([_KEEP] * len(text), dtype=pl.Int8)
    prepared, rows = _numbers_and_markers(text)
    core = _normalize_core(prepared, lean, c, exhaustive)
    return _restore_markers(core, rows).alias(text.name)


def _normalize_core(
    text: pl.Series, lean: pl.Series, c: PunctuationConfig, exhaustive: bool
) -> pl.Series:
    """The part `normalize_punctuation_kernels.normalize_series` reproduces."""
    name = text.name
    ok = text.is_not_null() & ~text.str.contains(_SENTINELS).fill_null(True)
    idx = ok.arg_true()
    if len(idx) == 0:
        return text
    df = pl.DataFrame({"t": text.gather(idx), "lean": lean.gather(idx).cast(pl.Int8)})
    df = _prepass(df, c, exhaustive)
    t = df.get_column("t")
    if exhaustive:
        t = _segments(df, c)
        df = df.with_columns(_finish(pl.lit(t)).alias("t"))
    else:
        may_change = t.str.contains(_ANY_ROW_CANDIDATE) | (
            ((df.get_column("lean") == _ZH) | t.str.contains(f"[{_CJK}]"))
            & t.str.contains(_ZH_ROW_CANDIDATE)
        )
        sub = may_change.fill_null(False).arg_true()
        if sub.len():
            t = t.clone().scatter(sub, _segments(df[sub], c))
        df = df.with_columns(rewrite_matching(t, f"[{_TAGS}]", _finish))
    out = text.clone()
    out.scatter(idx, df.get_column("t"))
    return out.alias(name)


def _prepass(df: pl.DataFrame, c: PunctuationConfig, exhaustive: bool = False) -> pl.DataFrame:
    """Full-width letters/digits, then quote pairs (double, then single), then parentheses.

    Each pass runs only on the rows holding a character it rewrites. Pairs in a zh/ja
    row are all decided Chinese, and in a row of another language without CJK all
    Latin, so those rows take one regex pass instead of the sequence of decisions.
    """

    def on(mask: pl.Series, expr: pl.Expr) -> None:
        nonlocal df
        df = rewrite_frame_rows(df, "t", mask, expr)

    def has(pattern: str) -> pl.Series:
        return df.get_column("t").str.contains(pattern)

    t = pl.col("t")
    if exhaustive:
        df = df.with_columns(t.str.replace_many(_FULLWIDTH_ALNUM))
        if c.collapse_repeats:
            df = df.with_columns(t.str.replace_all("、{2,}", "、", literal=False))
        return (
            df.with_columns(_double_quotes(c))
            .with_columns(_single_quotes(c))
            .with_columns(_parentheses())
        )
    on(has(f"[{''.join(_FULLWIDTH_ALNUM)}]"), t.str.replace_many(_FULLWIDTH_ALNUM))
    if c.collapse_repeats:
        on(has("、、"), t.str.replace_all("、{2,}", "、", literal=False))
    lean = df.get_column("lean")
    zh_row = lean == _ZH
    cjk = has(f"[{_CJK}]")
    latin_row = (lean == _LAT) & ~cjk
    other = ~zh_row & ~latin_row

    on(zh_row & has('"'), t.str.replace_all(_DQ_PAIR, "“${2}”"))
    blocked = has(_DQ_BLOCKED_ROW)
    if c.latin_quotes == "straight":
        on(latin_row & ~blocked & has("[“”]"), t.str.replace_all(_DQ_PAIR, '"${2}"'))
    # ASCII pairs can only turn curly with CJK about; curly pairs only turn straight.
    on((other | (latin_row & blocked)) & ((has('"') & cjk) | has("[“”]")), _double_quotes(c))
    on(has("['‘’]"), _single_quotes(c))
    on(zh_row & has("[(（]"), t.str.replace_all(_PAREN_PAIR, f"{_FO}${{1}}${{2}}{_FC}${{3}}"))
    on(latin_row & has("[(（]"), t.str.replace_all(_PAREN_PAIR, f"{_LO}${{1}}${{2}}{_LC}${{3}}"))
    on(other & has("[(（]"), _parentheses())
    return df


_DQ_PAIR = r"([\"“])([^\"“”\n]*)([\"”])"
# A quote left unpaired before a pair opened by “ (カ"x“a": the first " finds “, no closer,
# and stays alone): turned straight, that “ would pair with it on the next pass. Such a
# pair may turn curly (CJK) but not straight; its opener gets the marker _MB instead of
# _MO. _MB is the parenthesis tag _FO: no tag exists while quotes are decided.
_MB = _FO
_DQ_BLOCKED = rf"(^|[^{_MO}{_MC}])([\"“])([^\"“”\n{_MO}{_MC}]*){_MO}“"
# Rows that may hold one (rows routed past the one-regex Latin pass).
_DQ_BLOCKED_ROW = r"[\"“][^\"“”\n]*“"
_PAREN_PAIR = r"([(（])([^()（）\n]*)([)）])"


def _double_quotes(c: PunctuationConfig) -> pl.Expr:
    """Mark each pair (opener " or “, closer " or ”) on one line, keeping the original
    characters after the markers, then decide pair by pair."""
    t = pl.col("t")
    straight = c.latin_quotes == "straight"
    zh_row = pl.col("lean") == _ZH
    lat_row = pl.col("lean") == _LAT
    t = t.str.replace_all(_DQ_PAIR, f"{_MO}${{1}}${{2}}{_MC}${{3}}")
    t = t.str.replace_all(_DQ_BLOCKED, f"${{1}}${{2}}${{3}}{_MB}“")
    pair = f"{_MO}.([^{_MC}]*){_MC}."
    any_pair = f"[{_MO}{_MB}].([^{_MC}]*){_MC}."
    t = t.str.replace_all(f"[{_MO}{_MB}].([^{_MC}]*?[{_CJK}][^{_MC}]*){_MC}.", "“${1}”")
    t = t.str.replace_all(f"([{_CJK}])([{_SKIP}]*){any_pair}", "${1}${2}“${3}”")
    t = t.str.replace_all(f"{any_pair}([{_SKIP}]*)([{_CJK}])", "“${1}”${2}${3}")
    t = pl.when(zh_row).then(t.str.replace_all(any_pair, "“${1}”")).otherwise(t)
    if straight:
        t = pl.when(lat_row).then(t.str.replace_all(pair, '"${1}"')).otherwise(t)
        t = t.str.replace_all(f"{_MO}.([^{_MC}]*?[{_LATIN}][^{_MC}]*){_MC}.", '"${1}"')
        t = t.str.replace_all(f"([{_LATIN}])([{_SKIP}]*){pair}", '${1}${2}"${3}"')
        t = t.str.replace_all(f"{pair}([{_SKIP}]*)([{_LATIN}])", '"${1}"${2}${3}')
    return t.str.replace_many({_MO: "", _MC: "", _MB: ""})


def _single_quotes(c: PunctuationConfig) -> pl.Expr:
    """Curly -> straight first (Latin), then '...' starting with CJK -> ‘…’."""
    t = pl.col("t")
    if c.latin_quotes == "straight":
        t = t.str.replace_all(f"‘([^‘’\\n{_CJK}]*[{_LATIN}][^‘’\\n{_CJK}]*)’", "'${1}'")
        t = t.str.replace_all(f"([{_LATIN}])’([{_LATIN}])", "${1}'${2}")
    return t.str.replace_all(f"'([{_CJK}][^'\\n]*[^'\\n{_LATIN}]|[{_CJK}])'", "‘${1}’")


def _parentheses() -> pl.Expr:
    """Pairs on one line, decided like double quotes; the decision is tagged."""
    t = pl.col("t")
    zh_row = pl.col("lean") == _ZH
    lat_row = pl.col("lean") == _LAT
    t = t.str.replace_all(_PAREN_PAIR, f"{_MO}${{1}}${{2}}{_MC}${{3}}")
    ppair = f"{_MO}(.)([^{_MC}]*){_MC}(.)"
    fw = f"{_FO}${{1}}${{2}}{_FC}${{3}}"
    t = t.str.replace_all(f"{_MO}(.)([^{_MC}]*?[{_CJK}][^{_MC}]*){_MC}(.)", fw)
    t = t.str.replace_all(
        f"([{_CJK}])([{_SKIP}]*){ppair}", f"${{1}}${{2}}{_FO}${{3}}${{4}}{_FC}${{5}}"
    )
    t = t.str.replace_all(
        f"{ppair}([{_SKIP}]*)([{_CJK}])", f"{_FO}${{1}}${{2}}{_FC}${{3}}${{4}}${{5}}"
    )
    t = pl.when(zh_row).then(t.str.replace_all(ppair, fw)).otherwise(t)
    lt = f"{_LO}${{1}}${{2}}{_LC}${{3}}"
    t = pl.when(lat_row).then(t.str.replace_all(ppair, lt)).otherwise(t)
    t = t.str.replace_all(f"{_MO}(.)([^{_MC}]*?[{_LATIN}][^{_MC}]*){_MC}(.)", lt)
    t = t.str.replace_all(
        f"([{_LATIN}])([{_SKIP}]*){ppair}", f"${{1}}${{2}}{_LO}${{3}}${{4}}{_LC}${{5}}"
    )
    t = t.str.replace_all(
        f"{ppair}([{_SKIP}]*)([{_LATIN}])", f"{_LO}${{1}}${{2}}{_LC}${{3}}${{4}}${{5}}"
    )
    return t.str.replace_many({_MO: "", _MC: ""})


def _finish(t: pl.Expr) -> pl.Expr:
    """Spacing around parentheses made ASCII from full-width, then drop the markers."""
    word = rf"([0-9]|[{_LATIN}])"
    t = t.str.replace_all(rf"{word}[ \t]*{_LO}（[ \t]*", f"${{1}} {_LO}（")
    t = t.str.replace_all(rf"[ \t]*{_LC}）[ \t]*{word}", f"{_LC}） ${{1}}")
    return t.str.replace_many(_UNTAG, leftmost=True)


def _cls(ch: pl.Expr) -> pl.Expr:
    return (
        pl.when(ch.str.contains(f"^[{_CJK}]"))
        .then(pl.lit(_CLS_CJK, pl.Int8))
        .when(ch.str.contains(f"^[{_LATIN}]"))
        .then(pl.lit(_CLS_LAT, pl.Int8))
        .otherwise(pl.lit(_CLS_OTHER, pl.Int8))
    )


def _segments(df: pl.DataFrame, c: PunctuationConfig) -> pl.Series:
    """Cut rows into segments, rewrite runs by context, join back. Returns the new text."""
    segs = (
        df.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"),
            pl.col("t").str.extract_all(_SEGMENT).alias("s"),
            "lean",
            pl.col("t").str.contains(f"[{_CJK}]").alias("cjk_doc"),
        )
        .explode("s")
        .with_columns(pl.col("s").fill_null(""))
    )
    first = pl.col("s").str.slice(0, 1)
    last = pl.col("s").str.slice(-1)
    segs = segs.with_columns(
        run=pl.col("s").str.contains(f"^[{_RUN}]+$"),
        fcls=_cls(first),
        lcls=_cls(last),
        falnum=first.str.contains("^[A-Za-z0-9]"),
        lalnum=last.str.contains("^[A-Za-z0-9]"),
        fdigit=first.str.contains("^[0-9]"),
        ldigit=last.str.contains("^[0-9]"),
    )
    same_prev = pl.col("row").shift(1) == pl.col("row")
    same_next = pl.col("row").shift(-1) == pl.col("row")

    def prev(col: str) -> pl.Expr:
        return pl.when(same_prev).then(pl.col(col).shift(1))

    def nxt(col: str) -> pl.Expr:
        return pl.when(same_next).then(pl.col(col).shift(-1))

    runs = (
        segs.with_row_index("pos")
        .with_columns(
            pcls=prev("lcls"),
            ncls=nxt("fcls"),
            palnum=prev("lalnum").fill_null(False),
            nalnum=nxt("falnum").fill_null(False),
            pdigit=prev("ldigit").fill_null(False),
            ndigit=nxt("fdigit").fill_null(False),
        )
        .filter(pl.col("run"))
    )
    if runs.height == 0:
        return df.get_column("t")
    runs = runs.with_columns(
        ctx=pl.when((pl.col("pcls") == _CLS_CJK) | (pl.col("ncls") == _CLS_CJK))
        .then(pl.lit(_ZH, pl.Int8))
        .when((pl.col("pcls") == _CLS_LAT) | (pl.col("ncls") == _CLS_LAT))
        .then(pl.lit(_LAT, pl.Int8))
        .otherwise(pl.col("lean")),
        glued=pl.col("palnum") & pl.col("nalnum") & pl.col("s").str.contains(r"^[,.?!:;()\"'\-]+$"),
    )
    # In a document with CJK, full-width marks after a Latin word or a number stay as the
    # writer put them (要求在读MBA。, 给5000，lg说): a Latin-context run there is kept.
    runs = runs.with_columns(
        ctx=pl.when((pl.col("ctx") == _LAT) & pl.col("cjk_doc"))
        .then(pl.lit(_KEEP, pl.Int8))
        .otherwise(pl.col("ctx"))
    )
    # Most runs are no-ops (a lone ， between Chinese characters, ", " in English): only
    # the others go through the rewrite.
    zh_noop = pl.col("s").str.contains(r"^[，。？！：；“”‘’（）]$")
    other_noop = ~pl.col("s").str.contains(_NEEDS_OTHER)
    runs = runs.filter(
        ~pl.col("glued") & pl.when(pl.col("ctx") == _ZH).then(~zh_noop).otherwise(~other_noop)
    )
    if runs.height == 0:
        return df.get_column("t")
    new = runs.select(_rewrite_run(c).alias("s")).get_column("s")
    seg_col = segs.get_column("s").clone()
    seg_col.scatter(runs.get_column("pos"), new)
    joined = (
        segs.select("row", seg_col.alias("s"))
        .group_by("row", maintain_order=True)
        .agg(pl.col("s").str.join(""))
    )
    # Rows whose text is empty may have no segment at all: a left join keeps every row.
    rows = pl.DataFrame({"row": pl.int_range(df.height, dtype=pl.UInt32, eager=True)})
    return rows.join(joined, on="row", how="left").get_column("s").fill_null("")


def _collapse(e: pl.Expr, c: PunctuationConfig) -> pl.Expr:
    return e.str.replace_all(_COLLAPSE, _COLLAPSE_TO) if c.collapse_repeats else e


def _rewrite_run(c: PunctuationConfig) -> pl.Expr:
    s = pl.col("s")
    ctx = pl.col("ctx")

    # Chinese context: map, drop spaces, then ellipses, dashes and repeats.
    zh = s.str.replace_many(_TO_FULLWIDTH, leftmost=True)
    flag = s.str.contains(r"-$") & pl.col("nalnum")  # --help, --flag: not a dash
    zh_strip = (
        zh.str.contains(f"[，。？！：；（）…⋯—―{_FO}{_FC}]")
        | (zh.str.contains("--") & ~flag)
        | (
            (pl.col("pcls") == _CLS_CJK)
            & (pl.col("ncls") == _CLS_CJK)
            & pl.lit(c.cjk_space == "remove")
        )
    )
    zh = pl.when(zh_strip).then(zh.str.replace_all(r"[ \t]+", "")).otherwise(zh)
    zh = zh.str.replace_all(r"(?:。{3,}|[…⋯])+", "……")
    zh = pl.when(flag).then(zh).otherwise(zh.str.replace_all(r"(?:-{2,}|[—―])+", "——"))
    zh = _collapse(zh, c)
    if c.collapse_repeats:
        zh = zh.str.replace_all("。{2,}", "。")

    # Latin context: only runs that hold a full-width mark (or ……) are rewritten.
    has_fw = s.str.contains(f"[，。？！：；]|…{{2,}}|(?:^|[^{_TAGS}])[（）]")
    lat = s.str.replace_all("…{2,}", "...").str.replace_many(_TO_ASCII, leftmost=True)
    lat = lat.str.replace_all(r"[ \t]+([,.?!:;)])", "${1}")
    space_after = s.str.contains(f"(?:^|[^{_TAGS}])[，。？！：；）]$") & (
        (pl.col("ncls") == _CLS_LAT) | (pl.col("ndigit") & ~pl.col("pdigit"))
    )
    space_before = s.str.starts_with("（") & (pl.col("palnum") | (pl.col("pcls") == _CLS_LAT))
    lat = pl.when(space_after).then(lat + pl.lit(" ")).otherwise(lat)
    # A converted mark, then a quote, then a word: ，"We -> , "We and 。"Then -> ." Then.
    word_next = pl.col("ncls") == _CLS_LAT
    opens = s.str.contains(r"[，：；][\"“”'‘’]$") & word_next
    closes = s.str.contains(r"[。？！][\"“”'‘’]$") & word_next
    lat = pl.when(opens).then(lat.str.replace(r"(.)$", " ${1}")).otherwise(lat)
    lat = pl.when(closes).then(lat + pl.lit(" ")).otherwise(lat)
    lat = pl.when(space_before).then(pl.lit(" ") + lat).otherwise(lat)
    lat = _collapse(pl.when(has_fw).then(lat).otherwise(s), c)

    keep = _collapse(s, c)
    return (
        pl.when(pl.col("glued"))
        .then(s)
        .when(ctx == _ZH)
        .then(zh)
        .when(ctx == _LAT)
        .then(lat)
        .otherwise(keep)
    )


__all__ = [
    "NormalizePunctuation",
    "PunctuationConfig",
    "compiled_kernel",
    "normalize_compiled",
    "normalize_text",
]
