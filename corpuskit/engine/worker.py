"""The work itself, wherever a backend runs it: one unit start to finish, one fit.

`process_unit` reads a unit (its input at stage 0, the previous stage's shards later),
runs the stage's steps, writes the kept and rejected shards and records completion.
`fit_and_save` runs a global step's fit and saves its state. Backends call these and
nothing else; they know nothing of processes or Ray.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from corpuskit import registry
from corpuskit.corpus import Corpus
from corpuskit.engine.ledger import Ledger
from corpuskit.engine.stages import StepEntry, step_key
from corpuskit.output.shards import Shard, ShardWriter
from corpuskit.readers.base import READ_STEP, InputSpec, Unit
from corpuskit.schema import (
    DETAIL_COLUMN,
    DOCUMENT_SCHEMA,
    REASON_COLUMN,
    REJECTED_SCHEMA,
    conform,
    to_rejected,
)
from corpuskit.steps.base import GlobalStep


class StepFailed(RuntimeError):
    """A step raised or broke the contract; the message names the step and the unit."""


@dataclass
class UnitTask:
    stage: int
    key: str
    entries: tuple[StepEntry, ...]
    fingerprint: str  # the stage's steps and fit state (see `stage_steps`)
    schema_out: dict[str, pl.DataType]
    kept_dir: str
    rejected_dir: str
    marker: str
    max_shard_bytes: int
    compression_level: int = 3
    reader: tuple[str, InputSpec, int] | None = None
    unit: Unit | None = None
    inputs: tuple[str, ...] = ()
    global_state: str | None = None
    describe: str = ""


#: This process's set-up steps and fit state of the stage it last ran, by stage fingerprint.
_STAGE: dict[str, tuple[tuple[StepEntry, ...], Any]] = {}


def stage_steps(task: UnitTask) -> tuple[tuple[StepEntry, ...], Any]:
    """The stage's steps and fit state in this process: the task's own for the first unit
    of a stage a process runs, then the same objects (set up already) for the next units."""
    cached = _STAGE.get(task.fingerprint)
    if cached is None:
        _STAGE.clear()
        state = None
        if task.global_state is not None:
            state = task.entries[0].step.load_state(Path(task.global_state))
        cached = _STAGE[task.fingerprint] = (task.entries, state)
    return cached


def forget_stage() -> None:
    """Drop this process's cached steps and state (the driver, after running units itself)."""
    _STAGE.clear()


