"""Running a recipe: plan, run the stages on a backend, write the manifest."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpuskit.engine.local import LocalBackend
from corpuskit.engine.manifest import build_manifest, write_manifest
from corpuskit.engine.plan import RunPlan, plan_run
from corpuskit.engine.runner import Backend, run_stages
from corpuskit.output.layout import OutputLayout, read_manifest
from corpuskit.progress import Progress
from corpuskit.readers.sources import sha256_of
from corpuskit.recipe import ExecutorSpec, Recipe


def checksum_files(paths: list[str]) -> dict[str, str]:
    return {p: sha256_of(Path(p)) for p in paths}


def make_backend(spec: ExecutorSpec) -> Backend:
    """The backend the recipe's executor asks for; Ray is imported only when asked for."""
    if spec.kind == "ray":
        from corpuskit.engine.ray_backend import RayBackend

        return RayBackend(spec)
    return LocalBackend(spec.workers)


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
    """Plan, run and write the manifest; resumes an interrupted run of the same recipe."""
    progress = progress or Progress(enabled=False)
    started = time.perf_counter()
    plan: RunPlan = plan_run(recipe, limit)
    layout = OutputLayout(recipe.output.path)
    status = layout.prepare(plan.fingerprint(), overwrite)
    if status == "complete":
        return RunOutcome(read_manifest(layout.root), status)
    backend = make_backend(recipe.executor)
    # Checksums for the manifest are computed beside the work, not before it.
    with ThreadPoolExecutor(1, thread_name_prefix="checksum") as hasher:
        checksums = hasher.submit(checksum_files, [f.path for _, f in plan.inputs])
        results = run_stages(plan, layout, backend, progress)
        manifest = build_manifest(
            plan, results, checksums.result(), time.perf_counter() - started, recipe_path
        )
    write_manifest(layout.manifest, manifest)
    layout.finish()
    return RunOutcome(manifest, status)
