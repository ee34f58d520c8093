"""Word segmentation shared by the quality and length steps, batch-wide.

Two segmenters, chosen per document:

* spaced scripts (English and the like): spaCy's English tokenizer rules (prefixes, suffixes,
  infixes, URL match and the 1,300 special cases such as "don't" -> "do", "n't"), the tokenizer
  datatrove's filters use, re-implemented in pure Python over data exported from spaCy 3.8
  (`corpuskit/data/quality/en_tokenizer.json`, MIT licence). spaCy splits a text at whitespace
  first and tokenizes each whitespace-free *chunk* on its own, so corpuskit does the same:
  Polars cuts the batch into chunks, only the batch's distinct chunks are tokenized in Python
  (memoized per process, most chunks are plain words), and a join maps them back. The result
  matched spaCy on all 79,246 distinct chunks of the ../shared English corpora.
* unspaced scripts (Chinese, Japanese, Thai, ...): jieba, one call per document (memoized), with
  the dictionary loaded once per process.

A document is unspaced when its `lang` column (if present and not null) names an unspaced
language, else when CJK characters make up at least `min_cjk_ratio` of its non-space characters.

`Segmenter.tokens` returns one row per word (whitespace-only tokens dropped, like datatrove's
`strip_strings`) with the document row, the line it is on (`str.splitlines` semantics, numbered
across the batch), a 64-bit hash of its text, its length and feature flags; the steps compute
their statistics from that table with Polars expressions.
"""

from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import polars as pl

DATA: Traversable = files("corpuskit") / "data" / "quality"

# Whitespace as Python's str.isspace()/str.split() see it: Rust's \s lacks \x1c-\x1f.
WS = r"[\s\x1c-\x1f]"
NON_WS = r"[^\s\x1c-\x1f]"
# What str.splitlines() breaks on besides "\n"; normalized to "\n" before splitting.
LINE_BREAKS = r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"
CHUNK = rf"\n|{NON_WS}+"
# The characters str.strip() removes (Unicode White_Space plus \x1c-\x1f).
PY_WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
CJK = r"[\p{Han}\p{Hiragana}\p{Katakana}]"
UNSPACED_LANGS = frozenset(
    {"zh", "ja", "th", "lo", "km", "my", "bo", "yue", "wuu", "gan", "hak", "nan", "cmn", "lzh"}
)
HASH_SEED = 0x5EED

# Token flags (UInt8 bits).
NONSYM = 1  # has a character outside datatrove's PUNCTUATION_SET (a "non-symbol word")
ALPHA = 2  # has an alphabetic character (str.isalpha)
PUNCT = 4  # spaCy's is_punct: every character is Unicode punctuation (P*)
SENT_END = 8  # one of spaCy's sentencizer punctuation characters


def char_class(chars: Iterable[str], negate: bool = False) -> str:
    """A Rust-regex character class matching exactly `chars` (each one escaped)."""
    body = "".join(f"\\x{{{ord(c):X}}}" for c in sorted(set(chars)))
    return f"[{'^' if negate else ''}{body}]"


@dataclass(frozen=True)
class Punctuation:
    """Character sets of the filters (see corpuskit/data/quality/punctuation.json)."""

    punctuation: frozenset[str]  # datatrove PUNCTUATION_SET: symbol-only words
    terminal: frozenset[str]  # datatrove TERMINAL_PUNCTUATION: FineWeb's stop_chars
    sentencizer: frozenset[str]  # spaCy Sentencizer punct_chars
    cjk_terminal: frozenset[str]  # sentence ends of unspaced text
    cjk_closers: frozenset[str]  # closing quotes and brackets that may follow them


@lru_cache(maxsize=1)
def punctuation() -> Punctuation:
    raw = json.loads((DATA / "punctuation.json").read_text(encoding="utf-8"))
    return Punctuation(
        *(frozenset(raw[k]) for k in ("punctuation", "terminal", "sentencizer")),
        frozenset(raw["cjk_terminal"]),
        frozenset(raw["cjk_closers"]),
    )


