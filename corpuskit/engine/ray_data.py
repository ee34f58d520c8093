"""A per-document stage as a Ray Data pipeline: read units, `map_batches` the steps, write shards.

`run_stage` turns the pending units of a stage into

    read_datasource(UnitsDatasource)  ->  map_batches(StageMap)  ->  write_datasink(UnitsDatasink)

- `UnitsDatasource` gives one read task per unit. It runs the unit's source with the very
  code `process_unit` uses (`worker.source_batches`: the reader with its encodings and
  read-time rejects at stage 0, the previous stage's Parquet row groups later) and yields
  one Arrow table per source batch.
- `StageMap` is the `map_batches` function (Arrow in, Arrow out). It runs the stage's steps
  on each source batch with `worker.run_steps`, the local executor's own per-batch code;
  the steps are pickled as they are and set up once per worker process.
- `UnitsDatasink` writes each unit's kept and rejected rows with the unit's `ShardWriter`s
  (the same shard names, row groups and cuts as the local executor), then its completion
  marker, and returns the unit's result record.

The three operators have the same remote arguments and no task-pool size, so Ray Data
fuses them into one task per unit (`ReadUnits->MapBatches(StageMap)->Write`): a unit's
batches reach one writer, in order. The writer checks that (it raises rather than write
a unit it did not see whole), and a unit's marker is written by the task that wrote it,
so a failed or killed run resumes unit by unit, as with the local executor.

Tables exchanged between the operators hold the documents as rows, plus:
`__ck_batch` (unit position << 32 | batch number: which source batch a row belongs to,
so batches are restored whatever blocks Ray Data cuts), `__ck_kind` (0 document,
1 rejected row, 2 the batch's record), `__ck_part` (rejected rows: which write of the
batch they came in, so the rejected shards get the same row groups), `__ck_info` (JSON
on the record row: records read, the batch's ledger; the last record of a unit says it
ended and carries the reader's ledger), and the rejected schema's own columns renamed
`__ck_step`, `__ck_reason`, `__ck_detail`, `__ck_signals`.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import os
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from corpuskit.recipe import RAY_MISSING, StepEntry

try:
    import ray
    import ray.exceptions
except ImportError as e:  # pragma: no cover - exercised without ray installed
    raise ImportError(RAY_MISSING) from e
try:
    import ray.data
    from ray.data import Datasink, Datasource, ReadTask
    from ray.data.block import BlockMetadata
except ImportError as e:  # Ray without its data extra (pandas, fsspec)
    raise ImportError(
        f"executor.stages: data needs Ray Data, which does not import here ({e}); install "
        "it with pip install 'corpuskit[ray]' (or 'ray[data]')"
    ) from e

try:  # Ray Data internals (2.60); without them a stage only starts about a second slower
    from ray.data._internal.execution.backpressure_policy import (
        ENABLED_BACKPRESSURE_POLICIES,
        ResourceBudgetBackpressurePolicy,
    )
    from ray.data._internal.execution.backpressure_policy import (
        ENABLED_BACKPRESSURE_POLICIES_CONFIG_KEY as BACKPRESSURE_KEY,
    )
except ImportError:  # pragma: no cover - other Ray versions
    BACKPRESSURE_KEY = None

from corpuskit.engine.ledger import Ledger
from corpuskit.engine.worker import (
    StepFailed,
    UnitTask,
    load_state,
    run_steps,
    source_batches,
    unit_result,
    unit_writers,
    write_json_atomic,
)
from corpuskit.output.layout import OutputLayout
from corpuskit.output.shards import ShardWriter
from corpuskit.progress import Progress
from corpuskit.schema import REJECTED_SCHEMA, conform

BATCH, KIND, PART, INFO = "__ck_batch", "__ck_kind", "__ck_part", "__ck_info"
DOC, REJECTED, RECORD = 0, 1, 2
TAGS: dict[str, pl.DataType] = {
    BATCH: pl.Int64(),
    KIND: pl.Int8(),
    PART: pl.Int16(),
    INFO: pl.String(),
}
#: REJECTED_SCHEMA's columns beyond the document's, renamed inside the pipeline's tables
REJECTED_EXTRA = {c: f"__ck_{c}" for c in ("step", "reason", "detail", "signals")}
REJECTED_TAGGED: dict[str, pl.DataType] = {
    REJECTED_EXTRA[c]: REJECTED_SCHEMA[c] for c in REJECTED_EXTRA
}
_BACK = {v: k for k, v in REJECTED_EXTRA.items()}

#: the name of the Ray Data operators (read: "ReadUnits", map: "MapBatches(StageMap)")
DATASOURCE_NAME = "Units"


class UnitFailed(RuntimeError):
    """A Ray Data stage failed in a way no unit's own error explains (e.g. a lost worker)."""


