"""The Ray executor: the local executor's stages, units and output layout, run on a Ray cluster.

What runs where:

- Per-document stages, two ways (`executor.stages`); both give the local executor's
  output: the same shard files (names, rows, row groups), rejected rows and reasons,
  ledger and manifest. Both resume by unit: a unit's completion marker is written, after
  its shards, by the worker that wrote them, and a rerun skips marked units and first
  removes what unmarked ones left behind.

  `stages: tasks` (the default): one Ray task per work unit, each calling
  `worker.process_unit`, the same function the local process pool calls. A unit streams
  its documents through the stage's steps one source batch at a time, writes its Parquet
  shards and rejected shards into the output layout (a filesystem every node sees) and
  its marker. Ray retries a task that raised or whose worker died (`max_retries`,
  `retry_exceptions`); each attempt first removes what an earlier attempt left. Cheap to
  start (plain tasks), results come back as units finish; every unit task unpickles the
  stage's steps and runs their `setup` again.

  `stages: data`: each stage is a Ray Data pipeline (`corpuskit.engine.ray_data`):
  `read_datasource` of the pending units (a read task each, running the unit's reader or
  Parquet input with `worker.source_batches`, as process_unit does) -> `map_batches` of
  the stage's steps over Arrow batches (`StageMap`: `worker.run_steps` on each source
  batch, the steps' own code, unchanged) -> `write_datasink` (`UnitsDatasink`: the unit's
  `ShardWriter`s, then its marker, on the worker). The three operators get the same
  resources and retry options, so Ray Data fuses them into one task per unit
  (`ReadUnits->MapBatches(StageMap)->Write`, noted in the progress output with Ray Data's
  task count); the writer refuses a unit that does not reach it whole and in order, which
  is what keeps shard names, cuts and resume per unit. `workers` becomes a CPU limit of
  the Ray Data execution (an operator's `concurrency` would stop Ray 2.60 from fusing).
  Gains: steps are set up once per worker process rather than once per unit (the local
  pool and `tasks` unpickle the steps for every unit; the built-in steps cache their
  models per process, but fix_spelling's 0.9 s setup, say, is paid per unit there: with
  it, 100k documents ran in 4.7 s rather than 9.2 s on 2 CPUs); Ray Data's streaming
  executor does the scheduling and statistics (`ds.stats()`).
  Costs (bench/bench_ray.py, 100k documents, 11 units, 2 CPUs): Ray Data's start-up,
  about 2.5 s once per driver process (its stats and autoscaling-coordinator actors, its
  import in the workers), then about 0.2 s per stage; about 10% more time per unit
  otherwise (each batch goes Polars -> Arrow -> Polars twice more, tagged with its unit
  and batch number so batches are restored whatever blocks Ray Data cuts); 0.5 GB more
  resident memory (Ray Data's actors); a task holds up to a unit's rows in Ray Data
  blocks (128 MB block target; the write keeps the unit's blocks until the task ends)
  where process_unit holds one batch. Without `workers`, Ray Data's resource-budget
  back-pressure is left out: until its autoscaling coordinator answers (about a second)
  it runs one task at a time, and it guards an object store this pipeline hardly uses;
  with `workers` it stays, to enforce the limit, ramp-up included. Ray 2.60 specifics:
  task retries are its `ray_remote_args` (`max_retries`, `retry_exceptions`), deprecated
  (to be removed in 2.64, which names no replacement for bounding retries after a lost
  worker); the back-pressure list is set through `DataContext.set_config`. Errors: a
  step's `StepFailed` reaches the driver as it is
  (`DataContext.raise_original_map_exception`), other errors in a unit carry a note
  naming it, and a failure no unit explains (a worker lost with no retry left) raises
  `UnitFailed` listing the units without a result. Not used: a `map_batches` actor pool
  (steps set up once per actor), because Ray 2.60 does not fuse an actor map with the
  write that follows, so a unit could reach several write tasks.

  Units, not documents, remain the tasks either way because a unit is what the output
  layout, the ledger and resume are made of; a Ray Data pipeline free to cut and shuffle
  blocks would scatter a unit, and its rejected rows and ledger would need side outputs
  and a shuffle to come back together.
- Global steps: every fit writes its state into the output layout, where the stage's unit
  tasks load it, as with the local executor.
  `remove_frequent_lines` is fitted as a map-reduce on Ray's object store: map tasks run
  the step's own line hashing over groups of the stage's Parquet row groups and emit
  per-hash document counts split into hash partitions; one reduce task per partition sums
  them and keeps the frequent hashes; only that set comes back to the driver.
  Any other global step (exact_dedup, minhash_dedup, dedup_against, plugins) runs
  `step.fit` in one Ray task that reserves a node's CPUs (given to it as
  `Corpus.workers`), never in the driver, with a `Corpus` whose `map` is a `RayMapper`:
  every call the fit maps becomes a Ray task placed anywhere on the cluster, and Ray lends
  the fit task's CPUs to them while it waits. The dedup fits (`corpuskit.dedup`) are
  written as such maps, so under this executor:
    - per row group of the stage input (a task each): exact text hashes; MinHash
      signatures and band hashes; the shingle sets of candidate pairs for verification;
      the hash join against a reference (dedup_against); building a reference index;
    - per hash partition (a task each): grouping equal text hashes into clusters; the
      id check and the lookup of cluster members' ids and policy columns;
    - per band, and past `lsh.BAND_ROWS` documents per bucket-hash split of a band (a
      task each): the LSH buckets, as candidate pairs.
  Maps and reduces exchange rows through Parquet files in the fit's work folder under the
  output (each map writes one file whose row group p is partition p; the reduce of p
  reads row group p of each), so the corpus-sized tables never pass through the fit task.
  What stays in the fit task: the merge of the candidate pairs, the Jaccard join of the
  verified pairs, connected components and survivor choice, which grow with the
  duplicates, not the corpus; and dedup_against's reference table (its size). Map tasks
  write dedup_against's reference index into its `cache_dir`, which must then be on a
  filesystem every node sees, as the output is (or hold the index already). The state is
  the same as the local executor's, which runs the very same code with maps in threads.
  A map task is retried by Ray (`max_retries`); the fit task is retried when its worker
  dies, but not on an exception (its maps already retried; a repeated-id error, say,
  would only repeat). A plugin's fit may use `corpus.map` the same way.
- Resume: the driver skips units whose completion marker exists, exactly as the local
  executor does, so a run that died (driver, worker or node) is resumed by running it
  again; a finished fit is not redone either.
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

import polars as pl
import pyarrow.parquet as pq

from corpuskit.engine.local import LocalExecutor, fit_and_save, save_state
from corpuskit.engine.plan import RunPlan
from corpuskit.engine.stages import Stage, schema_after
from corpuskit.engine.worker import UnitTask, process_unit
from corpuskit.output.layout import OutputLayout
from corpuskit.progress import Progress
from corpuskit.steps.base import GlobalStep
from corpuskit.steps.frequent_lines import RemoveFrequentLines


class RayExecutor(LocalExecutor):
    """Runs each stage's units as Ray tasks and each global fit on the cluster.

    The stage loop, the unit tasks and the resume rules are the local executor's
    (inherited); only where a fit and a unit run differs.
    """

    def __init__(self, spec: ExecutorSpec) -> None:
        super().__init__(spec.workers)
        self.spec = spec
        self.node_cpus = 1
        self.total_cpus = 1
        self.data_runs: list[Any] = []  # ray_data.StageRun of each stage run on Ray Data

    def run(self, plan: RunPlan, layout: OutputLayout, progress: Progress) -> list[dict[str, Any]]:
        """Connect to (or start) Ray, run every stage, and disconnect if we connected."""
        with ray_session(self.spec):
            self.node_cpus, self.total_cpus = cluster_cpus()
            progress.note(
                f"ray: {self.total_cpus} CPUs, largest node {self.node_cpus}, "
                f"{self.spec.cpus_per_task:g} per unit task, stages as "
                + ("Ray Data pipelines" if self.spec.stages == "data" else "Ray tasks")
            )
            return super().run(plan, layout, progress)

    # --- global steps ----------------------------------------------------------------------
    def _fit_state(
        self, stage: Stage, inputs: list[Path], layout: OutputLayout, path: Path, progress: Progress
    ) -> dict[str, Any]:
        files = [str(f) for f in inputs]
        step = stage.global_step.step
        distributed = DISTRIBUTED_FITS.get(type(step))
        if distributed is not None:
            record: dict[str, Any] = {"where": "ray map-reduce"}
            progress.note(
                f"fitting {stage.global_step.name} as Ray map-reduce over {len(files)} shards"
            )
            distributed(step, files, path, self)
        else:
            cpus = self.fit_cpus()
            progress.note(
                f"fitting {stage.global_step.name} in a Ray task ({cpus} CPUs), its maps as "
                f"Ray tasks, over {len(files)} shards"
            )
            workdir = str(layout.state / f"fit-{stage.index}")
            remote = _fit_task.options(
                num_cpus=cpus,
                max_retries=self.spec.max_retries,
                retry_exceptions=False,  # its maps retry on their own; a lost worker retries
                **_polars_threads(cpus),
            )
            maps = self.map_options(cpus)
            stats = _get(remote.remote(step, files, workdir, cpus, str(path), maps, self.slots()))
            record = {"where": "ray task", **stats}
            if stats["map_tasks"]:
                progress.note(
                    f"{stage.global_step.name}: {stats['map_tasks']} map tasks in "
                    f"{stats['map_processes']} worker processes on {stats['map_nodes']} nodes"
                )
        return record

    def slots(self) -> int:
        """Unit or map tasks the cluster runs at once."""
        return max(1, int(self.total_cpus / self.spec.cpus_per_task))

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

    def fit_cpus(self) -> int:
        """CPUs of a fit task: a whole node (the largest), or `workers` if fewer."""
        cpus = max(1, self.node_cpus)
        return min(cpus, self.spec.workers) if self.spec.workers else cpus

    # --- per-document stages ---------------------------------------------------------------
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
        """The local executor's unit tasks, plus the stage's input schema (for Ray Data)."""
        tasks = super()._tasks(stage, plan, layout, kept_dir, previous, state_path, last)
        if self.spec.stages == "data":
            # what the stage reads: documents, or the columns the previous stage wrote
            head = stage.global_step
            schema_in = schema_after(plan.entries[: head.index] if head else [])
            for t in tasks:
                t.extra["schema_in"] = schema_in
        return tasks

    def _execute(self, tasks: list[UnitTask], progress: Progress) -> Iterator[dict[str, Any]]:
        """Run a stage's pending units: as Ray tasks, or as a Ray Data pipeline."""
        if self.spec.stages == "data":
            yield from self._execute_data(tasks, progress)
        else:
            yield from self._execute_tasks(tasks, progress)

    def _execute_data(self, tasks: list[UnitTask], progress: Progress) -> Iterator[dict[str, Any]]:
        """The stage as read -> map_batches -> write on Ray Data (`ray_data.run_stage`)."""
        if not tasks:
            return
        from corpuskit.engine.ray_data import StageRun, run_stage  # Ray Data: ray[data] only

        report = StageRun()
        results = run_stage(
            tasks,
            tasks[0].extra["schema_in"],
            cpus_per_task=self.spec.cpus_per_task,
            max_retries=self.spec.max_retries,
            concurrency=self.spec.workers,
            progress=progress,
            report=report,
        )
        self.data_runs.append(report)
        for line in report.operators:
            progress.note(f"ray data: {line}")
        yield from results

    def _execute_tasks(self, tasks: list[UnitTask], progress: Progress) -> Iterator[dict[str, Any]]:
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
def _fit_task(
    step: GlobalStep,
    files: list[str],
    workdir: str,
    cpus: int,
    path: str,
    map_options: dict[str, Any],
    slots: int,
) -> dict[str, int]:
    """`step.fit` over the stage's shards on a worker; the state goes to `path`.

    The fit's `Corpus.map` (and so the dedup maps and per-partition reduces) submits Ray
    tasks over the cluster; Ray lends this task's CPUs to them while it waits.
    """
    mapper = RayMapper(map_options)
    fit_and_save(step, [Path(f) for f in files], Path(workdir), cpus, Path(path), mapper, slots)
    return mapper.stats()


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


