"""mask_pii: replace e-mails, phone numbers, IPs, ID and card numbers with placeholders.

Everything runs in Polars (Rust regex), batch-wide:

1. a cheap prefilter regex picks the documents that may hold a kind at all;
2. a candidate regex finds every candidate in those documents (`str.extract_all`), and the
   text between candidates is kept by replacing candidates with a sentinel and splitting;
3. candidates are validated with Polars expressions (full-match regex, the ID number's
   ISO 7064 MOD 11-2 checksum and birth date, the card number's Luhn checksum, the number of
   digits in a phone number), all on the exploded candidate column;
4. the document is reassembled with the placeholder in place of each valid candidate.

Candidate regexes for digit kinds are deliberately greedy over ASCII word characters
(`[0-9A-Za-z_]`), so a candidate is a maximal run and the full-match validation rejects
numbers that are part of something longer ("v2.10.300.1", "1.2.3.4.5", a 20-digit number).
Non-ASCII text next to a number (Chinese "电话13800138000") does not block a match.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import ClassVar, Literal

import polars as pl
from pydantic import Field, field_validator

from corpuskit.steps.base import MapStep, StepConfig

PIIKind = Literal["email", "phone", "ip", "id_number", "card"]
KINDS: tuple[PIIKind, ...] = ("email", "phone", "ip", "id_number", "card")
DEFAULT_PLACEHOLDERS: dict[str, str] = {
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "ip": "<IP>",
    "id_number": "<ID_NUMBER>",
    "card": "<CARD>",
}

# ASCII word boundaries: Chinese characters count as non-word, so "号13800138000" matches.
_B = r"(?-u:\b)"
_NB = r"(?-u:\B)"  # before "+" or "(": the previous character is not a word character
_W = "[0-9A-Za-z_]"

EMAIL = (
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}"
)
_IMAGE_NAME = r"(?i)\.(?:png|jpe?g|gif|svg|webp|bmp|ico|tiff?)$"  # "logo@2x.png" is no e-mail

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H = "[0-9A-Fa-f]{1,4}"
IPV6 = (
    rf"(?:{_H}:){{7}}{_H}"
    rf"|(?:{_H}:){{1,7}}:"
    rf"|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}"
    rf"|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}"
    rf"|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}"
    rf"|{_H}:(?::{_H}){{1,6}}"
    rf"|:(?::{_H}){{1,7}}"
    rf"|::(?:[Ff]{{4}}(?::0{{1,4}})?:)?{IPV4}"
    rf"|(?:{_H}:){{1,4}}:{IPV4}"
)
# Chinese resident ID: 6-digit region, birth date YYYYMMDD, 3-digit sequence, check digit.
ID_NUMBER = (
    r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9Xx]"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Card numbers: contiguous 13-19 digits, or the usual 4-4-4-4(-3) and 4-6-4/5 groupings.
CARD = (
    rf"{_W}*(?:[0-9]{{13,19}}|[0-9]{{4}}(?:[ -][0-9]{{4}}){{3}}(?:[ -][0-9]{{1,3}})?"
    rf"|[0-9]{{4}}[ -][0-9]{{6}}[ -][0-9]{{4,5}}){_W}*"
)
_PHONE_FORMS = (
    # international: +CC, optional (area), then digit groups
    rf"{_NB}\+[1-9][0-9]{{0,2}}(?:[ .-]?\([0-9]{{1,4}}\))?(?:[ .-]?[0-9]{{1,4}}){{2,5}}{_B}",
    # Chinese mobile 1[3-9]x xxxx xxxx, optionally after (+86) or 0086
    rf"(?:{_NB}\(\+?86\)[ -]?|{_B}0086[ -]?|{_B})1[3-9][0-9](?:[ -]?[0-9]{{4}}){{2}}{_B}",
    # North American: (555) 010-0199, 555-010-0199, 555.010.0199, 1-800-555-0199
    rf"(?:{_B}1[ .-]?)?(?:{_NB}\([0-9]{{3}}\)[ .-]?|{_B}[0-9]{{3}}[.-])"
    rf"[0-9]{{3}}[.-][0-9]{{4}}{_B}",
    # Chinese landline 010-12345678, 0755-1234567
    rf"{_B}0[1-9][0-9]{{1,2}}-[0-9]{{7,8}}{_B}",
)
PHONE = "|".join(_PHONE_FORMS)


def _valid_email(c: pl.Expr) -> pl.Expr:
    return ~c.str.contains(_IMAGE_NAME)


def _valid_ipv4(c: pl.Expr) -> pl.Expr:
    return c.str.contains(f"^{IPV4}$")


def _valid_ipv6(c: pl.Expr) -> pl.Expr:
    # a digit is required, so "dead::beef" or C++'s "a::b" are not taken for addresses
    return c.str.contains(f"^(?:{IPV6})$") & c.str.contains("[0-9]")


def _digit(c: pl.Expr, i: int) -> pl.Expr:
    return c.str.slice(i, 1).cast(pl.Int32, strict=False)


def _valid_id_number(c: pl.Expr) -> pl.Expr:
    """ID shape, a real birth date not in the future, and the ISO 7064 MOD 11-2 check digit."""
    born = c.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    total = pl.sum_horizontal([_digit(c, i) * w for i, w in enumerate(_ID_WEIGHTS)])
    expected = (12 - total % 11) % 11
    last = c.str.slice(17, 1).str.to_uppercase()
    got = pl.when(last == "X").then(pl.lit(10)).otherwise(last.cast(pl.Int32, strict=False))
    return (
        c.str.contains(f"^{ID_NUMBER}$")
        & born.is_not_null()
        & (born <= pl.lit(dt.date.today()))
        & (got == expected)
    )


def _valid_card(c: pl.Expr) -> pl.Expr:
    """13-19 digits starting with a major network's digit (2-6), and a valid Luhn checksum."""
    digits = c.str.replace_all("[ -]", "")
    rev = digits.str.reverse()
    parts = []
    for i in range(19):
        d = _digit(rev, i).fill_null(0)
        parts.append(d if i % 2 == 0 else 2 * d - 9 * (d > 4).cast(pl.Int32))
    return (
        c.str.contains("^[0-9][0-9 -]*[0-9]$")
        & digits.str.contains("^[2-6][0-9]{12,18}$")
        & (pl.sum_horizontal(parts) % 10 == 0)
    )


