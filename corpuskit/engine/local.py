"""The embedded executor: stages run in order, units of a stage in a process pool."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import queue
import signal
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from corpuskit.corpus import Corpus, Mapper
from corpuskit.engine.plan import RunPlan
from corpuskit.engine.stages import Stage, schema_after
from corpuskit.engine.worker import UnitTask, process_unit, write_json_atomic
from corpuskit.output.layout import OutputLayout
from corpuskit.progress import Progress

_progress_queue: Any = None


class LocalExecutor:
    """Streams units through a process pool; each stage finishes before the next begins."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1

    def run(self, plan: RunPlan, layout: OutputLayout, progress: Progress) -> list[dict[str, Any]]:
        """Run every unit of every stage not already done; returns all unit results."""
        results: list[dict[str, Any]] = []
        previous: list[dict[str, Any]] = []
        for stage in plan.stages:
            last = stage.index == len(plan.stages) - 1
            kept_dir = layout.data if last else layout.stage_work(stage.index)
            state_path = self._fit(stage, plan, layout, previous, progress)
            tasks = self._tasks(stage, plan, layout, kept_dir, previous, state_path, last)
            done = layout.completed(stage.index)
            todo = [t for t in tasks if t.key not in done]
            for t in todo:
                layout.clear_unit(stage.index, t.key, kept_dir)
            progress.start_stage(_stage_name(stage), len(tasks), len(tasks) - len(todo))
            stage_results = dict(done)
            for result in self._execute(todo, progress):
                stage_results[result["unit"]] = result
            progress.end_stage()
            ordered = [stage_results[t.key] for t in tasks]
            results.extend(ordered)
            previous = ordered
        return results

    def _fit(
        self,
        stage: Stage,
        plan: RunPlan,
        layout: OutputLayout,
        previous: list[dict[str, Any]],
        progress: Progress,
    ) -> str | None:
        """Fit the stage's global step once (a saved state is reused) and return its path."""
        if stage.global_step is None:
            return None
        path = layout.fit_state(stage.index)
        if not path.exists():
            files = fit_inputs(layout, stage, previous)
            started = time.perf_counter()
            record = self._fit_state(stage, files, layout, path, progress)
            write_json_atomic(
                layout.state / f"stage-{stage.index}.fit.json",
                {"seconds": time.perf_counter() - started, **record},
            )
        return str(path)

    def _fit_state(
        self, stage: Stage, files: list[Path], layout: OutputLayout, path: Path, progress: Progress
    ) -> dict[str, Any]:
        """Run the fit and save its state at `path`; returns what to record about it."""
        step = stage.global_step.step
        progress.note(f"fitting {stage.global_step.name} over {len(files)} shards")
        fit_and_save(step, files, layout.state / f"fit-{stage.index}", self.workers, path)
        return {}

    def _tasks(
        self,
        stage: Stage,
        plan: RunPlan,
        layout: OutputLayout,
        kept_dir: Path,
        previous: list[dict[str, Any]],
        state_path: str | None,
        last: bool,
    ) -> list[UnitTask]:
        out = plan.recipe.output
        common = dict(
            stage=stage.index,
            final=last,
            entries=stage.entries,
            schema_out=schema_after(plan.entries[: _last_index(stage) + 1]),
            kept_dir=str(kept_dir),
            rejected_dir=str(layout.rejected),
            max_shard_bytes=int(out.max_shard_mb * (1 << 20)),
            compression_level=out.compression_level,
            global_state=state_path,
        )
        tasks = []
        if stage.index == 0:
            for i, (fmt, unit) in enumerate(plan.units):
                key = f"{i:05d}"
                spec = plan.specs[unit.input_index]
                tasks.append(
                    UnitTask(
                        key=key,
                        marker=str(layout.marker(0, key)),
                        reader=(fmt, spec, unit.input_index),
                        unit=unit,
                        describe=_describe_unit(unit),
                        **common,
                    )
                )
            return tasks
        work = layout.stage_work(stage.index - 1)
        for r in previous:
            key = r["unit"]
            tasks.append(
                UnitTask(
                    key=key,
                    marker=str(layout.marker(stage.index, key)),
                    inputs=tuple(str(work / s["file"]) for s in r["shards"]),
                    describe=f"unit {key} of stage {stage.index}",
                    **common,
                )
            )
        return tasks

    def _execute(self, tasks: list[UnitTask], progress: Progress):
        if not tasks:
            return
        if self.workers == 1 or len(tasks) == 1:
            for t in tasks:
                result = process_unit(t, progress.advance)
                progress.unit_done()
                yield result
            return
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        env_before = os.environ.get("POLARS_MAX_THREADS")
        os.environ["POLARS_MAX_THREADS"] = str(max(1, (os.cpu_count() or 1) // self.workers))
        try:
            with ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_init_worker, initargs=(q,)
            ) as pool:
                pending: set[Future] = {pool.submit(_run_task, t) for t in tasks}
                try:
                    while pending:
                        finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                        _drain(q, progress)
                        for f in finished:
                            result = f.result()
                            progress.unit_done()
                            yield result
                except BaseException:
                    for f in pending:
                        f.cancel()
                    raise
                _drain(q, progress)
        finally:
            if env_before is None:
                os.environ.pop("POLARS_MAX_THREADS", None)
            else:
                os.environ["POLARS_MAX_THREADS"] = env_before


def _last_index(stage: Stage) -> int:
    entries = stage.entries
    return entries[-1].index if entries else -1


def _stage_name(stage: Stage) -> str:
    names = [e.name for e in stage.entries]
    head = "read" if stage.index == 0 else names.pop(0)
    return f"stage {stage.index}: " + " → ".join([head, *names])


def _describe_unit(unit) -> str:
    where = unit.source
    if unit.end is not None and unit.start:
        where += f" (from line {unit.first_record})"
    return where


def _drain(q, progress: Progress) -> None:
    while True:
        try:
            progress.advance(q.get_nowait())
        except queue.Empty:
            return


def _init_worker(q) -> None:
    global _progress_queue
    _progress_queue = q
    # Die with the driver: a killed run must not leave workers writing behind a resume.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_task(task: UnitTask) -> dict[str, Any]:
    return process_unit(task, _progress_queue.put if _progress_queue is not None else None)


def fit_inputs(layout: OutputLayout, stage: Stage, previous: list[dict[str, Any]]) -> list[Path]:
    """The shards the previous stage wrote: what a global step of `stage` fits on."""
    return [layout.stage_work(stage.index - 1) / s["file"] for r in previous for s in r["shards"]]


def fit_and_save(
    step: Any,
    files: list[Path],
    workdir: Path,
    workers: int,
    path: Path,
    mapper: Mapper | None = None,
    parallelism: int | None = None,
) -> None:
    """`step.fit` over `files`, its state written to `path` atomically (any executor).

    The fit's Corpus maps through `mapper` (None: `workers` threads).
    """
    step.ensure_ready()
    corpus = Corpus(files, workdir, workers, mapper, parallelism)
    corpus.workdir.mkdir(parents=True, exist_ok=True)
    save_state(step, step.fit(corpus), path)


def save_state(step: Any, state: Any, path: Path) -> None:
    """A fit state under a temporary name, then renamed: a crash never leaves half a state."""
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    step.save_state(state, tmp)
    os.replace(tmp, path)