# --- distributed fits ----------------------------------------------------------------------
#: Parquet bytes a map task of a distributed fit reads (it reads one row group at a time).
MAP_BYTES = 256 << 20


def _row_group_chunks(files: list[str], chunks_at_least: int) -> list[list[tuple[str, int]]]:
    """The row groups of `files` in about equal-byte chunks, one per map task."""
    groups = []
    for f in files:
        meta = pq.ParquetFile(f).metadata
        groups += [(f, g, meta.row_group(g).total_byte_size) for g in range(meta.num_row_groups)]
    if not groups:
        return []
    total = sum(size for _, _, size in groups)
    n = min(len(groups), max(chunks_at_least, math.ceil(total / MAP_BYTES)))
    target = total / n
    chunks: list[list[tuple[str, int]]] = [[]]
    filled = 0
    for f, g, size in groups:
        if chunks[-1] and filled + size / 2 > target and len(chunks) < n:
            chunks.append([])
            filled = 0
        chunks[-1].append((f, g))
        filled += size
    return chunks


_COUNTS = {"h": pl.UInt64, "n": pl.Int64}


@ray.remote
def _line_counts_task(
    step: RemoveFrequentLines, chunk: list[tuple[str, int]], columns: list[str], partitions: int
) -> Any:
    """Map: documents per line hash over some row groups, split into hash partitions.

    The same counting as `RemoveFrequentLines.fit` (each line hash counted once per
    document), with the step's own `_lines`.
    """
    frames = []
    for path, group in chunk:
        batch = pl.from_arrow(pq.ParquetFile(path).read_row_group(group, columns=columns))
        lines = step._lines(batch).drop_nulls("h").select("doc", "h").unique()
        frames.append(lines.group_by("h").agg(n=pl.len().cast(pl.Int64)))
    counts = pl.concat(frames).group_by("h").agg(pl.col("n").sum()) if frames else None
    if counts is None:
        counts = pl.DataFrame(schema=_COUNTS)
    if partitions == 1:
        return counts
    split = counts.with_columns(p=(pl.col("h") % partitions).cast(pl.Int64))
    by_p = split.partition_by("p", as_dict=True, include_key=False)
    return [by_p.get((p,), pl.DataFrame(schema=_COUNTS)) for p in range(partitions)]


