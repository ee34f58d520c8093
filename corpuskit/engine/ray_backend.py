"""The Ray backend: the runner's units and fits as Ray tasks (see docs/architecture.md).

- A unit is one Ray task calling `worker.process_unit`, as a local worker process does; it
  writes its shards and its completion marker into the output (a filesystem every node
  sees). Ray retries a task that raised or whose worker died (`max_retries`); each attempt
  first removes what an earlier one left. Ray's worker processes keep the stage's steps set
  up from one unit task to the next (`worker.stage_steps`).
- A fit runs `worker.fit_and_save` in one Ray task that reserves a node's CPUs (never in
  the driver), with a `Corpus` whose `map` is a `RayMapper`: every call the fit maps
  becomes a Ray task placed anywhere on the cluster, and Ray lends the fit task's CPUs to
  them while it waits. The fit task is retried when its worker dies, not on an exception
  (its maps already retried).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from corpuskit.recipe import RAY_MISSING, ExecutorSpec

try:
    import ray
    import ray.exceptions
except ImportError as e:  # pragma: no cover - exercised without ray installed
    raise ImportError(RAY_MISSING) from e

from corpuskit.corpus import Corpus
from corpuskit.engine.worker import UnitTask, fit_and_save, process_unit
from corpuskit.output.layout import OutputLayout
from corpuskit.progress import Progress
from corpuskit.steps.base import GlobalStep


class RayBackend:
    """Units and fits as Ray tasks on the cluster `spec` names (or on the caller's Ray)."""

    def __init__(self, spec: ExecutorSpec) -> None:
        self.spec = spec
        self.node_cpus = 1
        self.total_cpus = 1

    @contextlib.contextmanager
    def session(self, progress: Progress) -> Iterator[None]:
        """Connect to (or start) Ray for the run, and disconnect after if we connected."""
        with ray_session(self.spec):
            self.node_cpus, self.total_cpus = cluster_cpus()
            progress.note(
                f"ray: {self.total_cpus} CPUs, largest node {self.node_cpus}, "
                f"{self.spec.cpus_per_task:g} per unit task"
            )
            yield

    def slots(self) -> int:
        """Unit or map tasks the cluster runs at once."""
        return max(1, int(self.total_cpus / self.spec.cpus_per_task))

    def fit_cpus(self) -> int:
        """CPUs of a fit task: a whole node (the largest), or `workers` if fewer."""
        cpus = max(1, self.node_cpus)
        return min(cpus, self.spec.workers) if self.spec.workers else cpus

    def map_options(self, fit_cpus: int) -> dict[str, Any]:
        """Ray options of the map tasks a fit submits (`RayMapper`): as a unit task's.

        Child tasks inherit the fit task's runtime_env; where that raised Polars' threads
        (`_polars_threads`), the maps get the job's setting back.
        """
        options: dict[str, Any] = {
            "num_cpus": self.spec.cpus_per_task,
            "max_retries": self.spec.max_retries,
            "retry_exceptions": True,
            "name": "corpuskit.fit.map",
        }
        if _polars_threads(fit_cpus):
            job = (ray.get_runtime_context().runtime_env or {}).get("env_vars") or {}
            options["runtime_env"] = {"env_vars": dict(job)}
        return options

    def run_fit(
        self, step: GlobalStep, files: list[Path], workdir: Path, path: Path, progress: Progress
    ) -> dict[str, Any]:
        cpus = self.fit_cpus()
        progress.note(
            f"fitting {step.name} in a Ray task ({cpus} CPUs), its maps as Ray tasks, "
            f"over {len(files)} shards"
        )
        mapper = RayMapper(self.map_options(cpus))
        corpus = Corpus(files, workdir, cpus, mapper, self.slots())
        remote = _fit_task.options(
            num_cpus=cpus,
            max_retries=self.spec.max_retries,
            retry_exceptions=False,  # its maps retry on their own; a lost worker retries
            **_polars_threads(cpus),
        )
        stats = _get(remote.remote(step, corpus, str(path)))
        if stats["map_tasks"]:
            progress.note(
                f"{step.name}: {stats['map_tasks']} map tasks in "
                f"{stats['map_processes']} worker processes on {stats['map_nodes']} nodes"
            )
        return {"where": "ray task", **stats}

    def run_units(self, tasks: list[UnitTask], progress: Progress) -> Iterator[dict[str, Any]]:
        """Submit unit tasks (a bounded number in flight) and yield results as they finish."""
        if not tasks:
            return
        remote = _unit_task.options(
            num_cpus=self.spec.cpus_per_task,
            max_retries=self.spec.max_retries,
            retry_exceptions=True,
        )
        cap = self.spec.workers or 2 * self.slots()  # a queue behind every slot: no idle CPU
        waiting = iter(tasks)
        pending: dict[Any, UnitTask] = {}
        try:
            while True:
                while len(pending) < cap:
                    task = next(waiting, None)
                    if task is None:
                        break
                    pending[remote.remote(task)] = task
                if not pending:
                    return
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    pending.pop(ref)
                    result = _get(ref)
                    progress.advance(result["read"])
                    progress.unit_done()
                    yield result
        finally:
            if pending:  # a unit failed or the run was interrupted: stop the others
                for ref in pending:
                    with contextlib.suppress(Exception):
                        ray.cancel(ref, force=True)
                # let the cancellations land, so that a resume cannot race a dying attempt
                ray.wait(list(pending), num_returns=len(pending), timeout=30)


# --- Ray session ---------------------------------------------------------------------------
@contextlib.contextmanager
def ray_session(spec: ExecutorSpec) -> Iterator[None]:
    """Use the caller's Ray if initialized; else connect (or start) and disconnect after."""
    if ray.is_initialized():
        yield
        return
    env = dict(spec.runtime_env or {})
    env_vars = {"POLARS_MAX_THREADS": str(max(1, math.ceil(spec.cpus_per_task)))}
    env["env_vars"] = {**env_vars, **(env.get("env_vars") or {})}
    kwargs: dict[str, Any] = {"runtime_env": env, "logging_level": logging.WARNING}
    if spec.num_cpus is not None:
        kwargs["num_cpus"] = spec.num_cpus
    if spec.address in (None, "local"):  # may start an instance: no dashboard for one run
        kwargs["include_dashboard"] = False
    ray.init(address=spec.address, **kwargs)
    try:
        yield
    finally:
        ray.shutdown()


def cluster_cpus() -> tuple[int, int]:
    """(CPUs of the largest alive node, CPUs of the cluster)."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    per_node = [int(n.get("Resources", {}).get("CPU", 0)) for n in nodes]
    return max(per_node, default=1) or 1, sum(per_node) or 1


def _polars_threads(cpus: int) -> dict[str, Any]:
    """Task options giving a fit task's Polars `cpus` threads where the job pinned fewer.

    A task-level runtime_env starts fresh workers (seconds), so it is asked for only when
    the job's environment (set by `ray_session`) pins POLARS_MAX_THREADS below `cpus`.
    """
    job = (ray.get_runtime_context().runtime_env or {}).get("env_vars") or {}
    pinned = job.get("POLARS_MAX_THREADS")
    if pinned is None or int(pinned) >= cpus:
        return {}
    return {"runtime_env": {"env_vars": {"POLARS_MAX_THREADS": str(cpus)}}}


def _get(ref: Any) -> Any:
    """ray.get, re-raising a task's own exception (StepFailed names the step and unit)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        cause = e.cause
        if isinstance(cause, Exception):
            raise cause from e
        raise


# --- tasks (run on the workers) ------------------------------------------------------------
@ray.remote
def _unit_task(task: UnitTask) -> dict[str, Any]:
    """One attempt at one unit: clear an earlier attempt's leftovers, then process it."""
    layout = OutputLayout(Path(task.rejected_dir).parent)
    layout.clear_unit(task.stage, task.key, Path(task.kept_dir))
    return process_unit(task)


@ray.remote
def _fit_task(step: GlobalStep, corpus: Corpus, path: str) -> dict[str, int]:
    """`step.fit` over the stage's shards on a worker; the state goes to `path`. The
    corpus's `map` (a RayMapper) submits Ray tasks over the cluster."""
    fit_and_save(step, corpus, Path(path))
    return corpus.mapper.stats()


class RayMapper:
    """`Corpus.map` as Ray tasks: one per item, spread by Ray over the cluster.

    `fn` goes to the object store once; the results come back in item order (fetched as
    they are needed, by the process that called `map`). A failed item is retried by Ray
    (`max_retries`, `retry_exceptions` in the options); if it still fails, the others are
    cancelled and its exception raised. Counts the tasks and the worker processes and
    nodes that ran them.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.tasks = 0
        self.processes: set[tuple[str, int]] = set()

    def __call__(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        if not items:
            return []
        fn_ref = ray.put(fn)
        remote = _map_task.options(**self.options)
        refs = [remote.remote(fn_ref, item) for item in items]
        out = []
        try:
            for ref in refs:
                value, node, pid = _get(ref)
                self.tasks += 1
                self.processes.add((node, pid))
                out.append(value)
        except BaseException:
            for ref in refs:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            raise
        return out

    def stats(self) -> dict[str, int]:
        return {
            "map_tasks": self.tasks,
            "map_processes": len(self.processes),
            "map_nodes": len({node for node, _ in self.processes}),
        }


@ray.remote
def _map_task(fn: Callable[[Any], Any], item: Any) -> tuple[Any, str, int]:
    """fn(item), and where it ran (node id, process id)."""
    return fn(item), ray.get_runtime_context().get_node_id(), os.getpid()


__all__ = ["RayBackend", "RayMapper", "ray_session"]
