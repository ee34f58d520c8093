"""The runner: every stage of a plan, in order, on a backend; resume and fit bookkeeping.

What runs is decided here, once for every backend: a stage's fit (skipped when its state
is saved already), its unit tasks, which of them a resumed run still owes (a unit whose
completion marker exists is done; what an unfinished one left is removed first). Where
it runs is the backend's (`Backend`): local processes or Ray tasks.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from corpuskit.engine.plan import RunPlan
from corpuskit.engine.stages import Stage, schema_after
from corpuskit.engine.worker import UnitTask, write_json_atomic
from corpuskit.output.layout import OutputLayout
from corpuskit.progress import Progress
from corpuskit.steps.base import GlobalStep


class Backend(Protocol):
    """Where units and fits run. The runner decides what runs; a backend only runs it."""

    def session(self, progress: Progress) -> AbstractContextManager[None]:
        """Resources held for one run (a Ray connection); the local backend holds none."""

    def run_units(self, tasks: list[UnitTask], progress: Progress) -> Iterator[dict[str, Any]]:
        """Run a stage's units (`worker.process_unit`), yielding each result as it finishes."""

    def run_fit(
        self, step: GlobalStep, files: list[Path], workdir: Path, path: Path, progress: Progress
    ) -> dict[str, Any]:
        """`worker.fit_and_save` with a Corpus whose `map` runs on this backend; what to record."""


def run_stages(
    plan: RunPlan, layout: OutputLayout, backend: Backend, progress: Progress
) -> list[dict[str, Any]]:
    """Run every unit of every stage not already done; returns all unit results."""
    results: list[dict[str, Any]] = []
    previous: list[dict[str, Any]] = []
    with backend.session(progress):
        for stage in plan.stages:
            last = stage.index == len(plan.stages) - 1
            kept_dir = layout.data if last else layout.stage_work(stage.index)
            state = fit_stage(stage, layout, previous, backend, progress)
            tasks = unit_tasks(stage, plan, layout, kept_dir, previous, state)
            done = layout.completed(stage.index)
            todo = [t for t in tasks if t.key not in done]
            for t in todo:
                layout.clear_unit(stage.index, t.key, kept_dir)
            progress.start_stage(stage_name(stage), len(tasks), len(tasks) - len(todo))
            stage_results = dict(done)
            for result in backend.run_units(todo, progress):
                stage_results[result["unit"]] = result
            progress.end_stage()
            previous = [stage_results[t.key] for t in tasks]
            results.extend(previous)
    return results


def fit_stage(
    stage: Stage,
    layout: OutputLayout,
    previous: list[dict[str, Any]],
    backend: Backend,
    progress: Progress,
) -> str | None:
    """Fit the stage's global step once (a saved state is reused); the state's path."""
    if stage.global_step is None:
        return None
    path = layout.fit_state(stage.index)
    if not path.exists():
        work = layout.stage_work(stage.index - 1)
        files = [work / s["file"] for r in previous for s in r["shards"]]
        started = time.perf_counter()
        workdir = layout.state / f"fit-{stage.index}"
        workdir.mkdir(parents=True, exist_ok=True)
        record = backend.run_fit(stage.global_step.step, files, workdir, path, progress)
        write_json_atomic(
            layout.state / f"stage-{stage.index}.fit.json",
            {"seconds": time.perf_counter() - started, **record},
        )
    return str(path)


def unit_tasks(
    stage: Stage,
    plan: RunPlan,
    layout: OutputLayout,
    kept_dir: Path,
    previous: list[dict[str, Any]],
    state: str | None,
) -> list[UnitTask]:
    """The stage's units: the input's at stage 0, then one per unit of the previous stage."""
    out = plan.recipe.output
    common = dict(
        stage=stage.index,
        entries=stage.entries,
        fingerprint=stage_fingerprint(stage, state),
        schema_out=schema_after(plan.entries[: last_index(stage) + 1]),
        kept_dir=str(kept_dir),
        rejected_dir=str(layout.rejected),
        max_shard_bytes=int(out.max_shard_mb * (1 << 20)),
        compression_level=out.compression_level,
        global_state=state,
    )
    if stage.index == 0:
        return [
            UnitTask(
                key=f"{i:05d}",
                marker=str(layout.marker(0, f"{i:05d}")),
                reader=(fmt, plan.specs[unit.input_index], unit.input_index),
                unit=unit,
                describe=describe_unit(unit),
                **common,
            )
            for i, (fmt, unit) in enumerate(plan.units)
        ]
    work = layout.stage_work(stage.index - 1)
    return [
        UnitTask(
            key=r["unit"],
            marker=str(layout.marker(stage.index, r["unit"])),
            inputs=tuple(str(work / s["file"]) for s in r["shards"]),
            describe=f"unit {r['unit']} of stage {stage.index}",
            **common,
        )
        for r in previous
    ]


def stage_fingerprint(stage: Stage, state: str | None) -> str:
    """Identifies a stage's steps (class, name, config) and fit state (path, size, mtime): a
    worker process that has set these steps up for one unit reuses them for the next
    (`worker.stage_steps`), even across runs, as long as nothing of this changed."""
    # a pydantic config's repr names every field and its value
    steps = [
        [
            e.index,
            e.name,
            f"{type(e.step).__module__}.{type(e.step).__qualname__}",
            repr(e.step.config),
        ]
        for e in stage.entries
    ]
    fit = None
    if state is not None:
        st = os.stat(state)
        fit = [state, st.st_size, st.st_mtime_ns]
    payload = json.dumps({"stage": stage.index, "steps": steps, "state": fit})
    return hashlib.sha256(payload.encode()).hexdigest()


def last_index(stage: Stage) -> int:
    return stage.entries[-1].index if stage.entries else -1


def stage_name(stage: Stage) -> str:
    names = [e.name for e in stage.entries]
    head = "read" if stage.index == 0 else names.pop(0)
    return f"stage {stage.index}: " + " → ".join([head, *names])


def describe_unit(unit: Any) -> str:
    where = unit.source
    if unit.end is not None and unit.start:
        where += f" (from line {unit.first_record})"
    return where
