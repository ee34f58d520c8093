"""The largest duplicate clusters: what each deduplication step dropped as a copy of what."""

from __future__ import annotations

import polars as pl

from corpuskit.report.page import Section, esc, table
from corpuskit.report.reasons import doc_block
from corpuskit.report.run import Run
from corpuskit.report.samples import first_per_key

TOP = 10
MEMBERS = 4


def section(run: Run) -> Section:
    global_steps = [s.name for s in run.steps if s.kind == "global"]
    title = "Largest duplicate clusters"
    if not global_steps or not run.rejected_files:
        return Section("dups", title, "<p>No deduplication step rejected anything.</p>")
    key = pl.concat_str(pl.col("step"), pl.lit(" · "), pl.col("detail"))
    clusters = (
        pl.scan_parquet(run.rejected_files)
        .filter(pl.col("step").is_in(global_steps) & pl.col("detail").is_not_null())
        .group_by("step", "detail")
        .len("dropped")
        .sort(["dropped", "detail"], descending=[True, False])
        .head(TOP)
        .collect()
    )
    if clusters.height == 0:
        return Section("dups", title, "<p>No deduplication step rejected anything.</p>")
    keys = clusters.select(key.alias("k"))["k"].to_list()
    members = first_per_key(run.rejected_files, key, MEMBERS, ["id", "text"], keys=keys)
    kept_ids = [_kept_id(d) for d in clusters["detail"].to_list()]
    kept = (
        run.kept(["id", "text"])
        .filter(pl.col("id").is_in(kept_ids))
        .with_columns(pl.col("text").str.slice(0, 700))
        .collect()
    )
    kept_text = dict(kept.iter_rows())
    parts = [
        '<p class="note">A cluster is the documents a step dropped as copies of one kept '
        f"document (its id in the step's detail). The {TOP} largest, {MEMBERS} members each.</p>"
    ]
    for (step, detail, dropped), k in zip(clusters.iter_rows(), keys, strict=True):
        rows = [
            ["kept", detail, doc_block(kept_text.get(detail, "(not among the kept documents)"))]
        ]
        if members.height:
            for r in members.filter(pl.col("_key") == k).iter_rows(named=True):
                rows.append(["dropped", r["id"], doc_block(r["text"])])
        parts.append(
            f"<details><summary><b>{esc(step)}</b>: {dropped + 1:,} documents "
            f"({dropped:,} dropped) around <code>{esc(detail)}</code></summary>"
            + table(["", "id", "text"], rows)
            + "</details>"
        )
    return Section("dups", title, "".join(parts))


def _kept_id(detail: str) -> str:
    """The kept document's id in a dedup step's detail ("copy of ID" or the id itself)."""
    return detail.removeprefix("copy of ")
