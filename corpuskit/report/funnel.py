"""The funnel: documents and characters into each step, kept and rejected by it."""

from __future__ import annotations

from typing import Any

import polars as pl

from corpuskit.report import charts
from corpuskit.report.page import Charts, Section, table
from corpuskit.report.run import Run


def funnel_rows(run: Run) -> list[dict[str, Any]]:
    """Per step (read first): docs in/kept/rejected from the ledger; characters from the
    ledger where the run counted them, else rejected characters from the rejected shards."""
    rejected_chars = dict(
        run.rejected(["step", "text"])
        .group_by("step")
        .agg(pl.col("text").str.len_chars().sum())
        .collect()
        .iter_rows()
    )
    rows = []
    for row in run.manifest["ledger"]:
        name = row["step"].split(":", 1)[-1]
        chars_in, chars_out = row.get("chars_in"), row.get("chars_out")
        rows.append(
            {
                "step": row["step"],
                "docs in": row["in"],
                "docs kept": row["out"],
                "docs rejected": row["rejected"],
                "chars in": chars_in,
                "chars kept": chars_out,
                "chars rejected": rejected_chars.get(name, 0),
                "seconds": row["seconds"],
            }
        )
    return rows


def section(run: Run) -> Section:
    rows = funnel_rows(run)
    c = Charts("funnel")
    note = (
        '<p class="note">Characters: <i>trimmed</i> are those a step removed from the texts '
        "it kept (cleaning, line filters); <i>rejected</i> those of the documents it dropped.</p>"
    )
    order = [r["step"] for r in rows]
    docs = [
        {"step": r["step"], "fate": fate, "documents": r[f"docs {fate}"]}
        for r in rows
        for fate in ("kept", "rejected")
    ]
    chars = []
    for r in rows:
        trimmed = None
        if r["chars in"] is not None:
            trimmed = max(0, r["chars in"] - r["chars kept"] - r["chars rejected"])
            chars.append({"step": r["step"], "fate": "kept", "characters": r["chars kept"]})
            chars.append({"step": r["step"], "fate": "trimmed", "characters": trimmed})
        r["chars trimmed"] = trimmed
        chars.append({"step": r["step"], "fate": "rejected", "characters": r["chars rejected"]})
    t = run.totals
    body = (
        f"<p>read <b>{t['read']:,}</b> · kept <b>{t['kept']:,}</b> · rejected "
        f"<b>{t['rejected']:,}</b> documents"
        + (" · <b>analyze run</b>: nothing was dropped by a filter" if run.analyze else "")
        + "</p><div class=grid>"
        + c.place(
            charts.stacked_bars(
                docs,
                "step",
                "documents",
                "fate",
                title="documents per step",
                order=order,
                stack_order=["kept", "rejected"],
            )
        )
        + c.place(
            charts.stacked_bars(
                chars,
                "step",
                "characters",
                "fate",
                title="characters per step",
                order=order,
                stack_order=["kept", "trimmed", "rejected"],
            )
        )
        + "</div>"
        + note
        + table(
            [
                "step",
                "docs in",
                "kept",
                "rejected",
                "chars in",
                "chars kept",
                "chars rejected",
                "chars trimmed",
            ],
            [
                [
                    r["step"],
                    r["docs in"],
                    r["docs kept"],
                    r["docs rejected"],
                    r["chars in"] if r["chars in"] is not None else "-",
                    r["chars kept"] if r["chars kept"] is not None else "-",
                    r["chars rejected"],
                    r["chars trimmed"] if r["chars trimmed"] is not None else "-",
                ]
                for r in rows
            ],
            numeric={1, 2, 3, 4, 5, 6, 7},
        )
    )
    return Section("funnel", "Funnel", body, c.specs)
