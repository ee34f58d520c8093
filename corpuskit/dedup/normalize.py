"""Text normalization before hashing: which differences two copies may have and still match."""

from __future__ import annotations

import polars as pl
from pydantic import BaseModel, ConfigDict

# Unicode punctuation and symbols (Rust regex classes), e.g. ",.!?，。“”【】$+<>".
PUNCTUATION = r"[\p{P}\p{S}]+"


class Normalize(BaseModel):
    """Normalization applied to the text before hashing (the stored text is unchanged).

    lowercase: case-fold; whitespace: collapse runs of whitespace to one space and trim;
    punctuation: remove Unicode punctuation and symbols; digits: every digit becomes 0
    (so "page 12" and "page 47" match).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    lowercase: bool = False
    whitespace: bool = True
    punctuation: bool = False
    digits: bool = False


def normalized(text: pl.Expr, norm: Normalize, *, whitespace: bool | None = None) -> pl.Expr:
    """`text` normalized as `norm` says; `whitespace` overrides norm.whitespace when given."""
    if norm.lowercase:
        text = text.str.to_lowercase()
    if norm.punctuation:
        text = text.str.replace_all(PUNCTUATION, "")
    if norm.digits:
        text = text.str.replace_all(r"\d", "0")
    if norm.whitespace if whitespace is None else whitespace:
        text = text.str.replace_all(r"\s+", " ").str.strip_chars(" ")
    return text


class TokenNormalize(BaseModel):
    """Normalization before shingling. Whitespace needs no option: tokens split on it.

    lowercase: case-fold; punctuation: remove Unicode punctuation and symbols; digits:
    every digit becomes 0.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    lowercase: bool = True
    punctuation: bool = False
    digits: bool = False

    def as_normalize(self) -> Normalize:
        return Normalize(
            lowercase=self.lowercase,
            whitespace=False,
            punctuation=self.punctuation,
            digits=self.digits,
        )
