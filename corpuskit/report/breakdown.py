"""Kept and rejected documents split by language, by input source and by web host."""

from __future__ import annotations

import polars as pl

from corpuskit.report import charts
from corpuskit.report.page import Charts, Section, table
from corpuskit.report.run import KEPT, LANG, Run

TOP = 25
HOST = r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/]*@)?([^/:?#]+)"


def fates_by(run: Run) -> pl.DataFrame:
    """Documents by fate (kept / rejected), language, source and host."""
    has_lang = any(LANG in s.columns for s in run.steps)
    kept = run.kept(["source", "url", *([LANG] if has_lang else [])]).with_columns(
        fate=pl.lit(KEPT)
    )
    if not has_lang:
        kept = kept.with_columns(pl.lit(None, pl.String).alias(LANG))
    rej = run.rejected_signals.lazy().with_columns(fate=pl.lit("rejected"))
    cols = ["fate", "source", "url", LANG]
    both = pl.concat([kept.select(cols), rej.select(cols)])
    return (
        both.select(
            "fate",
            "source",
            pl.col(LANG).fill_null("(not detected)").alias("language"),
            pl.col("url").str.extract(HOST, 1).str.to_lowercase().alias("host"),
        )
        .group_by("fate", "source", "language", "host")
        .len("documents")
        .collect()
    )


def _split(frame: pl.DataFrame, by: str, c: Charts, title: str) -> str:
    counts = frame.filter(pl.col(by).is_not_null()).group_by(by, "fate").agg(pl.sum("documents"))
    if counts.height == 0:
        return ""
    top = counts.group_by(by).agg(pl.sum("documents")).sort("documents", descending=True).head(TOP)
    counts = counts.filter(pl.col(by).is_in(top[by].implode()))
    rows = counts.to_dicts()
    order = top[by].to_list()
    wide = {k: {"kept": 0, "rejected": 0} for k in order}
    for r in rows:
        wide[r[by]][r["fate"]] = r["documents"]
    tab = table(
        [by, "kept", "rejected", "kept share"],
        [
            [k, v["kept"], v["rejected"], f"{v['kept'] / max(1, v['kept'] + v['rejected']):.1%}"]
            for k, v in wide.items()
        ],
        numeric={1, 2, 3},
    )
    chart = charts.stacked_bars(
        rows, by, "documents", "fate", title=title, order=order, stack_order=["kept", "rejected"]
    )
    return f"<div class=grid>{c.place(chart)}<div>{tab}</div></div>"


def section(run: Run) -> Section:
    c = Charts("split")
    frame = fates_by(run)
    body = (
        '<p class="note">Language is the one the language step detected ("not detected": '
        f"rejected before it ran, or no language step). The top {TOP} of each.</p>"
        + _split(frame, "language", c, "by language")
        + _split(frame, "source", c, "by input file")
        + (_split(frame, "host", c, "by web host") or '<p class="note">No document has a URL.</p>')
    )
    return Section("split", "Kept and rejected by language, source, host", body, c.specs)