@lru_cache(maxsize=1)
def zh_stop_words() -> tuple[str, ...]:
    """The shipped Chinese stop words (corpuskit/data/quality/zh_stopwords.txt)."""
    lines = (DATA / "zh_stopwords.txt").read_text(encoding="utf-8").splitlines()
    return tuple(w.strip() for w in lines if w.strip() and not w.startswith("#"))


def normalize_line_breaks(text: pl.Expr) -> pl.Expr:
    """Every line break str.splitlines() knows becomes "\\n"."""
    return text.str.replace_all(LINE_BREAKS, "\n")


def py_strip(text: pl.Expr) -> pl.Expr:
    """str.strip() with Python's notion of whitespace."""
    return text.str.strip_chars(PY_WHITESPACE)


def unit_pattern() -> str:
    """Sentence units of unspaced text: a run up to terminal punctuation (or an ellipsis) and
    the closing quotes after it, or the rest of a line. Units never cross a line break."""
    p = punctuation()
    ends = char_class(p.cjk_terminal | {"…"})
    not_end = char_class(p.cjk_terminal | {"…", "\n"}, negate=True)
    closers = char_class(p.cjk_closers)
    return rf"{not_end}*{ends}+{closers}*|{not_end}+"


@lru_cache(maxsize=1)
def _py_units() -> re.Pattern[str]:
    """unit_pattern for Python's re, with each line break a unit of its own."""
    p = punctuation()
    ends = "".join(re.escape(c) for c in sorted(p.cjk_terminal | {"…"}))
    closers = "".join(re.escape(c) for c in sorted(p.cjk_closers))
    return re.compile(rf"\n|[^{ends}\n]*[{ends}]+[{closers}]*|[^{ends}\n]+")


def sentence_units(text: pl.Expr) -> pl.Expr:
    """List of the sentence units of each text (whitespace-only units dropped)."""
    return text.str.extract_all(unit_pattern()).list.eval(
        pl.element().filter(pl.element().str.contains(NON_WS))
    )


def cjk_ratio(text: pl.Expr) -> pl.Expr:
    """CJK characters (Han, kana) over non-whitespace characters; 0 for empty text."""
    non_ws = text.str.count_matches(NON_WS)
    return (
        pl.when(non_ws > 0)
        .then(text.str.count_matches(CJK) / non_ws)
        .otherwise(pl.lit(0.0))
        .cast(pl.Float64)
    )


def unspaced_mask(batch: pl.DataFrame, min_cjk_ratio: float = 0.3) -> pl.Series:
    """True for documents written in an unspaced script: from `lang` when set, else CJK ratio."""
    text = batch["text"].fill_null("")
    out = pl.Series("unspaced", [False] * len(text), dtype=pl.Boolean)
    need = pl.Series([True] * len(text), dtype=pl.Boolean)
    if "lang" in batch.columns:
        code = batch["lang"].cast(pl.String).str.to_lowercase().str.extract(r"^([a-z]+)", 1)
        known = code.is_not_null()
        out = known & code.is_in(sorted(UNSPACED_LANGS)).fill_null(False)
        need = ~known
    # the ratio only for documents without a language that hold a CJK character at all
    idx = (need & text.str.contains(CJK)).arg_true()
    if idx.len():
        ratio = pl.select(cjk_ratio(pl.lit(text.gather(idx)))).to_series()
        out = out.scatter(idx, ratio >= min_cjk_ratio)
    return out.alias("unspaced")


# --------------------------------------------------------------------------- spaCy rules


