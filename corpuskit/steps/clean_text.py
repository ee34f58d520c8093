"""clean_text: decode HTML entities (also broken ones), strip HTML tags, normalize whitespace.

Tags and whitespace are Polars regex passes over the whole `text` column. Entities are
decoded in Python (html.unescape per entity), but only in documents that a vectorized
regex flags as carrying one; `&amp;amp;` chains are collapsed vectorized first.
"""

from __future__ import annotations

import html
import html.entities
import re
from typing import ClassVar

import polars as pl

from corpuskit.steps.base import MapStep, StepConfig
from corpuskit.steps.subset import rewrite_matching

# --- entities -----------------------------------------------------------------------------
# Well-formed references, semicolon required: "&not" in a URL ("?a=1&notify=2") stays.
_ENTITY_PATTERN = r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
_ENTITY = re.compile(_ENTITY_PATTERN)
# Broken references whose '&' was lost or replaced by a space, as in AG News
# ("Fed #39;s", "In  quot;helping"). Named ones only after a non-word character, so
# "aliquot;" or "camp;" are left alone.
_BARE_NUMERIC_PATTERN = r"#[0-9]{2,4};|#[xX][0-9a-fA-F]{2,4};"
_BARE_NAMES = ("quot", "amp", "lt", "gt", "apos", "nbsp")
_BARE = re.compile(
    r"(?P<sp> ?)(?:\#(?P<dec>[0-9]{2,4});|\#[xX](?P<hex>[0-9a-fA-F]{2,4});"
    rf"|(?<![\w&])(?P<name>{'|'.join(_BARE_NAMES)});)"
    r"(?=(?P<next>\w)?)"
)
# Characters a bare numeric reference may decode to (ASCII punctuation, cp1252 and Latin-1
# symbols, general punctuation, euro): "#12;" stays, it is more likely an issue number.
_BARE_NUMERIC_OK = {*range(33, 48), *range(58, 65), *range(91, 97), *range(123, 127)}
_BARE_NUMERIC_OK |= {*range(128, 256), *range(0x2010, 0x2070), 0x20AC}
# A space before a bare reference is taken for its lost '&' and dropped before apostrophes
# and closing quotes ("Fed #39;s" -> "Fed's"), and before '"' when no word follows it (a
# closing quote: "hi quot; he" -> 'hi" he'). Doubled spaces are left to `whitespace`.
_GLUE_ALWAYS = {"'", "\u2019", "\u201d"}
_GLUE_WHEN_CLOSING = {'"'}


def _bare(m: re.Match[str]) -> str:
    if m["name"]:
        char = html.unescape(f"&{m['name']};")
    else:
        code = int(m["dec"]) if m["dec"] else int(m["hex"], 16)
        if code not in _BARE_NUMERIC_OK:
            return m[0]
        char = html.unescape(f"&#{code};")  # 146 -> ’ like browsers do
    space = m["sp"]
    if char in _GLUE_ALWAYS or (char in _GLUE_WHEN_CLOSING and not m["next"]):
        space = ""
    return space + char


def decode_entities(text: str) -> str:
    """Decode well-formed and broken HTML character references in one document.

    The reference implementation; CleanText does the common cases vectorized first and
    hands only documents with leftovers to this function.
    """
    text = re.sub("&(?:amp;)+", "&", text)
    for _ in range(4):  # "&#38;quot;" needs two rounds
        decoded = _ENTITY.sub(lambda m: html.unescape(m[0]), text)
        if decoded == text:
            break
        text = decoded
    return _BARE.sub(_bare, text)


def _hex_forms(code: int) -> list[str]:
    return sorted({f"x{code:x}", f"x{code:X}", f"X{code:x}", f"X{code:X}"})


def _entity_table() -> tuple[list[str], list[str]]:
    """Literal -> replacement for the common references, for one Aho-Corasick pass."""
    table = {name: char for name, char in html.entities.html5.items() if name.endswith(";")}
    table = {f"&{name}": char for name, char in table.items()}
    codes = [*range(32, 0x250), *range(0x2000, 0x2070), 0x20AC, 0x2122]
    for code in codes:
        char = html.unescape(f"&#{code};")
        for form in [str(code), *_hex_forms(code)]:
            table[f"&#{form};"] = char
    for code in _BARE_NUMERIC_OK:
        char = html.unescape(f"&#{code};")
        for form in [str(code), *_hex_forms(code)]:
            table[f"#{form};"] = char
    return list(table), list(table.values())


_TABLE = _entity_table()
_GLUE_BARE = r"#(?:39|146|148|8217|8221)|#[xX](?:27|2019|201[dD])"


def _decode_common(col: pl.Expr) -> pl.Expr:
    """The common well-formed and bare references, vectorized (same rules as `_bare`)."""
    names = "|".join(_BARE_NAMES)
    return (
        col.str.replace_all("&(?:amp;)+", "&")
        # the space that was the '&' of an apostrophe / closing quote goes
        .str.replace_all(rf" ((?:{_GLUE_BARE});)", "${1}")
        .str.replace_all(" apos;", "&apos;", literal=True)
        .str.replace_all(r"(?: |(^|[^\w&;]))(quot|#34|#[xX]22);(\W|$)", "${1}&${2};${3}")
        # other bare named references become well-formed, then one table pass decodes all
        .str.replace_all(rf"(^|[^\w&;])({names});", "${1}&${2};")
        .str.replace_many(*_TABLE)
    )