@dataclass(frozen=True)
class StagePlan:
    """What the three operators of one stage share (all picklable, steps left out)."""

    stage: int
    token: str  # this run of the stage: keys the per-process step cache
    tasks: tuple[UnitTask, ...]  # the pending units, their steps removed (entries=())
    schema_in: dict[str, pl.DataType]


# --- tables -------------------------------------------------------------------------------------
def pack(
    unit: int,
    seq: int,
    docs: pl.DataFrame,
    rejected: list[pl.DataFrame],
    info: dict[str, Any],
    schema: dict[str, pl.DataType],
) -> pa.Table:
    """One source batch as one table: its documents, its rejected rows, its record row."""
    full = {**schema, **REJECTED_TAGGED, **TAGS}
    batch = (unit << 32) | seq
    frames = [docs.with_columns(_tags(batch, DOC, None))]
    for part, rows in enumerate(rejected):
        frames.append(rows.rename(REJECTED_EXTRA).with_columns(_tags(batch, REJECTED, part)))
    frames.append(
        pl.DataFrame(
            # default=str: as the unit's marker is written (`write_json_atomic`)
            {BATCH: [batch], KIND: [RECORD], PART: [None], INFO: [json.dumps(info, default=str)]},
            schema=TAGS,
        )
    )
    shaped = [f.select(_column(f, c, t) for c, t in full.items()) for f in frames]
    return pl.concat(shaped, how="vertical").to_arrow()


def _tags(batch: int, kind: int, part: int | None) -> list[pl.Expr]:
    return [
        pl.lit(batch, dtype=pl.Int64()).alias(BATCH),
        pl.lit(kind, dtype=pl.Int8()).alias(KIND),
        pl.lit(part, dtype=pl.Int16()).alias(PART),
        pl.lit(None, dtype=pl.String()).alias(INFO),
    ]


