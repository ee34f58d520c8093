"""fix_unicode: repair mojibake, drop invisible characters, normalize Unicode.

Everything runs as Polars expressions over the `text` column, except ftfy, which is per
document in Python: a vectorized regex first picks the few documents that show mojibake
byte patterns (UTF-8 read as cp1252/latin-1/cp1251, C1 controls, terminal escapes), and
only those are handed to ftfy. One scan for the union of the three passes' row gates
comes first, so the (usually many) documents that need nothing cost one regex scan.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import unicodedata
from pathlib import Path
from typing import ClassVar, Literal

import polars as pl

from corpuskit.steps.base import MapStep, StepConfig
from corpuskit.steps.subset import rewrite_matching

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
# Stand-ins from Supplementary Private Use Area-B, mapped back after normalization.
_PUA_BASE = 0x10FF00
_PUA = [chr(_PUA_BASE + i) for i in range(len(CJK_PROTECTED))]
_PUA_RANGE = rf"[\x{{{_PUA_BASE:X}}}-\x{{{_PUA_BASE + len(CJK_PROTECTED) - 1:X}}}]"
_PROTECTED_SPLIT = re.compile(f"([{re.escape(CJK_PROTECTED)}])")


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
    cached = _cache_dir() / f"unstable-{key[:16]}.txt"
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


def _cache_dir() -> Path:
    """$CORPUSKIT_CACHE_DIR, else corpuskit/ in $XDG_CACHE_HOME or ~/.cache."""
    if env := os.environ.get("CORPUSKIT_CACHE_DIR"):
        return Path(env) / "unicode"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "corpuskit" / "unicode"


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


def _normalize_protected(text: str, form: str) -> str:
    """NFKC/NFKD in Python, leaving CJK_PROTECTED characters as they are (rare fallback)."""
    parts = _PROTECTED_SPLIT.split(text)
    return "".join(p if i % 2 else unicodedata.normalize(form, p) for i, p in enumerate(parts))


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
        """Characters the normalization leaves alone (protected CJK punctuation)."""
        c: FixUnicodeConfig = self.config
        return CJK_PROTECTED if c.protect_cjk_punct and c.form in ("NFKC", "NFKD") else ""

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
            if c.fix_mojibake:
                fixed, repaired = self._fix_mojibake(fixed)
            if c.remove_control:
                fixed = self._remove_invisible(fixed)
            if c.form != "none":
                fixed = self._normalize(fixed, c.form, c.protect_cjk_punct)
            changed = int((fixed != before).fill_null(False).sum())
            text = original.clone().scatter(rows, fixed)
        if c.fix_mojibake:
            self.count("mojibake_repaired", repaired)
        self.count("docs_changed", changed)
        return batch.with_columns(text.alias("text"))

    def _invisible_class(self) -> str:
        """The characters `remove_control` drops (a character-class body)."""
        c: FixUnicodeConfig = self.config
        return _CONTROL + _INVISIBLE + ("" if c.keep_joiners else _JOINERS)

    def _gates(self) -> list[str]:
        """The row gate of each enabled pass (a row outside all of them is unchanged)."""
        c: FixUnicodeConfig = self.config
        gates = []
        if c.fix_mojibake:
            gates.append(MOJIBAKE_CANDIDATE)
        if c.remove_control:
            gates.append(rf"[\r\x{{0B}}\x{{0C}}{self._invisible_class()}]")
        if c.form != "none":
            gates.append(unstable_class(c.form, self._keep()))
        return gates

    def _fix_mojibake(self, text: pl.Series) -> tuple[pl.Series, int]:
        idx = text.str.contains(MOJIBAKE_CANDIDATE).fill_null(False).arg_true()
        if idx.len() == 0:
            return text, 0
        before = text.gather(idx).to_list()
        after = [self._ftfy(s) for s in before]
        repaired = sum(a != b for a, b in zip(before, after, strict=True))
        if not repaired:
            return text, 0
        return text.clone().scatter(idx, pl.Series(after, dtype=pl.String())), repaired

    def _remove_invisible(self, text: pl.Series) -> pl.Series:
        drop = self._invisible_class()
        return rewrite_matching(
            text,
            rf"[\r\x{{0B}}\x{{0C}}{drop}]",
            lambda col: col.str.replace_all(r"\r\n?|[\x{0B}\x{0C}]", "\n").str.replace_all(
                f"[{drop}]+", ""
            ),
        )

    def _normalize(self, text: pl.Series, form: str, protect: bool) -> pl.Series:
        # Only rows holding a character the form may change; the others are invariant.
        keep = CJK_PROTECTED if protect and form in ("NFKC", "NFKD") else ""
        idx = text.str.contains(unstable_class(form, keep)).fill_null(False).arg_true()
        if idx.len() == 0:
            return text
        sub = text.gather(idx)
        col = pl.col("t")
        if keep:
            # Map protected marks to private-use stand-ins, normalize, map back. Documents
            # that already contain a stand-in take the exact Python path instead.
            expr = (
                col.str.replace_many(list(CJK_PROTECTED), _PUA)
                .str.normalize(form)
                .str.replace_many(_PUA, list(CJK_PROTECTED))
            )
        else:
            expr = col.str.normalize(form)
        out = sub.to_frame("t").select(expr).to_series()
        if keep:
            clash = sub.str.contains(_PUA_RANGE).fill_null(False).arg_true()
            if clash.len():
                slow = [_normalize_protected(s, form) for s in sub.gather(clash).to_list()]
                out = out.scatter(clash, pl.Series(slow, dtype=pl.String()))
        return text.clone().scatter(idx, out)