def process_unit(task: UnitTask, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run one unit and return its result record (also written to `task.marker`)."""
    started = time.perf_counter()
    entries, state = stage_steps(task)
    ledger = Ledger()
    kept, rejected = unit_writers(task)
    counts = {"read": 0, "kept": 0, "rejected": 0}
    try:
        for batch, n_records in source_batches(task, ledger, rejected, counts):
            out = run_steps(batch, entries, state, ledger, rejected, counts, task.describe)
            kept.write(conform(out, task.schema_out))
            counts["kept"] += out.height
            if progress is not None:
                progress(n_records)
        shards = kept.commit()
        rejected_shards = rejected.commit()
    except BaseException:
        kept.abort()
        rejected.abort()
        raise
    result = unit_result(task, counts, ledger, shards, rejected_shards, started)
    write_json_atomic(Path(task.marker), result)
    return result


def fit_and_save(step: GlobalStep, corpus: Corpus, path: Path) -> None:
    """`step.fit(corpus)`, its state written to `path` under a temporary name, then renamed:
    a crash never leaves half a state."""
    step.ensure_ready()
    state = step.fit(corpus)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    step.save_state(state, tmp)
    os.replace(tmp, path)


def unit_writers(task: UnitTask) -> tuple[ShardWriter, ShardWriter]:
    """The unit's kept and rejected shard writers: `part-<key>-NNN`, `part-s<stage>-<key>-NNN`."""
    kept = ShardWriter(
        Path(task.kept_dir),
        f"part-{task.key}",
        task.schema_out,
        task.max_shard_bytes,
        task.compression_level,
    )
    rejected = ShardWriter(
        Path(task.rejected_dir),
        f"part-s{task.stage}-{task.key}",
        REJECTED_SCHEMA,
        task.max_shard_bytes,
        task.compression_level,
    )
    return kept, rejected


def unit_result(
    task: UnitTask,
    counts: dict[str, int],
    ledger: Ledger,
    shards: list[Shard],
    rejected_shards: list[Shard],
    started: float,
) -> dict[str, Any]:
    """A unit's result record, as its completion marker holds it (`started`: perf_counter)."""
    return {
        "stage": task.stage,
        "unit": task.key,
        **counts,
        "ledger": ledger.to_list(),
        "shards": [s.__dict__ for s in shards],
        "rejected_shards": [s.__dict__ for s in rejected_shards],
        "seconds": round(time.perf_counter() - started, 4),
    }


def source_batches(
    task: UnitTask, ledger: Ledger, rejected: ShardWriter, counts: dict[str, int]
) -> Iterator[tuple[pl.DataFrame, int]]:
    """The unit's document batches and the records each stands for (documents + rejects).

    Stage 0 reads the unit's input with its reader (read-time rejects go to `rejected`
    before their batch is yielded); later stages read the Parquet row groups of the
    previous stage's shards.
    """
    if task.reader is not None:
        fmt, spec, index = task.reader
        reader = registry.get_reader(fmt)(spec, index)
        stats = ledger.get(READ_STEP)
        batches = reader.read(task.unit)
        while True:
            t0 = time.perf_counter()
            batch = next(batches, None)
            stats.seconds += time.perf_counter() - t0
            if batch is None:
                break
            docs, rej = batch.documents, batch.rejected
            if docs.width == 0:
                docs = pl.DataFrame(schema=DOCUMENT_SCHEMA)
            n = docs.height + rej.height
            stats.docs_in += n
            stats.docs_out += docs.height
            stats.rejected += rej.height
            counts["read"] += n
            counts["rejected"] += rej.height
            if rej.height:
                stats.reasons.update(dict(rej.group_by("reason").len().iter_rows()))
                rejected.write(rej)
            yield docs, n
        return
    for path in task.inputs:
        f = pq.ParquetFile(path)
        for g in range(f.metadata.num_row_groups):
            batch = pl.from_arrow(f.read_row_group(g))
            counts["read"] += batch.height
            yield batch, batch.height


def run_steps(
    batch: pl.DataFrame,
    entries: tuple[StepEntry, ...],
    state: Any,
    ledger: Ledger,
    rejected: ShardWriter,
    counts: dict[str, int],
    where: str = "",
) -> pl.DataFrame:
    """Apply steps in order; rows a step rejects go to `rejected` with its reason."""
    for entry in entries:
        stats = ledger.get(step_key(entry))
        stats.docs_in += batch.height
        if batch.height == 0:
            continue
        step = entry.step
        label = f"steps[{entry.index}] ({entry.name})"
        t0 = time.perf_counter()
        try:
            result = step.process(batch, state)
        except Exception as e:
            raise StepFailed(f"{label} failed on {where}: {type(e).__name__}: {e}") from e
        out = _check_columns(result.batch, batch, entry, label, where)
        stats.seconds += time.perf_counter() - t0
        stats.counters.update(result.counters)
        if REASON_COLUMN in out.columns:
            keep = out[REASON_COLUMN].is_null()
            dropped = out.filter(~keep)
            if dropped.height:
                detail = pl.col(DETAIL_COLUMN) if DETAIL_COLUMN in out.columns else None
                rejected.write(to_rejected(dropped, entry.name, pl.col(REASON_COLUMN), detail))
                stats.reasons.update(dict(dropped.group_by(REASON_COLUMN).len().iter_rows()))
                stats.rejected += dropped.height
                counts["rejected"] += dropped.height
            out = out.filter(keep).drop(REASON_COLUMN, DETAIL_COLUMN, strict=False)
        stats.docs_out += out.height
        batch = out
    return batch


def _check_columns(
    out: pl.DataFrame, before: pl.DataFrame, entry: StepEntry, label: str, where: str
) -> pl.DataFrame:
    if out.height != before.height:
        raise StepFailed(
            f"{label} returned {out.height} rows for {before.height} on {where}; "
            "steps drop rows by giving a reason, never by removing them"
        )
    allowed = set(before.columns) | set(entry.step.columns) | {REASON_COLUMN, DETAIL_COLUMN}
    extra = [c for c in out.columns if c not in allowed]
    if extra:
        raise StepFailed(
            f"{label} added undeclared columns {extra} on {where}; declare them in `columns`"
        )
    missing = [c for c in DOCUMENT_SCHEMA if c not in out.columns]
    if missing:
        raise StepFailed(f"{label} removed document columns {missing} on {where}")
    return out


def write_json_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)
