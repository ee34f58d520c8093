"""fix_unicode: repair mojibake, drop invisible characters, normalize Unicode.

Everything runs as Polars expressions over the `text` column, except ftfy and the GBK
repair, which are per document in Python: a vectorized regex first picks the few
documents that show mojibake byte patterns (UTF-8 read as cp1252/latin-1/cp1251, C1
controls, terminal escapes; runs of GBK bytes shown as Latin-1), and only those are
handed to them. One scan for the union of the three passes' row gates
comes first, so the (usually many) documents that need nothing cost one regex scan.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import unicodedata
from collections.abc import Callable
from typing import ClassVar, Literal

import polars as pl

from corpuskit.cache import cache_dir
from corpuskit.steps.base import MapStep, StepConfig
from corpuskit.steps.subset import rewrite_matching, rewrite_rows
from corpuskit.text.fullwidth import convert_numbers, number_rows
from corpuskit.text.mojibake import GBK_LATIN1_CANDIDATE, repair_gbk_latin1

NormalForm = Literal["NFC", "NFKC", "NFD", "NFKD", "none"]

# --- mojibake candidates ------------------------------------------------------------------
# A UTF-8 lead byte (0xC2-0xF4) decoded as cp1252/latin-1 is U+00C2-U+00F4; a continuation
# byte (0x80-0xBF) becomes U+0080-U+00BF or one of cp1252's substitutes for 0x80-0x9F.
_CP1252_CONT = (
    r"\x{80}-\x{BF}\x{152}\x{153}\x{160}\x{161}\x{178}\x{17D}\x{17E}\x{192}\x{2C6}\x{2DC}"
    r"\x{2013}\x{2014}\x{2018}-\x{201A}\x{201C}-\x{201E}\x{2020}-\x{2022}\x{2026}\x{2030}"
    r"\x{2039}\x{203A}\x{20AC}\x{2122}"
)
# UTF-8 Cyrillic (0xD0/0xD1 lead) read as cp1251: 'Р'/'С' then a cp1251 0x80-0xBF character.
_CP1251_CONT = (
    r"\x{400}-\x{40F}\x{450}-\x{45F}\x{490}\x{491}\x{A0}-\x{BB}\x{2018}-\x{201E}"
    r"\x{2020}-\x{2022}\x{2026}\x{2030}\x{2039}\x{203A}\x{20AC}\x{2116}\x{2122}"
)
MOJIBAKE_CANDIDATE = (
    rf"[\x{{C2}}-\x{{F4}}][{_CP1252_CONT}]"  # cafÃ©, â€™, ä½ , ðŸ˜€, ï»¿
    r"|[\x{C2}\x{C3}] "  # 'Ã ' where the NBSP byte was turned into a space
    rf"|[\x{{420}}\x{{421}}][{_CP1251_CONT}]"  # РїСЂРёРІРµС‚
    r"|[\x{80}-\x{9F}]"  # C1 controls: cp1252 text read as latin-1 (\x93quoted\x94)
    r"|\x{1B}\["  # terminal colour escapes
)

# --- invisible characters -----------------------------------------------------------------
# C0 controls except \t \n (\r, VT and FF become newlines first), DEL, C1 controls.
_CONTROL = r"\x{00}-\x{08}\x{0E}-\x{1F}\x{7F}-\x{9F}"
# Soft hyphen, Mongolian vowel separator, ZWSP, word joiner, invisible operators, BOM/ZWNBSP.
_INVISIBLE = r"\x{AD}\x{180E}\x{200B}\x{2060}-\x{2064}\x{FEFF}"
_JOINERS = r"\x{200C}\x{200D}"  # ZWNJ, ZWJ

# --- NFKC/NFKD that leaves CJK punctuation alone -----------------------------------------
# The full-width marks that compatibility normalization would turn into ASCII (，-> ,),
# plus the ellipsis (…… -> ......) and the ideographic space (U+3000 -> ' ').
# 。、【】《》「」“” etc. are untouched by NFKC anyway.
CJK_PROTECTED = "！（），：；？～…\u3000"


def _nfkc_changed(*ranges: tuple[int, int]) -> str:
    return "".join(
        chr(cp)
        for a, b in ranges
        for cp in range(a, b + 1)
        if unicodedata.category(chr(cp)) != "Cn" and not unicodedata.is_normalized("NFKC", chr(cp))
    )


# Symbols whose compatibility form loses what they say: circled, parenthesized and
# enclosed numbers (① -> 1, ⑴ -> (1), ⒈ -> 1.), superscripts and subscripts, vulgar
# fractions (½ -> 1⁄2), Roman numerals, ™ and ℠. Kept by NFKC/NFKD when `protect_symbols`.
SYMBOLS_PROTECTED = _nfkc_changed(
    (0xB2, 0xB3),
    (0xB9, 0xB9),
    (0xBC, 0xBE),
    (0x2070, 0x209F),
    (0x2120, 0x2122),
    (0x2150, 0x218F),
    (0x2460, 0x24FF),
    (0x2776, 0x2793),
    (0x3200, 0x32FF),
    (0x1F100, 0x1F1FF),
)
# Stand-ins from Supplementary Private Use Area-B, mapped back after normalization.
_PUA_BASE = 0x10F000
_ALL_PROTECTED = CJK_PROTECTED + SYMBOLS_PROTECTED
_PUA_RANGE = rf"[\x{{{_PUA_BASE:X}}}-\x{{{_PUA_BASE + len(_ALL_PROTECTED) - 1:X}}}]"
# A zero-width joiner inside an emoji sequence (🏳️‍🌈, 🏃🏽‍♀️) is part of the emoji.
_EMOJI = r"\p{Extended_Pictographic}"
_EMOJI_ZWJ = rf"([{_EMOJI}\x{{FE0F}}\x{{1F3FB}}-\x{{1F3FF}}])\x{{200D}}([{_EMOJI}])"
_ZWJ_STAND_IN = chr(0x10FFFD)
# Private-use characters of the Basic Multilingual Plane: font-specific bullets and the
# separators some portals put between lines; no reader can show them.
_PRIVATE_USE = r"\x{E000}-\x{F8FF}"


_HANGUL_VT = [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]  # compose with a syllable


@functools.cache
def unstable_class(form: str, keep: str = "") -> str:
    """A regex class of every character that normalizing to `form` may change.

    A text without any of them is already in `form`: each character is stable alone
    (quick check "yes"), and none is a combining mark or the second half of a
    composition. Unassigned code points are included, since Polars may know a newer
    Unicode than Python. Characters in `keep` are left out. Building it scans every
    code point (about half a second), so the result is kept in a file of the user's
    cache folder, keyed by Python's Unicode version, and every later process reads it.
    """
    key = hashlib.sha1(f"{unicodedata.unidata_version}|{form}|{keep}".encode()).hexdigest()
    cached = cache_dir("unicode") / f"unstable-{key[:16]}.txt"
    try:
        value = cached.read_text(encoding="ascii")
        if value.startswith("[") and value.endswith("]"):  # else damaged: rebuild it
            return value
    except (OSError, UnicodeDecodeError):
        pass
    value = _build_unstable_class(form, keep)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(value, encoding="ascii")
        os.replace(tmp, cached)
    except OSError:
        pass  # a read-only home only costs the rebuild
    return value


def _build_unstable_class(form: str, keep: str) -> str:
    second = set(_HANGUL_VT)
    for cp in range(0x110000):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<"):
            parts = d.split()
            if len(parts) == 2:
                second.add(int(parts[1], 16))
    skip = {ord(c) for c in keep}
    ranges: list[list[int]] = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or cp in skip:
            continue
        ch = chr(cp)
        if (
            cp in second
            or unicodedata.combining(ch)
            or unicodedata.category(ch) == "Cn"
            or not unicodedata.is_normalized(form, ch)
        ):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    body = "".join(rf"\x{{{a:X}}}" if a == b else rf"\x{{{a:X}}}-\x{{{b:X}}}" for a, b in ranges)
    return f"[{body}]"


class FixUnicodeConfig(StepConfig):
    form: NormalForm = "NFC"
    fix_mojibake: bool = True
    # Remove control characters (but \t \n; \r\n, \r, VT, FF become \n), zero-width
    # characters, BOMs anywhere, and soft hyphens.
    remove_control: bool = True
    # Keep ZWJ/ZWNJ (U+200D/U+200C): needed by emoji sequences, Persian, Indic scripts.
    keep_joiners: bool = False
    # With NFKC/NFKD, keep full-width CJK punctuation (，！？：；（）～…) and U+3000.
    protect_cjk_punct: bool = True
    # With NFKC/NFKD, keep circled/enclosed numbers, super/subscripts, fractions, Roman
    # numerals, ™ (SYMBOLS_PROTECTED).
    protect_symbols: bool = True
    # Remove private-use characters U+E000-U+F8FF (with `remove_control`).
    remove_private_use: bool = True
    # With fix_mojibake: decode GBK text shown as Latin-1 (º½Ïß -> 航线) where it decodes
    # to Chinese (corpuskit.text.mojibake; ftfy only repairs text that was UTF-8).
    fix_gbk_latin1: bool = True


def _ftfy_config():
    from ftfy import TextFixerConfig

    # Only repair what is broken: no HTML unescaping (clean_text does that), no
    # normalization (this step does that), quotes, widths, ligatures, line breaks left as is.
    return TextFixerConfig(
        unescape_html=False,
        normalization=None,
        uncurl_quotes=False,
        fix_character_width=False,
        fix_latin_ligatures=False,
        fix_line_breaks=False,
        explain=False,
    )


@functools.cache
def _protected_split(keep: str) -> re.Pattern[str]:
    return re.compile(f"([{re.escape(keep)}])")


def _normalize_protected(text: str, form: str, keep: str) -> str:
    """NFKC/NFKD in Python, leaving the `keep` characters as they are (rare fallback)."""
    parts = _protected_split(keep).split(text)
    return "".join(p if i % 2 else unicodedata.normalize(form, p) for i, p in enumerate(parts))


def _repair_rows(
    text: pl.Series, candidate: str, repair: Callable[[str], str]
) -> tuple[pl.Series, int]:
    """`repair` (Python, per document) on the rows `candidate` flags; (text, rows changed)."""
    idx = text.str.contains(candidate).fill_null(False).arg_true()
    if idx.len() == 0:
        return text, 0
    before = text.gather(idx).to_list()
    after = [repair(s) for s in before]
    repaired = sum(a != b for a, b in zip(before, after, strict=True))
    if not repaired:
        return text, 0
    return text.clone().scatter(idx, pl.Series(after, dtype=pl.String())), repaired


class FixUnicode(MapStep):
    """Repair mojibake (ftfy), remove control/zero-width characters, normalize Unicode."""

    Config = FixUnicodeConfig
    columns: ClassVar[dict[str, pl.DataType]] = {}

    def setup(self) -> None:
        c: FixUnicodeConfig = self.config
        self._ftfy = None
        if c.fix_mojibake:
            import ftfy

            config = _ftfy_config()
            self._ftfy = lambda s: ftfy.fix_text(s, config)
        if c.form != "none":
            unstable_class(c.form, self._keep())  # cached per process: built here, not in a batch

    def _keep(self) -> str:
        """Characters the normalization leaves alone (protected CJK punctuation, symbols)."""
        c: FixUnicodeConfig = self.config
        if c.form not in ("NFKC", "NFKD"):
            return ""
        return (CJK_PROTECTED if c.protect_cjk_punct else "") + (
            SYMBOLS_PROTECTED if c.protect_symbols else ""
        )

    def _transient(self) -> tuple[str, ...]:
        return ("_ftfy",)

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        self.ensure_ready()
        c: FixUnicodeConfig = self.config
        original = batch.get_column("text").cast(pl.String)
        repaired = changed = 0
        # One scan for the union of the three passes' row gates: a row none of them
        # picks is left alone by all three, so only the picked rows go through them.
        gates = self._gates()
        rows = original.str.contains("|".join(gates)).fill_null(False).arg_true() if gates else []
        text = original
        if len(rows):
            before = original.gather(rows)
            fixed = before
            if self._gbk():
                fixed, gbk = self._fix_gbk_latin1(fixed)
                self.count("gbk_latin1_repaired", gbk)
            if c.fix_mojibake:
                fixed, repaired = self._fix_mojibake(fixed)
            if c.remove_control:
                fixed = self._remove_invisible(fixed)
            if c.form != "none":
                fixed = self._normalize(fixed, c.form, self._keep())
            changed = int((fixed != before).fill_null(False).sum())
            text = original.clone().scatter(rows, fixed)
        elif self._gbk():
            self.count("gbk_latin1_repaired", 0)
        if c.fix_mojibake:
            self.count("mojibake_repaired", repaired)
        self.count("docs_changed", changed)
        return batch.with_columns(text.alias("text"))

    def _gbk(self) -> bool:
        c: FixUnicodeConfig = self.config
        return c.fix_mojibake and c.fix_gbk_latin1

    def _invisible_class(self) -> str:
        """The characters `remove_control` drops (a character-class body)."""
        c: FixUnicodeConfig = self.config
        return (
            _CONTROL
            + _INVISIBLE
            + ("" if c.keep_joiners else _JOINERS)
            + (_PRIVATE_USE if c.remove_private_use else "")
        )

    def _gates(self) -> list[str]:
        """The row gate of each enabled pass (a row outside all of them is unchanged)."""
        c: FixUnicodeConfig = self.config
        gates = []
        if self._gbk():
            gates.append(GBK_LATIN1_CANDIDATE)
        if c.fix_mojibake:
            gates.append(MOJIBAKE_CANDIDATE)
        if c.remove_control:
            gates.append(rf"[\r\x{{0B}}\x{{0C}}{self._invisible_class()}]")
        if c.form != "none":
            gates.append(unstable_class(c.form, self._keep()))
        return gates

    def _fix_mojibake(self, text: pl.Series) -> tuple[pl.Series, int]:
        return _repair_rows(text, MOJIBAKE_CANDIDATE, self._ftfy)

    def _fix_gbk_latin1(self, text: pl.Series) -> tuple[pl.Series, int]:
        return _repair_rows(text, GBK_LATIN1_CANDIDATE, repair_gbk_latin1)

    def _remove_invisible(self, text: pl.Series) -> pl.Series:
        c: FixUnicodeConfig = self.config
        drop = self._invisible_class()

        def rewrite(col: pl.Expr) -> pl.Expr:
            col = col.str.replace_all(r"\r\n?|[\x{0B}\x{0C}]", "\n")
            if c.keep_joiners:
                return col.str.replace_all(f"[{drop}]+", "")
            # ZWJ inside emoji stays: stand in for it (twice: a match takes the emoji after
            # it, which may open the next pair), drop, put it back.
            for _ in range(2):
                col = col.str.replace_all(_EMOJI_ZWJ, f"${{1}}{_ZWJ_STAND_IN}${{2}}")
            col = col.str.replace_all(f"[{drop}]+", "")
            return col.str.replace_all(_ZWJ_STAND_IN, "\u200d", literal=True)

        pattern = rf"[\r\x{{0B}}\x{{0C}}{drop}]"
        if c.keep_joiners:
            return rewrite_matching(text, pattern, rewrite)
        # Rows that already hold the stand-in keep the old behaviour (no emoji exception).
        clash = text.str.contains(_ZWJ_STAND_IN, literal=True).fill_null(False)
        hit = text.str.contains(pattern).fill_null(False)
        out = rewrite_rows(text, hit & ~clash, rewrite)
        return rewrite_rows(out, hit & clash, lambda col: col.str.replace_all(f"[{drop}]+", ""))

    def _normalize(self, text: pl.Series, form: str, keep: str) -> pl.Series:
        # Only rows holding a character the form may change; the others are invariant.
        idx = text.str.contains(unstable_class(form, keep)).fill_null(False).arg_true()
        if idx.len() == 0:
            return text
        sub = text.gather(idx)
        if "，" in keep:
            # The protected ， and ： inside full-width numbers and times are separators,
            # not punctuation: １，６３３．８２ -> 1,633.82, not 1，633.82.
            sub = rewrite_rows(sub, number_rows(sub), convert_numbers)
        col = pl.col("t")
        if keep:
            # Map protected marks to private-use stand-ins, normalize, map back. Documents
            # that already contain a stand-in take the exact Python path instead.
            stand_ins = [chr(_PUA_BASE + i) for i in range(len(keep))]
            expr = (
                col.str.replace_many(list(keep), stand_ins)
                .str.normalize(form)
                .str.replace_many(stand_ins, list(keep))
            )
        else:
            expr = col.str.normalize(form)
        out = sub.to_frame("t").select(expr).to_series()
        if keep:
            clash = sub.str.contains(_PUA_RANGE).fill_null(False).arg_true()
            if clash.len():
                slow = [_normalize_protected(s, form, keep) for s in sub.gather(clash).to_list()]
                out = out.scatter(clash, pl.Series(slow, dtype=pl.String()))
        return text.clone().scatter(idx, out)
