"""Two runs on the same input (`report --against`): which documents changed fate, and why."""

from __future__ import annotations

import polars as pl

from corpuskit.report import charts
from corpuskit.report.page import Charts, Section, esc, table
from corpuskit.report.reasons import doc_block
from corpuskit.report.run import KEPT, Run

TOP = 15
EXAMPLES = 2


def _fates(run: Run, tag: str) -> pl.LazyFrame:
    return run.fates().select("id", pl.col("fate").alias(f"fate_{tag}"))


def _texts(run: Run, ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """id -> (detail, text) for `ids`, from the run's rejected and kept shards."""
    out: dict[str, tuple[str | None, str | None]] = {}
    rej = run.rejected(["id", "detail", "text"]).filter(pl.col("id").is_in(ids)).collect()
    kept = run.kept(["id", "text"]).filter(pl.col("id").is_in(ids)).collect()
    for i, d, t in rej.iter_rows():
        out[i] = (d, t)
    for i, t in kept.iter_rows():
        out.setdefault(i, (None, t))
    return out


def section(run: Run, other: Run) -> Section:
    c = Charts("compare")
    same_input = [i.get("sha256") for i in run.manifest.get("inputs", [])] == [
        i.get("sha256") for i in other.manifest.get("inputs", [])
    ]
    joined = (
        _fates(run, "a")
        .join(_fates(other, "b"), on="id", how="full", coalesce=True)
        .with_columns(
            pl.col("fate_a").fill_null("(absent)"), pl.col("fate_b").fill_null("(absent)")
        )
        .filter(pl.col("fate_a") != pl.col("fate_b"))
        .collect()
    )
    moves = (
        joined.group_by("fate_a", "fate_b")
        .len("documents")
        .sort(["documents", "fate_a", "fate_b"], descending=[True, False, False])
    )
    kept_a = joined.filter(pl.col("fate_a") == KEPT).height
    kept_b = joined.filter(pl.col("fate_b") == KEPT).height
    head = (
        f"<p>This run: <code>{esc(run.root)}</code> ({esc(run.manifest.get('recipe_path'))}); "
        f"other: <code>{esc(other.root)}</code> ({esc(other.manifest.get('recipe_path'))}).</p>"
        f"<p><b>{joined.height:,}</b> documents changed fate: <b>{kept_a:,}</b> kept here and "
        f"rejected (or absent) there, <b>{kept_b:,}</b> kept there and rejected (or absent) "
        "here.</p>"
    )
    if not same_input:
        head += (
            '<p class="warn">The two runs did not read the same input files (checksums differ).</p>'
        )
    rows = [{"change": f"{a} → {b}", "documents": n} for a, b, n in moves.head(TOP * 2).iter_rows()]
    parts = [head]
    if rows:
        parts.append(
            c.place(charts.bars(rows, "change", "documents", title="fate here → fate there"))
        )
    picked = joined.join(moves.head(TOP), on=["fate_a", "fate_b"]).filter(
        pl.int_range(pl.len()).over("fate_a", "fate_b") < EXAMPLES
    )
    ids = picked["id"].to_list()
    here, there = _texts(run, ids), _texts(other, ids)
    for a, b, n in moves.head(TOP).iter_rows():
        ex = picked.filter((pl.col("fate_a") == a) & (pl.col("fate_b") == b))
        tab = table(
            ["id", "here", "there", "text"],
            [
                [
                    i,
                    f"{a} {here.get(i, (None, None))[0] or ''}",
                    f"{b} {there.get(i, (None, None))[0] or ''}",
                    doc_block(here.get(i, (None, None))[1] or there.get(i, (None, None))[1]),
                ]
                for i in ex["id"].to_list()
            ],
        )
        parts.append(f"<details><summary>{esc(a)} → {esc(b)}: {n:,}</summary>{tab}</details>")
    ra, rb = run.manifest["rejected_by_reason"], other.manifest["rejected_by_reason"]
    reasons = sorted(set(ra) | set(rb), key=lambda r: -(ra.get(r, 0) + rb.get(r, 0)))
    parts.append(
        "<h3>rejections per reason</h3>"
        + table(
            ["reason", "here", "there", "difference"],
            [[r, ra.get(r, 0), rb.get(r, 0), ra.get(r, 0) - rb.get(r, 0)] for r in reasons],
            numeric={1, 2, 3},
        )
    )
    return Section("compare", "Compared with another run", "".join(parts), c.specs)
