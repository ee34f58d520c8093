"""Rejections per reason, with a few example documents and what decided for each."""

from __future__ import annotations

import polars as pl

from corpuskit.report import charts
from corpuskit.report.page import Charts, Raw, Section, esc, table
from corpuskit.report.run import WOULD_REJECT, Run
from corpuskit.report.samples import first_per_key

EXAMPLES = 3


def doc_block(text: str | None) -> Raw:
    return Raw(f'<pre class="doc">{esc(text)}</pre>')


def would_reject_counts(run: Run) -> dict[str, int]:
    """An analyze run's would-be rejections per reason (a document may count under several)."""
    counts = (
        run.kept([WOULD_REJECT])
        .explode(WOULD_REJECT)
        .drop_nulls()
        .group_by(WOULD_REJECT)
        .len()
        .sort(["len", WOULD_REJECT], descending=[True, False])
        .collect()
    )
    return dict(counts.iter_rows())


def section(run: Run) -> Section:
    c = Charts("reasons")
    reasons: dict[str, int] = dict(run.manifest["rejected_by_reason"])
    if run.analyze:
        # what the filters would have dropped; read rejects are real in an analyze run too
        reasons.update(would_reject_counts(run))
        reasons = dict(sorted(reasons.items(), key=lambda kv: -kv[1]))
    if not reasons:
        return Section("reasons", "Rejections", "<p>No document was rejected.</p>")
    rows = [{"reason": k, "documents": v} for k, v in reasons.items()]
    examples = first_per_key(
        run.rejected_files, pl.col("reason"), EXAMPLES, ["id", "detail", "text"]
    )
    if run.analyze and run.data_files:
        would = first_per_key(
            run.data_files, pl.col(WOULD_REJECT).list.first(), EXAMPLES, ["id", "text"]
        )
        if would.height:
            would = would.filter(pl.col("_key").is_not_null()).with_columns(
                detail=pl.lit("would be rejected (analyze run)")
            )
            examples = pl.concat([examples, would], how="diagonal_relaxed")
    by_reason = {}
    if examples.height:
        for (reason,), group in examples.group_by("_key"):
            by_reason[reason] = group
    read = run.totals["read"] or 1
    parts = [c.place(charts.bars(rows[:40], "reason", "documents", title="rejected documents"))]
    for reason, n in reasons.items():
        group = by_reason.get(reason)
        ex = ""
        if group is not None:
            ex = table(
                ["id", "what decided", "text"],
                [
                    [r["id"], r["detail"] or "", doc_block(r["text"])]
                    for r in group.iter_rows(named=True)
                ],
            )
        parts.append(
            f"<details><summary><b>{esc(reason)}</b>: {n:,} documents "
            f"({n / read:.1%} of those read)</summary>{ex}</details>"
        )
    return Section("reasons", "Rejections", "".join(parts), c.specs)