@ray.remote
def _frequent_task(min_docs: int, *counts: pl.DataFrame) -> pl.Series:
    """Reduce: sum one hash partition's counts; keep hashes in at least `min_docs` documents."""
    summed = pl.concat(counts).group_by("h").agg(pl.col("n").sum())
    return summed.filter(pl.col("n") >= min_docs)["h"]


def fit_frequent_lines(
    step: RemoveFrequentLines, files: list[str], path: Path, executor: RayExecutor
) -> None:
    """remove_frequent_lines' fit as a map-reduce over Ray's object store.

    Gives the state of `RemoveFrequentLines.fit`: the sorted set of line hashes found in at
    least `min_docs` documents (of their scope).
    """
    c = step.config
    columns = ["text", "source"] + (["url"] if c.scope == "host" else [])
    chunks = _row_group_chunks(files, executor.total_cpus)
    frequent = pl.Series("h", [], dtype=pl.UInt64)
    if chunks:
        partitions = max(1, executor.total_cpus)  # reduce tasks: one per CPU of the cluster
        retry = {"max_retries": executor.spec.max_retries, "retry_exceptions": True}
        mapper = _line_counts_task.options(num_returns=partitions, **retry)
        maps = [mapper.remote(step, chunk, columns, partitions) for chunk in chunks]
        reducer = _frequent_task.options(**retry)
        if partitions == 1:
            reduces = [reducer.remote(c.min_docs, *maps)]
        else:
            reduces = [reducer.remote(c.min_docs, *(m[p] for m in maps)) for p in range(partitions)]
        found = [h for h in (_get(r) for r in reduces) if len(h)]
        if found:
            frequent = pl.concat(found).sort()
    save_state(step, frequent, path)


#: Global steps whose fit runs as distributed tasks rather than in one task.
DISTRIBUTED_FITS: dict[type, Callable[[Any, list[str], Path, RayExecutor], None]] = {
    RemoveFrequentLines: fit_frequent_lines,
}


__all__ = ["DISTRIBUTED_FITS", "RayExecutor", "RayMapper", "ray_session"]