class EnglishRules:
    """spaCy's English tokenizer (spacy.blank('en')) for one whitespace-free chunk.

    Same algorithm as spacy/tokenizer.pyx: special cases, then prefixes and suffixes peeled in
    a loop, URL match, infixes, and the final special-case pass that re-merges token sequences
    such as "Minn" "." -> "Minn." (applied within the chunk).
    """

    def __init__(self) -> None:
        raw = json.loads((DATA / "en_tokenizer.json").read_text(encoding="utf-8"))
        self._prefix = re.compile(raw["prefix"]).search
        self._suffix = re.compile(raw["suffix"]).search
        self._infix = re.compile(raw["infix"]).finditer
        self._url = re.compile(raw["url"]).match
        self.specials: dict[str, list[str]] = raw["specials"]
        self._phrases: dict[tuple[str, ...], list[str]] = {}
        for text, orths in self.specials.items():
            if (
                self._prefix(text)
                or self._suffix(text)
                or any(True for _ in self._infix(text))
                or " " in text
            ):
                self._phrases.setdefault(tuple(self._affixes(text, {})), orths)
        self._max_phrase = max(len(p) for p in self._phrases)
        self._phrase_starts = {p[0] for p in self._phrases}

    def _split_affixes(
        self, s: str, specials: dict[str, list[str]]
    ) -> tuple[str, list[str], list[str]]:
        prefixes: list[str] = []
        suffixes: list[str] = []
        last = 0
        while s and len(s) != last:
            if s in specials:
                break
            last = len(s)
            m = self._prefix(s)
            pre_len = m.end() - m.start() if m else 0
            prefix = minus_pre = ""
            if pre_len:
                prefix, minus_pre = s[:pre_len], s[pre_len:]
                if minus_pre and minus_pre in specials:
                    prefixes.append(prefix)
                    s = minus_pre
                    break
            m = self._suffix(s[pre_len:])
            suf_len = m.end() - m.start() if m else 0
            suffix = minus_suf = ""
            if suf_len:
                suffix, minus_suf = s[-suf_len:], s[:-suf_len]
                if minus_suf and minus_suf in specials:
                    suffixes.append(suffix)
                    s = minus_suf
                    break
            if pre_len and suf_len and pre_len + suf_len <= len(s):
                s = s[pre_len:-suf_len]
                prefixes.append(prefix)
                suffixes.append(suffix)
            elif pre_len:
                s = minus_pre
                prefixes.append(prefix)
            elif suf_len:
                s = minus_suf
                suffixes.append(suffix)
        return s, prefixes, suffixes

    def _affixes(self, chunk: str, specials: dict[str, list[str]]) -> list[str]:
        if chunk in specials:
            return list(specials[chunk])
        s, out, suffixes = self._split_affixes(chunk, specials)
        if s:
            if s in specials:
                out.extend(specials[s])
            elif self._url(s):
                out.append(s)
            else:
                start = 0
                for m in self._infix(s):
                    a, b = m.start(), m.end()
                    if a == 0:
                        continue
                    if a != start:
                        out.append(s[start:a])
                    if a != b:
                        out.append(s[a:b])
                    start = b
                if s[start:]:
                    out.append(s[start:])
        out.extend(reversed(suffixes))
        return out

    def tokenize(self, chunk: str) -> list[str]:
        """The tokens spaCy makes of one whitespace-free chunk."""
        if (chunk.isalpha() or (chunk.isascii() and chunk.isdigit())) and (
            chunk not in self.specials
        ):
            return [chunk]  # no prefix, suffix, infix or URL rule applies to letters alone
        toks = self._affixes(chunk, self.specials)
        if not any(t in self._phrase_starts for t in toks):
            return toks
        n = len(toks)
        matches = [
            (i, i + k)
            for i in range(n)
            if toks[i] in self._phrase_starts
            for k in range(1, min(self._max_phrase, n - i) + 1)
            if tuple(toks[i : i + k]) in self._phrases
        ]
        if not matches:
            return toks
        matches.sort(key=lambda m: (m[1] - m[0], m[0]))
        seen: set[int] = set()
        chosen = []
        for s, e in reversed(matches):  # longest first, like spaCy's _filter_special_spans
            if s not in seen and e - 1 not in seen:
                chosen.append((s, e))
            seen.update(range(s, e))
        out: list[str] = []
        i = 0
        for s, e in sorted(chosen):
            out.extend(toks[i:s])
            out.extend(self._phrases[tuple(toks[s:e])])
            i = e
        out.extend(toks[i:])
        return out


