"""`corpuskit report`: one self-contained HTML page that shows what a run kept, dropped and
why (funnel, reasons with examples, signal histograms with thresholds, splits, duplicate
clusters, cleaning samples, run facts), optionally compared with another run."""

from __future__ import annotations

from pathlib import Path


def build_report(
    output: str | Path,
    to: str | Path | None = None,
    against: str | Path | None = None,
    sample: int = 200,
) -> Path:
    """Write the report of the run in `output` (default: `<output>/report.html`)."""
    # imported here: `python -m corpuskit.report.bundle` imports this package first
    from corpuskit.report import (
        breakdown,
        cleaning,
        compare,
        duplicates,
        facts,
        funnel,
        reasons,
        signals,
    )
    from corpuskit.report.page import render
    from corpuskit.report.run import Run

    run = Run(output)
    path = Path(to) if to is not None else run.root / "report.html"
    sections = [funnel.section(run), reasons.section(run), signals.section(run)]
    if against is not None:
        sections.insert(0, compare.section(run, Run(against)))
    sections += [
        breakdown.section(run),
        duplicates.section(run),
        cleaning.section(run, sample),
        facts.section(run),
    ]
    t = run.totals
    subtitle = (
        f"{run.manifest.get('recipe_path') or run.root} · read {t['read']:,} · kept {t['kept']:,}"
        f" · rejected {t['rejected']:,} · {run.manifest.get('created', '')}"
    )
    html = render(f"corpuskit report: {run.root}", subtitle, sections)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
