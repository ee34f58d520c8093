"""What map steps and line filters do to a text: the first documents of the input replayed
through the recipe's per-document steps, before and after each one, changes highlighted."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import polars as pl

from corpuskit import registry
from corpuskit.engine.plan import RunPlan, plan_run
from corpuskit.recipe import Recipe
from corpuskit.report.page import Raw, Section, esc, table
from corpuskit.report.run import Run
from corpuskit.schema import DETAIL_COLUMN, REASON_COLUMN

SHOWN = 3
CAP = 2500  # characters compared per document


@dataclass
class Change:
    step: str
    kind: str
    id: str
    before: str
    after: str


def read_sample(plan: RunPlan, n: int) -> pl.DataFrame:
    """The first `n` documents the plan's readers give (read rejects left out)."""
    frames, got = [], 0
    for fmt, unit in plan.units:
        reader = registry.get_reader(fmt)(plan.specs[unit.input_index], unit.input_index)
        for batch in reader.read(unit):
            frames.append(batch.documents)
            got += batch.documents.height
            if got >= n:
                break
        if got >= n:
            break
    return pl.concat(frames, how="diagonal_relaxed").head(n) if frames else pl.DataFrame()


def replay(run: Run, n: int) -> list[Change]:
    """Run the per-document steps on the input's first `n` documents (global steps are
    skipped: their decision needs the whole corpus) and keep the texts each one changed."""
    recipe = Recipe.model_validate(run.manifest["recipe"])
    plan = plan_run(recipe, limit=n)
    batch = read_sample(plan, n)
    changes: list[Change] = []
    for entry in plan.entries:
        step = entry.step
        if step.kind == "global" or batch.height == 0:
            continue
        out = step.process(batch, None).batch
        changed = (
            out.select("id", "text")
            .with_columns(before=batch["text"])
            .filter(pl.col("text") != pl.col("before"))
        )
        for r in changed.head(SHOWN).iter_rows(named=True):
            changes.append(Change(entry.name, step.kind, r["id"], r["before"], r["text"]))
        if REASON_COLUMN in out.columns:
            out = out.filter(pl.col(REASON_COLUMN).is_null())
        batch = out.drop(REASON_COLUMN, DETAIL_COLUMN, strict=False)
    return changes


def highlight(before: str, after: str) -> tuple[Raw, Raw]:
    """`before` with what went struck out, `after` with what came in marked."""
    a, b = before[:CAP], after[:CAP]
    old, new = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            old.append(esc(a[i1:i2]))
            new.append(esc(b[j1:j2]))
            continue
        if i2 > i1:
            old.append(f"<del>{esc(a[i1:i2])}</del>")
        if j2 > j1:
            new.append(f"<ins>{esc(b[j1:j2])}</ins>")
    more = "…" if len(before) > CAP or len(after) > CAP else ""
    return (
        Raw(f'<pre class="doc">{"".join(old)}{more}</pre>'),
        Raw(f'<pre class="doc">{"".join(new)}{more}</pre>'),
    )


def section(run: Run, sample: int) -> Section:
    title = "Cleaning, before and after"
    if sample <= 0:
        return Section("cleaning", title, '<p class="note">Not replayed (--sample 0).</p>')
    try:
        changes = replay(run, sample)
    except Exception as e:
        return Section(
            "cleaning",
            title,
            f'<p class="note">The input could not be replayed: {esc(e)}</p>',
        )
    parts = [
        f'<p class="note">The first {sample} documents of the input, through the recipe\'s '
        "per-document steps in order; for each step that changed a text, up to "
        f"{SHOWN} examples: removed spans struck out, added ones marked (map steps clean; "
        "line filters remove lines).</p>"
    ]
    by_step: dict[str, list[Change]] = {}
    for ch in changes:
        by_step.setdefault(ch.step, []).append(ch)
    if not by_step:
        parts.append("<p>No step changed a text of the sample.</p>")
    for step, items in by_step.items():
        rows = [[ch.id, *highlight(ch.before, ch.after)] for ch in items]
        parts.append(
            f"<h3>{esc(step)} <span class=note>({esc(items[0].kind)})</span></h3>"
            + table(["id", "before", "after"], rows)
        )
    return Section("cleaning", title, "".join(parts))