# --------------------------------------------------------------------------- segmenter

TOKEN_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.UInt32(),
    "line": pl.UInt32(),
    "h": pl.UInt64(),
    "len": pl.UInt32(),
    "flags": pl.UInt8(),
}


def token_hash(tokens: pl.Expr) -> pl.Expr:
    """The 64-bit hash the token table uses (same text, same hash, within a process)."""
    return tokens.hash(HASH_SEED)


def _flags(tok: pl.Expr) -> pl.Expr:
    p = punctuation()
    flags = (
        tok.str.contains(char_class(p.punctuation, negate=True)).cast(pl.UInt8) * NONSYM
        + tok.str.contains(r"\p{L}").cast(pl.UInt8) * ALPHA
        + tok.str.contains(r"^\p{P}+$").cast(pl.UInt8) * PUNCT
        + tok.is_in(sorted(p.sentencizer)).cast(pl.UInt8) * SENT_END
    )
    return flags.cast(pl.UInt8)


_SIMPLE_SUFFIXES = frozenset(",;:!?")


class Segmenter:
    """Per-process segmentation with memo tables; get it with `segmenter()`."""

    MAX_CHUNKS = 1_000_000  # chunk -> tokens memo size before it is cleared
    MAX_MEMO_CHARS = 4_000_000  # jieba memo: characters of text kept with their words

    def __init__(self) -> None:
        self.rules = EnglishRules()
        self._chunks: dict[str, tuple[str, ...] | None] = {}
        self._jieba: Any = None
        self._jieba_memo: OrderedDict[str, list[str]] = OrderedDict()
        self._memo_chars = 0
        self._last: tuple[pl.DataFrame, pl.Series, pl.Series] | None = None

    # -- unspaced -------------------------------------------------------------------------
    def jieba(self) -> Any:
        """jieba's tokenizer, dictionary loaded once per process."""
        if self._jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tk = jieba.Tokenizer()
            tk.initialize()
            self._jieba = tk
        return self._jieba

    def cut(self, text: str) -> list[str]:
        """jieba words of `text` (whitespace kept as tokens).

        The text is cut into sentence units first (see `unit_pattern`) and each unit is
        segmented on its own, memoized: unit boundaries are punctuation, where jieba splits
        anyway, so the words are the same, and a step that sees a text another step shortened
        (c4_quality drops units) finds most of its units segmented already.
        """
        memo = self._jieba_memo
        out: list[str] = []
        for unit in _py_units().findall(text):
            got = memo.get(unit)
            if got is None:
                got = self.jieba().lcut(unit)
                memo[unit] = got
                self._memo_chars += len(unit)
                while self._memo_chars > self.MAX_MEMO_CHARS and len(memo) > 1:
                    old, _ = memo.popitem(last=False)
                    self._memo_chars -= len(old)
            out.extend(got)
        return out

    def cut_words(self, texts: Iterable[str]) -> list[list[str]]:
        """jieba words without whitespace tokens, for each text."""
        return [[w for w in (t.strip() for t in self.cut(x)) if w] for x in texts]

    # -- tokens table ---------------------------------------------------------------------
    def tokens(
        self, texts: pl.Series, unspaced: pl.Series | None = None, remember: bool = True
    ) -> pl.DataFrame:
        """One row per word of every text: row, line, h, len, flags (see TOKEN_SCHEMA).

        The last table (of a call with `remember`) is kept: documents of that call (same text,
        same script) are taken from it, so the next step on the same batch, or on what an
        earlier step left of it, does not segment again.
        """
        n = len(texts)
        if unspaced is None:
            unspaced = pl.Series([False] * n)
        unspaced = unspaced.fill_null(False).cast(pl.Boolean)
        text = texts.fill_null("")
        keys = text.hash(HASH_SEED) ^ unspaced.cast(pl.UInt64)
        breaks = text.str.count_matches(LINE_BREAKS + "|\n").cast(pl.UInt32)
        first = (breaks + 1).cum_sum() - (breaks + 1)
        rows = pl.DataFrame({"row": pl.int_range(n, dtype=pl.UInt32, eager=True), "key": keys})
        parts: list[pl.DataFrame] = []
        missing = rows["row"]
        if self._last is not None and n:
            old_table, old_keys, old_first = self._last
            old = pl.DataFrame(
                {"old": pl.int_range(len(old_keys), dtype=pl.UInt32, eager=True), "key": old_keys}
            ).unique("key", keep="first", maintain_order=True)
            m = rows.join(old, on="key", how="left", maintain_order="left")
            found = m.filter(pl.col("old").is_not_null()).select("row", "old")
            missing = m.filter(pl.col("old").is_null())["row"]
            if found.height:
                j = old_table.join(
                    found, left_on="row", right_on="old", how="inner", maintain_order="left"
                )
                reused = j.with_columns(
                    row=j["row_right"],
                    line=j["line"] - old_first.gather(j["row"]) + first.gather(j["row_right"]),
                ).select(list(TOKEN_SCHEMA))
                parts.append(reused.cast(TOKEN_SCHEMA))
        if missing.len():
            sub = self._build(text.gather(missing), unspaced.gather(missing))
            sub_breaks = breaks.gather(missing)
            sub_first = (sub_breaks + 1).cum_sum() - (sub_breaks + 1)
            row = missing.gather(sub["row"])
            sub = sub.with_columns(
                row=row, line=sub["line"] - sub_first.gather(sub["row"]) + first.gather(row)
            )
            parts.append(sub.cast(TOKEN_SCHEMA))
        if not parts:
            table = pl.DataFrame(schema=TOKEN_SCHEMA)
        elif len(parts) == 1:
            table = parts[0]
        else:
            table = pl.concat(parts)
        if not table["row"].is_sorted():
            table = table.sort("row", maintain_order=True)
        if remember:
            self._last = (table, keys, first)
        return table

    def _build(self, texts: pl.Series, unspaced: pl.Series) -> pl.DataFrame:
        norm = pl.DataFrame({"text": texts}).select(
            normalize_line_breaks(pl.col("text").fill_null("")).alias("text")
        )
        norm = norm.with_columns(
            unspaced=unspaced.fill_null(False),
            nl=pl.col("text").str.count_matches("\n", literal=True).cast(pl.UInt32),
        ).with_row_index("row")
        # first line number of each row: every text adds (newlines + 1) lines
        first_line = (norm["nl"] + 1).cum_sum() - (norm["nl"] + 1)
        parts = []
        spaced = norm.filter(~pl.col("unspaced"))
        if spaced.height:
            parts.append(self._spaced(spaced, first_line))
        uns = norm.filter(pl.col("unspaced"))
        if uns.height:
            parts.append(self._unspaced(uns, first_line))
        if not parts:
            return pl.DataFrame(schema=TOKEN_SCHEMA)
        out = pl.concat(parts) if len(parts) > 1 else parts[0]
        if len(parts) > 1:
            out = out.sort("row", maintain_order=True)
        return out

    def _spaced(self, docs: pl.DataFrame, first_line: pl.Series) -> pl.DataFrame:
        ch = (
            docs.select("row", c=pl.col("text").str.extract_all(CHUNK)).explode("c").drop_nulls("c")
        )
        ch = _with_lines(
            ch.with_columns(nl=(pl.col("c") == "\n").cast(pl.UInt32)), docs, first_line
        )
        ch = ch.filter(pl.col("nl") == 0).select("row", "line", "c", ch=token_hash(pl.col("c")))
        mapping = self._chunk_map(ch.filter(pl.col("ch").is_first_distinct()).select("c", "ch"))
        out = ch.join(mapping, on="ch", how="left", maintain_order="left_right")
        return out.select(list(TOKEN_SCHEMA)).cast(TOKEN_SCHEMA)

    def _chunk_map(self, uniq: pl.DataFrame) -> pl.DataFrame:
        """Distinct chunks -> their tokens (h, len, flags), one row per token, in order."""
        memo = self._chunks
        if len(memo) > self.MAX_CHUNKS:
            memo.clear()
        tokenize = self.rules.tokenize
        specials = self.rules.specials
        idx: list[int] = []
        toks: list[str] = []
        for i, c in enumerate(uniq["c"].to_list()):
            got = memo.get(c, False)
            if got is False:
                # ASCII letters, maybe then one of , ; : ! ?: only the special cases and
                # that suffix apply (tests check this against the full rules)
                word = c[:-1] if c[-1:] in _SIMPLE_SUFFIXES else c
                if word.isascii() and word.isalpha() and c not in specials:
                    got = None if word is c else (*specials.get(word, (word,)), c[-1])
                else:
                    t = tokenize(c)
                    got = None if len(t) == 1 and t[0] == c else tuple(t)
                memo[c] = got
            if got is None:
                idx.append(i)
                toks.append(c)
            else:
                idx.extend([i] * len(got))
                toks.extend(got)
        tok = pl.Series("tok", toks, dtype=pl.String)
        return pl.DataFrame({"ch": uniq["ch"].gather(idx), "tok": tok}).select(
            "ch",
            h=token_hash(pl.col("tok")),
            len=pl.col("tok").str.len_chars().cast(pl.UInt32),
            flags=_flags(pl.col("tok")),
        )

    def _unspaced(self, docs: pl.DataFrame, first_line: pl.Series) -> pl.DataFrame:
        rows: list[int] = []
        toks: list[str] = []
        for row, text in zip(docs["row"].to_list(), docs["text"].to_list(), strict=True):
            words = self.cut(text)
            rows.extend([row] * len(words))
            toks.extend(words)
        t = pl.DataFrame(
            {"row": pl.Series(rows, dtype=pl.UInt32), "c": pl.Series(toks, dtype=pl.String)}
        )
        nl = pl.col("c").str.count_matches("\n", literal=True).cast(pl.UInt32)
        t = _with_lines(t.with_columns(nl=nl), docs, first_line)
        return (
            t.with_columns(tok=pl.col("c").str.strip_chars())
            .filter(pl.col("tok") != "")
            .select(
                "row",
                "line",
                h=token_hash(pl.col("tok")),
                len=pl.col("tok").str.len_chars().cast(pl.UInt32),
                flags=_flags(pl.col("tok")),
            )
            .cast(TOKEN_SCHEMA)
        )