def _valid_phone(c: pl.Expr) -> pl.Expr:
    return c.str.count_matches("[0-9]").is_between(7, 15)


# A prefilter picks the rows a stage looks at: a regex, or (gate, regex) pairs whose rows
# are united, a pair's regex running only on the rows its gate (a cheap regex every match
# of the pair's regex contains) finds, or on all rows when the gate is None. Both give
# the rows the plain regex would: the gates only keep slow regexes (counted repetitions
# without a literal to start from) off the rows that cannot match.
Prefilter = str | tuple[tuple[str | None, str], ...]
_IPV6_PREFILTER: Prefilter = ((":", rf"::|(?:{_H}:){{7}}{_H}"),)
_PHONE_PREFILTER: Prefilter = (
    (None, _PHONE_FORMS[0]),
    (None, _PHONE_FORMS[1]),
    (r"[0-9]{3}[.-][0-9]{4}", _PHONE_FORMS[2]),
    (None, _PHONE_FORMS[3]),
)

# (kind, prefilter, candidate regex, validator), applied in this order: e-mails first
# (their local parts hold digits), IDs before cards (an ID may pass Luhn), phones last.
Validator = Callable[[pl.Expr], pl.Expr]
STAGES: tuple[tuple[PIIKind, Prefilter, str, Validator], ...] = (
    ("email", "@", EMAIL, _valid_email),
    (
        "ip",
        _IPV6_PREFILTER,
        rf"{_W}*:[0-9A-Za-z_:]*(?:\.[0-9]+){{0,3}}",
        _valid_ipv6,
    ),
    ("ip", r"[0-9]\.[0-9]+\.[0-9]+\.[0-9]", rf"{_W}*[0-9](?:\.[0-9]+)+{_W}*", _valid_ipv4),
    ("id_number", "[0-9]{17}", rf"{_W}*[0-9]{{17}}{_W}*", _valid_id_number),
    ("card", "[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{2}", CARD, _valid_card),
    ("phone", _PHONE_PREFILTER, PHONE, _valid_phone),
)

_SENTINELS = ("\x00", "\x01", "\x02", "\ufdd0", "\ufdd1", "\ufdd2")


