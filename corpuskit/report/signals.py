"""A histogram of every signal column, the step's thresholds drawn on it, and the share of
documents each threshold would drop were it elsewhere (the would-be decisions)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import polars as pl

from corpuskit.report import charts
from corpuskit.report.page import Charts, Section, esc
from corpuskit.report.run import KEPT, WOULD_REJECT, Run

BINS = 40
FATES = ["kept", "rejected here", "rejected later"]
ANALYZE_FATES = ["would pass", "would be rejected here", "rejected by another step"]


def signal_values(run: Run) -> pl.DataFrame:
    """Every document that has a signal: its signal values (Float64), step and reason
    ('kept' for kept documents; in an analyze run, the first reason it would get)."""
    cols = run.signal_columns
    kept_cols = [c for c in cols if c in run.schema]
    extra = [WOULD_REJECT] if WOULD_REJECT in run.schema else []
    kept = run.kept([*kept_cols, *extra]).with_columns(
        [pl.col(c).cast(pl.Float64) for c in kept_cols], step=pl.lit(KEPT), reason=pl.lit(KEPT)
    )
    if extra:
        joined = pl.col(WOULD_REJECT).list.join("|")
        kept = kept.with_columns(
            reason=pl.when(joined.fill_null("") == "").then(pl.lit(KEPT)).otherwise(joined)
        )
    rejected = run.rejected_signals.select("step", "reason", *cols)
    return pl.concat(
        [kept.select("step", "reason", *kept_cols).collect(), rejected], how="diagonal_relaxed"
    )


def fate_expr(step_name: str, analyze: bool) -> pl.Expr:
    here = pl.col("reason").str.contains(f"(^|\\|){re.escape(step_name)}:", literal=False)
    if analyze:
        return (
            pl.when(pl.col("reason") == KEPT)
            .then(pl.lit(ANALYZE_FATES[0]))
            .when(here)
            .then(pl.lit(ANALYZE_FATES[1]))
            .otherwise(pl.lit(ANALYZE_FATES[2]))
        )
    return (
        pl.when(pl.col("step") == KEPT)
        .then(pl.lit(FATES[0]))
        .when(pl.col("step") == step_name)
        .then(pl.lit(FATES[1]))
        .otherwise(pl.lit(FATES[2]))
    )


def quantile_ranges(frame: pl.DataFrame, columns: list[str]) -> dict[str, tuple[float, float]]:
    """The 0.1% and 99.9% quantiles of each column's finite values, in one pass."""
    finite = {c: pl.col(c).filter(pl.col(c).is_finite()) for c in columns}
    row = frame.select(
        *(finite[c].quantile(0.001).alias(f"{c}:lo") for c in columns),
        *(finite[c].quantile(0.999).alias(f"{c}:hi") for c in columns),
    ).row(0, named=True)
    return {c: (row[f"{c}:lo"], row[f"{c}:hi"]) for c in columns}


def histogram_data(
    frame: pl.DataFrame,
    column: str,
    span: tuple[float | None, float | None],
    cuts: list[tuple[str, str, float]],
    integer: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Binned counts by fate (`frame` has `fate`), and per threshold the share it would drop
    at each bin edge."""
    lo, hi = span
    if lo is None or hi is None:
        return [], []
    for _, _, t in cuts:
        lo, hi = min(lo, t), max(hi, t)
    if hi <= lo:
        hi = lo + 1.0
    width = (hi - lo) / BINS
    if integer and width < 1:
        width, hi = 1.0, lo + max(1.0, np.ceil(hi - lo + 1))
    nbins = max(1, int(np.ceil((hi - lo) / width)))
    binned = (
        frame.lazy()
        .select(pl.col(column).alias("v"), "fate")
        .filter(pl.col("v").is_finite())
        .with_columns(b=((pl.col("v") - lo) / width).floor().clip(0, nbins - 1).cast(pl.Int32))
        .group_by("b", "fate")
        .len()
        .sort("b", "fate")
        .collect()
    )
    bins = [
        {"lo": lo + b * width, "hi": lo + (b + 1) * width, "fate": fate, "n": n}
        for b, fate, n in binned.iter_rows()
    ]
    counts = np.zeros(nbins)
    for b, _, n in binned.iter_rows():
        counts[b] += n
    total = counts.sum() or 1.0
    below = np.concatenate([[0.0], np.cumsum(counts)])  # documents under each edge
    edges = lo + width * np.arange(nbins + 1)
    cumulative = []
    for label, op, _ in cuts:
        if op not in ("<", "<=", ">", ">="):
            continue
        share = below / total if op in ("<", "<=") else 1 - below / total
        cumulative.extend(
            {"x": float(x), "share": float(s), "docs": round(s * total), "rule": label}
            for x, s in zip(edges, share, strict=True)
        )
    return bins, cumulative


def section(run: Run) -> Section:
    c = Charts("signals")
    cols = run.signal_columns
    if not cols:
        return Section("signals", "Signals", "<p>No step of this recipe adds a numeric signal.</p>")
    values = signal_values(run)
    fates = ANALYZE_FATES if run.analyze else FATES
    parts = [
        '<p class="note">Each histogram counts the documents that reached the step, by fate; '
        "a dashed rule is a threshold of the step's rules; the grey line (right axis) is the "
        "share of those documents the rule would drop with its threshold at x. Values past "
        "the 0.1% / 99.9% quantiles are counted in the edge bins.</p>"
    ]
    absent = [c for c in cols if c not in run.schema]
    if absent:
        parts.append(
            '<p class="warn">The kept shards do not hold '
            f"{esc(', '.join(absent))} (output.columns): their histograms count only the "
            "rejected documents. Run with output.columns: all (or --analyze) to see them whole.</p>"
        )
    for step in run.steps:
        mine = [col for col in step.columns if col in cols and col in values.columns]
        if not mine:
            continue
        framed = values.select(*mine, fate=fate_expr(step.name, run.analyze))
        spans = quantile_ranges(framed, mine)
        parts.append(f"<h3>{esc(step.name)}</h3><div class=grid>")
        for col in mine:
            cuts = [
                (f"{reason}: {cmp}", cmp.op, float(cmp.value))
                for reason, cmps in step.thresholds.items()
                for cmp in cmps
                if cmp.column == col
                and isinstance(cmp.value, int | float)
                and not isinstance(cmp.value, bool)
            ]
            integer = cols[col].is_integer()
            bins, cumulative = histogram_data(framed, col, spans[col], cuts, integer)
            if not bins:
                continue
            rules = [{"value": t, "rule": label} for label, _, t in cuts]
            parts.append(c.place(charts.histogram(bins, rules, cumulative, title=col, fates=fates)))
        parts.append("</div>")
    return Section("signals", "Signals and thresholds", "".join(parts), c.specs)
