"""Rewrite only the rows that need it.

A Polars `str.replace_all` copies every row even where nothing matches, and a
`when/then` evaluates both branches on all rows. Most cleaning passes change a small
share of documents, so a cheap `contains` picks the rows first and the expensive
rewrite runs on those alone.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl


def rewrite_rows(
    text: pl.Series, mask: pl.Series, rewrite: Callable[[pl.Expr], pl.Expr]
) -> pl.Series:
    """`rewrite(pl.col(...))` applied where `mask` is true; other rows are kept as they are."""
    idx = mask.fill_null(False).arg_true()
    if idx.len() == 0:
        return text
    if idx.len() == text.len():
        return text.to_frame("t").select(rewrite(pl.col("t"))).to_series().alias(text.name)
    sub = text.gather(idx).to_frame("t").select(rewrite(pl.col("t"))).to_series()
    return text.clone().scatter(idx, sub)


def rewrite_matching(
    text: pl.Series, pattern: str, rewrite: Callable[[pl.Expr], pl.Expr]
) -> pl.Series:
    """`rewrite` applied to the rows whose text contains `pattern` (a regex)."""
    return rewrite_rows(text, text.str.contains(pattern), rewrite)


def rewrite_frame_rows(
    frame: pl.DataFrame, column: str, mask: pl.Series, expr: pl.Expr
) -> pl.DataFrame:
    """`frame` with `column` replaced by `expr` (which may read other columns) where `mask`."""
    idx = mask.fill_null(False).arg_true()
    if idx.len() == 0:
        return frame
    if idx.len() == frame.height:
        return frame.with_columns(expr.alias(column))
    new = frame.get_column(column).clone()
    new.scatter(idx, frame[idx].select(expr.alias(column)).to_series())
    return frame.with_columns(new)