def _with_lines(t: pl.DataFrame, docs: pl.DataFrame, first_line: pl.Series) -> pl.DataFrame:
    """Add `line` (numbered batch-wide) to a (row, nl) table that is in text order."""
    seen = pl.col("nl").cum_sum() - pl.col("nl")  # newlines in this table before the row
    row_info = docs.select("row").with_columns(
        rnl=docs["nl"].cum_sum() - docs["nl"], first=first_line.gather(docs["row"])
    )
    return (
        t.with_columns(seen=seen)
        .join(row_info, on="row", how="left", maintain_order="left")
        .with_columns(line=(pl.col("first") + pl.col("seen") - pl.col("rnl")).cast(pl.UInt32))
    )


_SEGMENTER: Segmenter | None = None


def segmenter() -> Segmenter:
    """The process-wide Segmenter (rules and memo tables are built once per process)."""
    global _SEGMENTER
    if _SEGMENTER is None:
        _SEGMENTER = Segmenter()
    return _SEGMENTER


def word_hashes(words: Iterable[str]) -> pl.Series:
    """Hashes of words as the token table stores them (e.g. stop words)."""
    frame = pl.DataFrame({"w": pl.Series(list(words), dtype=pl.String)})
    return frame.select(token_hash(pl.col("w"))).to_series()