def _column(frame: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    if name in frame.columns:
        return pl.col(name)
    return pl.lit(None, dtype=dtype).alias(name)


def batches(table: pa.Table) -> Iterator[tuple[int, int, pl.DataFrame]]:
    """(unit, batch number, rows) of each source batch in a table, in order."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if frame.height == 0:
        return
    ids = frame[BATCH].to_numpy()
    for start, end in _runs(ids):
        batch = int(ids[start])
        yield batch >> 32, batch & 0xFFFFFFFF, frame.slice(start, end - start)


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of equal consecutive values."""
    cuts = [0, *(np.flatnonzero(values[1:] != values[:-1]) + 1).tolist(), len(values)]
    return list(itertools.pairwise(cuts))


def unpack(rows: pl.DataFrame) -> tuple[pl.DataFrame, list[pl.DataFrame], dict[str, Any]]:
    """A batch's documents, its rejected rows (as written, in order) and its record."""
    kind = rows[KIND]
    docs = rows.filter(kind == DOC).drop(*TAGS, *REJECTED_TAGGED)
    rej = rows.filter(kind == REJECTED)
    parts = []
    if rej.height:
        shaped = rej.rename(_BACK).select(list(REJECTED_SCHEMA))
        parts = [shaped.slice(a, b - a) for a, b in _runs(rej[PART].to_numpy())]
    record = rows.filter(kind == RECORD)[INFO]
    if len(record) != 1:
        raise RuntimeError(f"a batch came with {len(record)} record rows instead of one")
    return docs, parts, json.loads(record[0])


class Collect:
    """A `RowSink` that keeps the frames written to it, in order."""

    def __init__(self) -> None:
        self.frames: list[pl.DataFrame] = []

    def write(self, batch: pl.DataFrame) -> None:
        if batch.height:
            self.frames.append(batch)

    def take(self) -> list[pl.DataFrame]:
        frames, self.frames = self.frames, []
        return frames


NOTE = "corpuskit: in stage"


def _name_unit(e: BaseException, task: UnitTask) -> None:
    """Leave a note naming the unit on an exception that does not already name it.

    Notes travel with a pickled exception, so the driver can name the unit that failed.
    """
    if not isinstance(e, StepFailed) and not _names_unit(e):
        e.add_note(f"{NOTE} {task.stage}, unit {task.key} ({task.describe})")


def _names_unit(e: BaseException) -> bool:
    return isinstance(e, StepFailed) or any(
        str(n).startswith(NOTE) for n in getattr(e, "__notes__", ())
    )


# --- read ---------------------------------------------------------------------------------------
class UnitsDatasource(Datasource):
    """One read task per pending unit of a stage; see the module docstring."""

    def __init__(self, plan: StagePlan) -> None:
        self.plan = plan

    def get_name(self) -> str:
        return DATASOURCE_NAME

    def estimate_inmemory_data_size(self) -> int | None:
        return None  # unknown: Ray Data then keeps one block stream per read task

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        out = []
        for pos, task in enumerate(self.plan.tasks):
            files = [task.unit.path] if task.unit is not None else list(task.inputs)
            meta = BlockMetadata(num_rows=None, size_bytes=None, input_files=files, exec_stats=None)
            out.append(ReadTask(_Reader(pos, task, self.plan.schema_in), meta))
        return out


class _Reader:
    """A read task's function: the unit's source batches as tables (see `pack`)."""

    def __init__(self, pos: int, task: UnitTask, schema_in: dict[str, pl.DataType]) -> None:
        self.pos, self.task, self.schema_in = pos, task, schema_in

    def __call__(self) -> Iterator[pa.Table]:
        started = time.perf_counter()
        ledger, counts, rejects = Ledger(), {"read": 0, "kept": 0, "rejected": 0}, Collect()
        seq = 0
        try:
            for docs, n in source_batches(self.task, ledger, rejects, counts):
                docs = conform(docs, self.schema_in)
                yield pack(self.pos, seq, docs, rejects.take(), {"n": n}, self.schema_in)
                seq += 1
        except Exception as e:
            _name_unit(e, self.task)
            raise
        end = {
            "end": True,
            "batches": seq,
            "read": counts["read"],
            "rejected": counts["rejected"],
            "ledger": ledger.to_list(),
            "started": started,
        }
        empty = pl.DataFrame(schema=self.schema_in)
        yield pack(self.pos, seq, empty, [], end, self.schema_in)


# --- map ----------------------------------------------------------------------------------------
#: per worker process: the steps of the stage run it serves, set up by their first batch
_STEPS: dict[str, tuple[tuple[StepEntry, ...], Any]] = {}


class StageMap:
    """The `map_batches` function: the stage's steps over each source batch of a table."""

    def __init__(
        self, plan: StagePlan, entries: tuple[StepEntry, ...], schema_out: dict[str, pl.DataType]
    ) -> None:
        self.plan, self.entries, self.schema_out = plan, entries, schema_out

    def _steps(self, task: UnitTask) -> tuple[tuple[StepEntry, ...], Any]:
        """The steps (kept per process, so `setup` runs once) and the fit state."""
        if self.plan.token not in _STEPS:
            _STEPS.clear()
            state = load_state(replace(task, entries=self.entries))
            _STEPS[self.plan.token] = (self.entries, state)
        return _STEPS[self.plan.token]

    def __call__(self, table: pa.Table) -> pa.Table:
        out = []
        for pos, seq, rows in batches(table):
            task = self.plan.tasks[pos]
            try:
                out.append(self._batch(task, pos, seq, rows))
            except Exception as e:
                _name_unit(e, task)
                raise
        if not out:
            return pl.DataFrame(schema={**self.schema_out, **REJECTED_TAGGED, **TAGS}).to_arrow()
        return pa.concat_tables(out)

    def _batch(self, task: UnitTask, pos: int, seq: int, rows: pl.DataFrame) -> pa.Table:
        docs, read_rejects, info = unpack(rows)
        if info.get("end"):
            return pack(pos, seq, pl.DataFrame(schema=self.schema_out), [], info, self.schema_out)
        entries, state = self._steps(task)
        sink = Collect()
        for part in read_rejects:
            sink.write(part)
        ledger, counts = Ledger(), {"read": 0, "kept": 0, "rejected": 0}
        kept = run_steps(docs, entries, state, ledger, sink, counts, task.describe)
        kept = conform(kept, self.schema_out).select(list(self.schema_out))
        info = {**info, "ledger": ledger.to_list(), "rejected": counts["rejected"]}
        return pack(pos, seq, kept, sink.take(), info, self.schema_out)


# --- write --------------------------------------------------------------------------------------
class UnitsDatasink(Datasink):
    """Writes whole units into the output layout; returns their result records."""

    def __init__(self, plan: StagePlan) -> None:
        self.plan = plan
        self.results: list[dict[str, Any]] = []

    def get_name(self) -> str:
        return DATASOURCE_NAME

    def write(self, blocks: Any, ctx: Any) -> list[dict[str, Any]]:
        writers: dict[int, _UnitWriter] = {}
        done: list[dict[str, Any]] = []
        try:
            for block in blocks:
                for pos, seq, rows in batches(block):
                    writer = writers.get(pos)
                    if writer is None:
                        if seq != 0:
                            raise _split(self.plan.tasks[pos], f"its batch {seq} came first")
                        writer = writers[pos] = _UnitWriter(self.plan.tasks[pos])
                    result = writer.add(seq, rows)
                    if result is not None:
                        done.append(result)
                        del writers[pos]
            if writers:
                task = self.plan.tasks[next(iter(writers))]
                raise _split(task, "its last batch never came")
        except BaseException as e:
            for writer in writers.values():
                writer.abort()
            if isinstance(e, Exception) and writers:
                _name_unit(e, next(iter(writers.values())).task)
            raise
        return done

    def on_write_complete(self, write_result: Any) -> None:
        self.results = [r for returned in write_result.write_returns for r in returned]


def _split(task: UnitTask, what: str) -> RuntimeError:
    return RuntimeError(
        f"unit {task.key} ({task.describe}) reached a write task in pieces ({what}); "
        "Ray Data did not fuse read, map_batches and write into one task per unit"
    )


class _UnitWriter:
    """One unit's shards: an earlier attempt's output removed first, the marker written last."""

    def __init__(self, task: UnitTask) -> None:
        self.task = task
        Path(task.marker).unlink(missing_ok=True)
        OutputLayout(Path(task.rejected_dir).parent).clear_unit(
            task.stage, task.key, Path(task.kept_dir)
        )
        self.kept: ShardWriter
        self.rejected: ShardWriter
        self.kept, self.rejected = unit_writers(task)
        self.next = 0
        self.kept_rows = 0
        self.step_rejects = 0
        self.ledgers: list[list[dict[str, Any]]] = []

    def add(self, seq: int, rows: pl.DataFrame) -> dict[str, Any] | None:
        """Write one batch; at the unit's end, commit and return its result record."""
        if seq != self.next:
            raise _split(self.task, f"batch {seq} came after {self.next - 1}")
        self.next += 1
        docs, rejected, info = unpack(rows)
        if info.get("end"):
            return self._finish(info)
        self.kept.write(docs)
        self.kept_rows += docs.height
        for part in rejected:
            self.rejected.write(part)
        self.step_rejects += info["rejected"]
        self.ledgers.append(info["ledger"])
        return None

    def _finish(self, end: dict[str, Any]) -> dict[str, Any]:
        ledger = Ledger()
        ledger.merge(end["ledger"])  # the reader's row first, as in process_unit
        for rows in self.ledgers:
            ledger.merge(rows)
        counts = {
            "read": end["read"],
            "kept": self.kept_rows,
            "rejected": end["rejected"] + self.step_rejects,
        }
        shards = self.kept.commit()
        rejected_shards = self.rejected.commit()
        result = unit_result(self.task, counts, ledger, shards, rejected_shards, end["started"])
        write_json_atomic(Path(self.task.marker), result)
        return result

    def abort(self) -> None:
        self.kept.abort()
        self.rejected.abort()


# --- the driver ---------------------------------------------------------------------------------
@dataclass
class StageRun:
    """What `run_stage` reports besides the results: Ray Data's stats, for notes and tests."""

    stats: str = ""

    @property
    def operators(self) -> list[str]:
        """Lines 'Operator N NAME: K tasks executed, ...' of the stats."""
        return [line for line in self.stats.splitlines() if line.startswith("Operator ")]


def run_stage(
    tasks: list[UnitTask],
    schema_in: dict[str, pl.DataType],
    *,
    cpus_per_task: float,
    max_retries: int,
    concurrency: int | None,
    progress: Progress,
    report: StageRun | None = None,
) -> list[dict[str, Any]]:
    """Run a stage's pending units as one Ray Data pipeline; their results in `tasks` order."""
    if not tasks:
        return []
    first = tasks[0]
    plan = StagePlan(
        first.stage,
        uuid.uuid4().hex,
        tuple(replace(t, entries=()) for t in tasks),
        schema_in,
    )
    mapper = StageMap(plan, first.entries, first.schema_out)
    sink = UnitsDatasink(plan)
    # the same for the three operators, so that Ray Data fuses them; `max_retries` and
    # `retry_exceptions` exist in Ray 2.60 only as remote arguments, deprecated (to go in
    # 2.64) with no replacement for a bound on retries after a lost worker
    remote = {"num_cpus": cpus_per_task, "max_retries": max_retries, "retry_exceptions": True}
    ctx = _data_context(concurrency, cpus_per_task)
    poller = _Poller(tasks, progress)
    try:
        with (
            ray.data.DataContext.current(ctx),
            _quiet_ray_data(),
            warnings.catch_warnings(),
        ):
            # Ray's own deprecations (remote arguments, its context's copy): not the user's
            warnings.simplefilter("ignore", DeprecationWarning)
            ds = ray.data.read_datasource(
                UnitsDatasource(plan),
                override_num_blocks=len(tasks),  # one read task per unit, never split
                ray_remote_args=dict(remote),
            )
            ds = ds.map_batches(
                mapper,
                batch_format="pyarrow",
                batch_size=None,  # whole blocks; StageMap restores the source batches
                **remote,
            )
            poller.start()
            ds.write_datasink(sink, ray_remote_args=dict(remote))
            if report is not None:
                report.stats = ds.stats()
    except Exception as e:
        error = _stage_error(e, tasks)
        if error is e:
            raise
        raise error from e
    finally:
        poller.stop()
    by_unit = {r["unit"]: r for r in sink.results}
    missing = [t.key for t in tasks if t.key not in by_unit]
    if missing or len(by_unit) != len(sink.results):
        raise UnitFailed(
            f"stage {first.stage}: Ray Data returned {len(sink.results)} unit results for "
            f"{len(tasks)} units (missing: {', '.join(missing[:10]) or 'none'})"
        )
    poller.report_rest([by_unit[t.key] for t in tasks])
    return [by_unit[t.key] for t in tasks]


def _data_context(concurrency: int | None, cpus_per_task: float) -> Any:
    """A copy of the driver's DataContext, set up for a corpuskit stage."""
    with warnings.catch_warnings():  # Ray 2.60's deepcopy warns on its own deprecated keys
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ray.data.DataContext.get_current().copy()
    ctx.enable_progress_bars = False  # corpuskit's own progress reports units
    ctx.print_on_execution_start = False
    ctx.raise_original_map_exception = True  # StepFailed, not "UDF failed", reaches us
    ctx.max_errored_blocks = 0
    if concurrency is not None:
        # units in flight: a CPU limit, not the operators' `concurrency` (a task pool size
        # on them stops Ray 2.60 from fusing the read into the map and write)
        ctx.execution_options = copy.deepcopy(ctx.execution_options)
        limits = ctx.execution_options.resource_limits
        ctx.execution_options.resource_limits = limits.copy(cpu=concurrency * cpus_per_task)
    elif BACKPRESSURE_KEY is not None:
        # Without a limit to enforce, leave out the resource-budget back-pressure: until
        # Ray Data's autoscaling coordinator first answers (about a second per dataset) it
        # admits one task at a time. It guards the object store, which this pipeline
        # hardly uses (a fused task returns a small stats row); Ray still runs only as
        # many tasks as there are CPUs.
        policies = ctx.get_config(BACKPRESSURE_KEY, ENABLED_BACKPRESSURE_POLICIES)
        kept = [p for p in policies if p is not ResourceBudgetBackpressurePolicy]
        ctx.set_config(BACKPRESSURE_KEY, kept)
    return ctx


class _Poller:
    """Reports units to the progress bar as their markers appear (the run blocks the driver)."""

    def __init__(self, tasks: list[UnitTask], progress: Progress, every: float = 0.5) -> None:
        self.tasks, self.progress, self.every = tasks, progress, every
        self.reported: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="corpuskit-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        folder = Path(self.tasks[0].marker).parent  # one folder per stage (OutputLayout)
        while not self._stop.wait(self.every):
            try:
                present = set(os.listdir(folder))
            except OSError:
                continue
            for t in self.tasks:
                marker = Path(t.marker)
                if t.key in self.reported or marker.name not in present:
                    continue
                try:
                    result = json.loads(marker.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                self._report(result)

    def _report(self, result: dict[str, Any]) -> None:
        self.reported.add(result["unit"])
        self.progress.advance(result["read"])
        self.progress.unit_done()

    def report_rest(self, results: list[dict[str, Any]]) -> None:
        for r in results:
            if r["unit"] not in self.reported:
                self._report(r)


@contextlib.contextmanager
def _quiet_ray_data() -> Iterator[None]:
    """Ray Data's INFO lines (execution start, sink finished) off the console for a stage."""
    log = logging.getLogger("ray.data")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _stage_error(e: Exception, tasks: list[UnitTask]) -> BaseException:
    """The error to raise for a failed stage: a unit's own exception where there is one."""
    cause: BaseException = e
    while isinstance(cause, ray.exceptions.RayTaskError) and isinstance(
        getattr(cause, "cause", None), BaseException
    ):
        cause = cause.cause
    _strip_retry_advice(cause)
    if _names_unit(cause):
        return cause
    unfinished = [t for t in tasks if not Path(t.marker).exists()]
    listed = ", ".join(f"{t.key} ({t.describe})" for t in unfinished[:5])
    more = f" and {len(unfinished) - 5} more" if len(unfinished) > 5 else ""
    return UnitFailed(
        f"stage {tasks[0].stage} failed on Ray Data ({type(cause).__name__}: "
        f"{str(cause).splitlines()[0] if str(cause) else ''}); "
        f"units without a result: {listed}{more}"
    )


def _strip_retry_advice(e: BaseException) -> None:
    """Drop Ray Data's 'Failed to apply UDF transform...' advice appended to a message.

    Retries are the executor's `max_retries`, so its advice to set DataContext options
    would mislead.
    """
    if e.args and isinstance(e.args[0], str) and "\nFailed to apply UDF transform" in e.args[0]:
        e.args = (e.args[0].split("\nFailed to apply UDF transform", 1)[0], *e.args[1:])


__all__ = [
    "StageMap",
    "StagePlan",
    "StageRun",
    "UnitFailed",
    "UnitsDatasink",
    "UnitsDatasource",
    "run_stage",
]
