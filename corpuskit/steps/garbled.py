"""garbled: measure unrepairable mojibake; reject documents full of it, cut it from the rest.

What `fix_unicode` cannot bring back (corpuskit.text.mojibake.GARBLED_KINDS): runs of
U+FFFD and `锟斤拷`, GB2312 decoded one byte off (`?＃玻埃保蹦辏?`), UTF-8 read as
Latin-1 that lost bytes, GBK shown as Latin-1 that does not decode, private-use
characters (U+E000-U+F8FF), binary or other encodings decoded as GBK (rare ideographs
interleaved with ASCII) and uuencoded lines. A document whose garbled characters are
more than `max_ratio` of its non-blank characters is rejected (`garbled:too_garbled`);
in the others the garbled runs are removed (`remove_spans`), so the clean rest is kept.
Both are counted. Everything is Polars regex over the batch: rows without a garbled run
cost one `contains` scan.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import polars as pl
from pydantic import Field, field_validator

from corpuskit.steps.base import FilterStep, StepConfig
from corpuskit.text.chars import NON_WS
from corpuskit.text.mojibake import GARBLED_KINDS

GarbledKind = Literal[
    "replacement",
    "shifted_gbk",
    "latin1_utf8",
    "latin1_gbk",
    "private_use",
    "binary_as_gbk",
    "uuencode",
]


class GarbledConfig(StepConfig):
    # Reject when garbled characters are more than this share of the non-blank characters.
    max_ratio: float = Field(0.05, ge=0, le=1)
    # In documents kept, remove the garbled runs (else keep them, only measured).
    remove_spans: bool = True
    # Which kinds of runs count (corpuskit.text.mojibake.GARBLED_KINDS).
    kinds: tuple[GarbledKind, ...] = tuple(GARBLED_KINDS)  # type: ignore[assignment]

    @field_validator("kinds")
    @classmethod
    def _some(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("kinds must name at least one of " + ", ".join(GARBLED_KINDS))
        return tuple(dict.fromkeys(v))


class Garbled(FilterStep):
    """Reject documents over a share of unrepairable mojibake; remove it from the others."""

    Config = GarbledConfig
    columns: ClassVar[dict[str, pl.DataType]] = {
        "garbled_chars": pl.Int64(),
        "garbled_ratio": pl.Float64(),
    }

    def _pattern(self) -> str:
        c: GarbledConfig = self.config
        return "|".join(f"(?:{GARBLED_KINDS[k]})" for k in c.kinds)

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        c: GarbledConfig = self.config
        pattern = self._pattern()
        text = batch.get_column("text")
        idx = text.str.contains(pattern).fill_null(False).arg_true()
        chars = pl.Series("garbled_chars", [0] * batch.height, dtype=pl.Int64)
        ratio = pl.Series("garbled_ratio", [0.0] * batch.height, dtype=pl.Float64)
        cleaned = None
        if idx.len():
            t = pl.col("t")
            sub = (
                text.gather(idx)
                .to_frame("t")
                .with_columns(clean=t.str.replace_all(pattern, ""))
                .select(
                    "clean",
                    n=(t.str.len_chars() - pl.col("clean").str.len_chars()).cast(pl.Int64),
                    total=t.str.count_matches(NON_WS),
                )
                .with_columns(
                    r=pl.when(pl.col("total") > 0)
                    .then(pl.col("n") / pl.col("total"))
                    .otherwise(0.0)
                    .clip(upper_bound=1.0)
                )
            )
            chars = chars.scatter(idx, sub["n"])
            ratio = ratio.scatter(idx, sub["r"])
            cleaned = sub["clean"]
        out = batch.with_columns(chars, ratio)
        rejected = ~self.keeps(out)
        self.count("docs_rejected", int(rejected.sum()))
        hit = pl.Series([False] * batch.height).scatter(idx, True) if idx.len() else None
        cleaned_docs = 0
        if hit is not None and cleaned is not None:
            fix = (hit & ~rejected).arg_true()
            cleaned_docs = fix.len()
            if c.remove_spans and cleaned_docs:
                keep_rows = (~rejected).gather(idx).arg_true()
                out = out.with_columns(text.clone().scatter(fix, cleaned.gather(keep_rows)))
        self.count("docs_cleaned" if c.remove_spans else "docs_flagged", cleaned_docs)
        kept_chars = chars.filter(~rejected).sum() if c.remove_spans else 0
        self.count("chars_removed", int(kept_chars or 0))
        return out

    def rules(self) -> list[tuple[str, pl.Expr]]:
        c: GarbledConfig = self.config
        return [("too_garbled", pl.col("garbled_ratio") > c.max_ratio)]
