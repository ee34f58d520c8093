"""Running a recipe: plan, execute, write the manifest."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpuskit.engine.local import LocalExecutor
from corpuskit.engine.plan import RunPlan, plan_run
from corpuskit.output.layout import OutputLayout
from corpuskit.output.manifest import build_manifest, read_manifest, write_manifest
from corpuskit.progress import Progress
from corpuskit.readers.sources import sha256_of
from corpuskit.recipe import Recipe


def checksum_files(paths: list[str]) -> dict[str, str]:
    return {p: sha256_of(Path(p)) for p in paths}


def make_executor(recipe: Recipe) -> Any:
    """The executor the recipe asks for; Ray is imported only when it is asked for."""
    if recipe.executor.kind == "ray":
        from corpuskit.engine.ray_executor import RayExecutor

        return RayExecutor(recipe.executor)
    return LocalExecutor(recipe.executor.workers)


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
    executor = make_executor(recipe)
    # Checksums for the manifest are computed beside the work, not before it.
    with ThreadPoolExecutor(1, thread_name_prefix="checksum") as hasher:
        checksums = hasher.submit(checksum_files, [f.path for _, f in plan.inputs])
        results = executor.run(plan, layout, progress)
        manifest = build_manifest(
            plan, results, checksums.result(), time.perf_counter() - started, recipe_path
        )
    write_manifest(layout.manifest, manifest)
    layout.finish()
    return RunOutcome(manifest, status)
