"""Run facts: recipe, versions, inputs, time per step and throughput."""

from __future__ import annotations

import platform

import polars as pl
import pyarrow as pa
import yaml

from corpuskit import __version__
from corpuskit.report import charts
from corpuskit.report.page import Charts, Section, esc, table
from corpuskit.report.run import Run


def section(run: Run) -> Section:
    m = run.manifest
    c = Charts("facts")
    t = m["totals"]
    seconds = m.get("seconds") or 0
    rate = t["read"] / seconds if seconds else 0
    facts = [
        ["output", str(run.root)],
        ["recipe file", m.get("recipe_path") or "-"],
        ["created", m.get("created", "-")],
        ["written by corpuskit", m.get("corpuskit_version", "-")],
        [
            "report by",
            f"corpuskit {__version__}, polars {pl.__version__}, pyarrow {pa.__version__}, "
            f"Python {platform.python_version()}",
        ],
        ["limit", m.get("limit") or "-"],
        ["units", m.get("units", "-")],
        ["stages", " | ".join(" → ".join(s) for s in m.get("stages", []))],
        ["wall time", f"{seconds:,.1f} s"],
        ["throughput", f"{rate:,.0f} documents/s read"],
        [
            "kept shards",
            f"{len(m['shards'])} ({sum(s['bytes'] for s in m['shards']) / 1e6:,.1f} MB)",
        ],
        ["rejected shards", f"{len(m['rejected_shards'])}"],
    ]
    steps = [{"step": r["step"], "seconds": r["seconds"]} for r in m["ledger"] if r["seconds"] > 0]
    per_step = "seconds per step"
    timing = table(
        ["step", "seconds", "setup seconds", "documents in", "documents/s", "counters"],
        [
            [
                r["step"],
                f"{r['seconds']:.2f}",
                f"{r.get('setup_seconds', 0):.2f}",
                r["in"],
                f"{r['in'] / r['seconds']:,.0f}" if r["seconds"] else "-",
                ", ".join(f"{k}={v:,}" for k, v in r.get("counters", {}).items()),
            ]
            for r in m["ledger"]
        ],
        numeric={1, 2, 3, 4},
    )
    inputs = table(
        ["path", "format", "encoding", "bytes", "sha256"],
        [
            [
                i["path"],
                i.get("format"),
                i.get("encoding"),
                i.get("size") or 0,
                (i.get("sha256") or "")[:16],
            ]
            for i in m.get("inputs", [])
        ],
        numeric={3},
    )
    recipe = yaml.safe_dump(m["recipe"], sort_keys=False, allow_unicode=True)
    body = (
        table(["", ""], facts)
        + '<p class="note">Step seconds are summed over workers (CPU time of the steps, '
        "not wall time); loading models and compiled kernels (setup) is not counted in them.</p>"
        + f"<div class=grid>{c.place(charts.bars(steps, 'step', 'seconds', title=per_step))}"
        + f"<div>{timing}</div></div>"
        + "<h3>inputs</h3>"
        + inputs
        + f'<h3>recipe</h3><pre class="recipe">{esc(recipe)}</pre>'
    )
    if run.problems:
        body += "".join(f'<p class="warn">{esc(p)}</p>' for p in run.problems)
    return Section("facts", "Run facts", body, c.specs)