def _sentinel(texts: pl.Series) -> str:
    """A character that occurs in none of `texts`, to cut them at candidates."""
    for s in _SENTINELS:
        if not texts.str.contains(s, literal=True).any():
            return s
    raise ValueError("mask_pii: no free sentinel character in this batch")


def prefilter_rows(text: pl.Series, prefilter: Prefilter) -> pl.Series:
    """Indices of the rows `prefilter` (see Prefilter) picks."""
    if isinstance(prefilter, str):
        return text.str.contains(prefilter).fill_null(False).arg_true()
    hit = pl.Series([False] * len(text), dtype=pl.Boolean)
    for gate, pattern in prefilter:
        if gate is None:
            hit = hit | text.str.contains(pattern).fill_null(False)
            continue
        idx = (text.str.contains(gate).fill_null(False) & ~hit).arg_true()
        if idx.len():
            hit = hit.scatter(idx, text.gather(idx).str.contains(pattern).fill_null(False))
    return hit.arg_true()


def mask_validated(
    text: pl.Series, prefilter: Prefilter, candidate: str, valid: Validator, placeholder: str
) -> tuple[pl.Series, pl.Series]:
    """Replace every `candidate` match for which `valid` holds; returns (text, count per row)."""
    counts = pl.Series("n", [0] * len(text), dtype=pl.Int32)
    rows = prefilter_rows(text, prefilter)
    if rows.len() == 0:
        return text, counts
    sub = text.gather(rows)
    sentinel = _sentinel(sub)
    pieces = (
        pl.DataFrame({"row": rows, "text": sub})
        .select(
            "row",
            gap=pl.col("text").str.replace_all(candidate, sentinel).str.split(sentinel),
            cand=pl.concat_list(
                pl.col("text").str.extract_all(candidate), pl.lit(None, dtype=pl.String)
            ),
        )
        .explode("gap", "cand")
        .with_columns(ok=valid(pl.col("cand")).fill_null(False))
    )
    changed = pieces.filter(pl.col("ok").any().over("row"))
    if changed.height == 0:
        return text, counts
    piece = pl.when(pl.col("ok")).then(pl.lit(placeholder)).otherwise(pl.col("cand"))
    out = changed.group_by("row", maintain_order=True).agg(
        text=pl.concat_str(pl.col("gap"), piece.fill_null("")).str.join(""),
        n=pl.col("ok").sum().cast(pl.Int32),
    )
    return text.scatter(out["row"], out["text"]), counts.scatter(out["row"], out["n"])


class MaskPIIConfig(StepConfig):
    # which kinds to mask; the signal columns of the others are null
    kinds: tuple[PIIKind, ...] = KINDS
    # placeholder per kind, overriding DEFAULT_PLACEHOLDERS
    placeholders: dict[PIIKind, str] = Field(default_factory=dict)

    @field_validator("kinds")
    @classmethod
    def _unique(cls, v: tuple[PIIKind, ...]) -> tuple[PIIKind, ...]:
        if not v:
            raise ValueError("kinds must name at least one of " + ", ".join(KINDS))
        return tuple(dict.fromkeys(v))


class MaskPII(MapStep):
    """Mask e-mails, phone numbers, IPs, Chinese ID numbers and card numbers with placeholders."""

    Config = MaskPIIConfig
    columns: ClassVar[dict[str, pl.DataType]] = {f"pii_{k}": pl.Int32() for k in KINDS}

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        c: MaskPIIConfig = self.config
        placeholders = {**DEFAULT_PLACEHOLDERS, **c.placeholders}
        text = batch["text"]
        counts: dict[str, pl.Series] = {}
        for kind, prefilter, candidate, valid in STAGES:
            if kind not in c.kinds:
                continue
            text, n = mask_validated(text, prefilter, candidate, valid, placeholders[kind])
            counts[kind] = counts[kind] + n if kind in counts else n
        signals = {
            f"pii_{k}": counts[k] if k in counts else pl.Series([None] * batch.height)
            for k in KINDS
        }
        for k, n in counts.items():
            self.count(f"pii_{k}", n.sum() or 0)
        return batch.with_columns(
            text.alias("text"),
            *[s.cast(pl.Int32).alias(name) for name, s in signals.items()],
        )