_LEFTOVER = f"{_ENTITY_PATTERN}|{_BARE_NUMERIC_PATTERN}"
# Every reference `_decode_common` rewrites holds '&' or '#', or is a bare name.
_ENTITY_CANDIDATE = rf"[&#]|(?:{'|'.join(_BARE_NAMES)});"


# --- tags ---------------------------------------------------------------------------------
_BLOCK_TAGS = (
    "address|article|aside|blockquote|body|br|caption|center|dd|details|dialog|div|dl|dt"
    "|fieldset|figcaption|figure|footer|form|h[1-6]|head|header|hr|html|li|main|nav|ol|p"
    "|pre|section|summary|table|tbody|tfoot|thead|title|tr|ul"
)
_CELL_TAGS = "td|th"
_INLINE_TAGS = (
    "a|abbr|acronym|audio|b|bdi|bdo|big|button|canvas|cite|code|data|del|dfn|em|embed|font"
    "|i|iframe|img|input|ins|kbd|label|link|mark|meta|nobr|noscript|object|option|param"
    "|picture|q|s|samp|select|small|source|span|strike|strong|sub|sup|svg|textarea|time|tt"
    "|u|var|video|wbr"
)


def _tag(names: str) -> str:
    # A known tag name, then either nothing or attributes containing '=': "a<b and c>d"
    # and "x < y > z" are not tags, "<a href=...>", "<br/>", "<p >" are.
    return rf"(?i)</?(?:{names})(?:\s[^<>]*=[^<>]*)?\s*/?>"


_DROP_BLOCKS = r"(?is)<script\b[^>]*>.*?</script\s*>|<style\b[^>]*>.*?</style\s*>"
_DROP_MARKUP = r"(?s:<!--.*?-->)|(?i:<!doctype[^<>]*>)"


def _other_spaces(keep_ideographic: bool) -> str:
    """Spaces other than ' ' that become ' ' (a character-class body)."""
    other = r"\t\x{A0}\x{1680}\x{2000}-\x{200A}\x{202F}\x{205F}"
    return other if keep_ideographic else other + r"\x{3000}"


def _whitespace_candidates(keep_ideographic: bool) -> str:
    """Rows where `_whitespace` can change something: line breaks to unify, other or
    doubled spaces, spaces at line ends, blank-line runs, leading/trailing space."""
    other = _other_spaces(keep_ideographic)
    return rf"[\r\x{{0B}}\x{{0C}}\x{{2028}}\x{{2029}}{other}]|  | \n|\n |\n\n\n|^[ \n]|[ \n]$"


class CleanTextConfig(StepConfig):
    entities: bool = True
    tags: bool = True
    whitespace: bool = True
    # U+3000 (ideographic space) is kept as is; otherwise it becomes an ordinary space
    # like other Unicode spaces (and is collapsed/trimmed with them).
    keep_ideographic_space: bool = False


class CleanText(MapStep):
    """Decode HTML entities (incl. broken '#39;'/'quot;'), strip tags, normalize whitespace."""

    Config = CleanTextConfig
    columns: ClassVar[dict[str, pl.DataType]] = {}

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        c: CleanTextConfig = self.config
        original = batch.get_column("text").cast(pl.String)
        text = original
        if c.entities:
            text = self._entities(text)
        if c.tags:
            text = rewrite_matching(text, "<", self._tags)
        if c.whitespace:
            ideographic = c.keep_ideographic_space
            text = rewrite_matching(
                text,
                _whitespace_candidates(ideographic),
                lambda col: self._whitespace(col, ideographic),
            )
        self.count("docs_changed", (text != original).fill_null(False).sum())
        return batch.with_columns(text)

    @staticmethod
    def _entities(text: pl.Series) -> pl.Series:
        text = rewrite_matching(text, _ENTITY_CANDIDATE, _decode_common).alias("text")
        # Rare forms (unknown code points, "&#0039;", unusual bare numbers) in Python.
        idx = text.str.contains(_LEFTOVER).fill_null(False).arg_true()
        if idx.len() == 0:
            return text
        decoded = [decode_entities(s) for s in text.gather(idx).to_list()]
        return text.scatter(idx, pl.Series(decoded, dtype=pl.String()))

    @staticmethod
    def _tags(col: pl.Expr) -> pl.Expr:
        return (
            col.str.replace_all(_DROP_BLOCKS, "")
            .str.replace_all(_DROP_MARKUP, "")
            .str.replace_all(_tag(_BLOCK_TAGS), "\n")
            .str.replace_all(_tag(_CELL_TAGS), " ")
            .str.replace_all(_tag(_INLINE_TAGS), "")
        )

    @staticmethod
    def _whitespace(col: pl.Expr, keep_ideographic: bool) -> pl.Expr:
        other = _other_spaces(keep_ideographic)
        # Only runs that change: a lone ' ' is no match (each match costs a replacement).
        runs = rf"[{other}][ {other}]*| [ {other}]+"
        return (
            col.str.replace_all(r"\r\n?|[\x{0B}\x{0C}\x{2028}\x{2029}]", "\n")
            .str.replace_all(runs, " ")
            .str.replace_all(r"(?m) +$|^ +", "")
            .str.replace_all(r"\n{3,}", "\n\n")
            .str.strip_chars(" \n")
        )