__all__ = [
    "ALPHA",
    "CJK",
    "LINE_BREAKS",
    "NONSYM",
    "NON_WS",
    "PUNCT",
    "PY_WHITESPACE",
    "SENT_END",
    "TOKEN_SCHEMA",
    "UNSPACED_LANGS",
    "WS",
    "EnglishRules",
    "Punctuation",
    "Segmenter",
    "char_class",
    "cjk_ratio",
    "normalize_line_breaks",
    "punctuation",
    "py_strip",
    "segmenter",
    "sentence_units",
    "unit_pattern",
    "unspaced_mask",
    "word_hashes",
    "zh_stop_words",
]


# --------------------------------------------------------------------------- step helpers


def per_row(table: pl.DataFrame, height: int, *aggs: pl.Expr) -> pl.DataFrame:
    """Aggregate a table with a `row` column to exactly one row per document (0..height-1);
    documents without rows in `table` get nulls (fill them as the statistic needs)."""
    rows = pl.DataFrame({"row": pl.int_range(height, dtype=pl.UInt32, eager=True)})
    if table.height == 0:
        got = table.group_by("row").agg(*aggs).cast({"row": pl.UInt32})
        return rows.join(got, on="row", how="left")
    got = table.group_by("row").agg(*aggs)
    return rows.join(got.cast({"row": pl.UInt32}), on="row", how="left", maintain_order="left")


