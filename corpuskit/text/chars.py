"""Character classes and scripts: whitespace and line breaks as Python's str methods see
them, written as Rust regexes for Polars; the filters' punctuation sets; CJK share and
which documents are written without spaces."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable

import numpy as np
import polars as pl

DATA: Traversable = files("corpuskit") / "data" / "quality"

# Whitespace as Python's str.isspace()/str.split() see it: Rust's \s lacks \x1c-\x1f.
WS = r"[\s\x1c-\x1f]"
NON_WS = r"[^\s\x1c-\x1f]"
# What str.splitlines() breaks on besides "\n"; normalized to "\n" before splitting.
LINE_BREAKS = r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"
# The characters str.strip() removes (Unicode White_Space plus \x1c-\x1f).
PY_WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
CJK = r"[\p{Han}\p{Hiragana}\p{Katakana}]"
UNSPACED_LANGS = frozenset(
    {"zh", "ja", "th", "lo", "km", "my", "bo", "yue", "wuu", "gan", "hak", "nan", "cmn", "lzh"}
)


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


def normalize_line_breaks(text: pl.Expr) -> pl.Expr:
    """Every line break str.splitlines() knows becomes "\\n"."""
    return text.str.replace_all(LINE_BREAKS, "\n")


def py_strip(text: pl.Expr) -> pl.Expr:
    """str.strip() with Python's notion of whitespace."""
    return text.str.strip_chars(PY_WHITESPACE)


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
    text = batch["text"]
    if "lang" in batch.columns:
        code = pl.col("lang").cast(pl.String).str.to_lowercase().str.extract(r"^([a-z]+)", 1)
        got = batch.select(
            unspaced=code.is_in(sorted(UNSPACED_LANGS)).fill_null(False), need=code.is_null()
        )
        out = got["unspaced"]
        need = got["need"].arg_true()
        if need.len() == 0:
            return out.alias("unspaced")
    else:
        out = pl.repeat(False, len(text), dtype=pl.Boolean, eager=True)
        need = None
    # the ratio only for documents without a language that hold a CJK character at all
    sub = (text if need is None else text.gather(need)).fill_null("")
    has = sub.str.contains(CJK)
    idx = has.arg_true()
    if idx.len():
        ratio = pl.select(cjk_ratio(pl.lit(sub.gather(idx)))).to_series()
        out = out.scatter(idx if need is None else need.gather(idx), ratio >= min_cjk_ratio)
    return out.alias("unspaced")


def regex_members(pattern: str, cps: np.ndarray) -> np.ndarray:
    """Boolean per entry of `cps` (uint32 code points, no surrogates): matched by the
    one-character regex `pattern` in Polars' own engine, so that a kernel's code-point
    table and its Polars reference share one Unicode version."""
    text = pl.Series([cps.tobytes().decode("utf-32-le")])
    rest = text.str.replace_all(pattern, "").item().encode("utf-32-le")
    member = np.zeros(0x110000, dtype=bool)
    member[cps] = True
    member[np.frombuffer(rest, dtype=np.uint32)] = False
    return member[cps]
