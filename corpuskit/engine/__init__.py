"""Running recipes: planning, executors and the per-unit worker."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from corpuskit.engine.local import LocalExecutor
from corpuskit.engine.plan import RunPlan, plan_run
from corpuskit.output.layout import OutputLayout
from corpuskit.output.manifest import build_manifest, read_manifest, write_manifest
from corpuskit.progress import Progress
from corpuskit.recipe import Recipe


@dataclass
class RunOutcome:
    manifest: dict[str, Any]
    status: str  # "fresh", "resume" or "complete" (nothing left to do)


def run_recipe(
    recipe: Recipe,
    *,
    limit: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    recipe_path: str | None = None,
) -> RunOutcome:
    """Plan, execute and write the manifest; resumes an interrupted run of the same recipe."""
    progress = progress or Progress(enabled=False)
    started = time.perf_counter()
    plan: RunPlan = plan_run(recipe, limit)
    layout = OutputLayout(recipe.output.path)
    status = layout.prepare(plan.fingerprint(), overwrite)
    if status == "complete":
        return RunOutcome(read_manifest(layout.root), status)
    executor = LocalExecutor(recipe.executor.workers)
    results = executor.run(plan, layout, progress)
    manifest = build_manifest(
        plan, results, layout.root, time.perf_counter() - started, recipe_path
    )
    write_manifest(layout.manifest, manifest)
    layout.finish()
    return RunOutcome(manifest, status)


__all__ = ["LocalExecutor", "RunOutcome", "plan_run", "run_recipe"]