def duplicate_stats(items: pl.DataFrame, prefix: str) -> pl.DataFrame:
    """datatrove's find_duplicates per document, for an exploded (row, s) table: every
    element equal to an earlier one of its document counts once, with its length."""
    h = items["s"].hash(HASH_SEED) * 0x9E3779B97F4A7C15 + items["row"].cast(pl.UInt64)
    dup = ~h.is_first_distinct()
    return items.select(
        "row",
        dup=dup,
        dup_chars=pl.when(dup).then(pl.col("s").str.len_chars()).otherwise(0).cast(pl.Int64),
    ).rename({"dup": f"{prefix}dup", "dup_chars": f"{prefix}dup_chars"})


def unit_counts(texts: pl.Series, mask: pl.Series, ends: str) -> tuple[pl.Series, pl.Series]:
    """For the texts where `mask` holds: how many sentence units they have and how many of
    those match the regex `ends`; 0 and 0 elsewhere (the units are not computed there)."""
    n = pl.Series([0] * len(texts), dtype=pl.UInt32)
    hits = pl.Series([0] * len(texts), dtype=pl.UInt32)
    idx = mask.fill_null(False).arg_true()
    if idx.len():
        units = pl.DataFrame({"t": texts.gather(idx)}).select(u=sentence_units(pl.col("t")))
        got = units.select(
            n=pl.col("u").list.len().cast(pl.UInt32),
            hits=pl.col("u")
            .list.eval(pl.element().str.contains(ends).cast(pl.UInt32))
            .list.sum()
            .cast(pl.UInt32),
        )
        n = n.scatter(idx, got["n"])
        hits = hits.scatter(idx, got["hits"])
    return n, hits


def export_english_rules(path: str) -> None:
    """Write spaCy's English tokenizer rules to `path` (needs spaCy; how en_tokenizer.json was
    made: `python -m corpuskit.segment corpuskit/data/quality/en_tokenizer.json`)."""
    import spacy

    t = spacy.blank("en").tokenizer
    orth = spacy.attrs.ORTH
    out = {
        "source": f"spaCy {spacy.__version__} English tokenizer (spacy.blank('en')), MIT licence",
        "prefix": t.prefix_search.__self__.pattern,
        "suffix": t.suffix_search.__self__.pattern,
        "infix": t.infix_finditer.__self__.pattern,
        "url": t.url_match.__self__.pattern,
        "specials": {k: [tok[orth] for tok in v] for k, v in t.rules.items()},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=0, sort_keys=True)


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import sys

    export_english_rules(sys.argv[1])
