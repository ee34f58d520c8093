"""The step interface: small classes with typed configs that work on whole batches.

Three shapes (see DESIGN.md):
- MapStep: batch -> batch (normalizers, labellers)
- FilterStep: computes signal columns, then a reject reason per row (null = keep)
- GlobalStep: `fit` over the whole corpus first, then works batch-wise like a filter

Steps never count or time themselves: the engine keeps the ledger.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict

from corpuskit.schema import DETAIL_COLUMN, REASON_COLUMN

StepKind = Literal["map", "filter", "global"]


class StepConfig(BaseModel):
    """Base of every step config: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class StepResult:
    """A step's output: every input row (with signals), and optional reject reasons.

    `batch` may carry REASON_COLUMN (null = keep, else the reason) and DETAIL_COLUMN.
    `counters` are added to the step's ledger entry (e.g. lines removed).
    """

    batch: pl.DataFrame
    counters: dict[str, int] = field(default_factory=dict)


class Step:
    """Base of all steps. Subclasses set `kind`, `Config` and `columns`."""

    kind: ClassVar[StepKind]
    Config: ClassVar[type[StepConfig]] = StepConfig
    reads: ClassVar[tuple[str, ...]] = ("text",)
    # Columns the step adds, with their types; the engine casts to them so that
    # every output shard has one schema.
    columns: ClassVar[dict[str, pl.DataType]] = {}

    def __init__(self, config: StepConfig | None = None, name: str | None = None) -> None:
        self.config = config if config is not None else self.Config()
        self.name = name or type(self).__name__
        self._ready = False

    @classmethod
    def summary(cls) -> str:
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    def validate(self) -> None:
        """Check the config beyond its types (files exist, patterns compile). Raise ValueError."""

    def setup(self) -> None:
        """Load heavy resources once per process, before the first batch."""

    def ensure_ready(self) -> None:
        if not self._ready:
            self.setup()
            self._ready = True

    def process(self, batch: pl.DataFrame) -> StepResult:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_ready"] = False  # resources are rebuilt in each worker
        for key in self._transient():
            state.pop(key, None)
        return state

    def _transient(self) -> tuple[str, ...]:
        """Attribute names that must not be pickled to workers (rebuilt by setup)."""
        return ()


class MapStep(Step):
    """batch -> batch; keeps every row."""

    kind: ClassVar[StepKind] = "map"

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        raise NotImplementedError

    def process(self, batch: pl.DataFrame) -> StepResult:
        return StepResult(self.map(batch))


class FilterStep(Step):
    """Annotate first, decide second: signal columns, then a reason for each dropped row."""

    kind: ClassVar[StepKind] = "filter"

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        """Add signal columns; the default adds none."""
        return batch

    def rules(self) -> list[tuple[str, pl.Expr]]:
        """(reason, expression true where the row is dropped); the first matching rule wins."""
        raise NotImplementedError

    def process(self, batch: pl.DataFrame) -> StepResult:
        annotated = self.annotate(batch)
        return StepResult(annotated.with_columns(reason_from_rules(self.name, self.rules())))


def reason_from_rules(step: str, rules: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """One nullable reason column, '<step>:<reason>' for the first rule that holds."""
    if not rules:
        return pl.lit(None, dtype=pl.String()).alias(REASON_COLUMN)
    (first_reason, first_cond), *rest = rules
    expr = pl.when(first_cond.fill_null(False)).then(pl.lit(f"{step}:{first_reason}"))
    for reason, cond in rest:
        expr = expr.when(cond.fill_null(False)).then(pl.lit(f"{step}:{reason}"))
    return expr.otherwise(pl.lit(None, dtype=pl.String())).alias(REASON_COLUMN)


#: How a Corpus runs `fn` over items: results in item order (the executor provides one).
Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]

_active: ContextVar[Corpus | None] = ContextVar("corpuskit_active_corpus", default=None)


class Corpus:
    """What a global step sees during `fit`: the whole stage input, as Parquet shards.

    `workers`: CPUs the fit itself may use (threads). `map(fn, items)` runs `fn` over
    items in parallel where the executor decides: the local executor in `workers`
    threads, the Ray executor as Ray tasks spread over the cluster. A mapped `fn` must
    be picklable by cloudpickle (closures are) and write only under `workdir`, which is
    on a filesystem every node sees; large results belong in files there, not in the
    returned values. `parallelism` is how many mapped calls can run at once.
    """

    def __init__(
        self,
        files: list[Path],
        workdir: Path,
        workers: int,
        mapper: Mapper | None = None,
        parallelism: int | None = None,
    ) -> None:
        self.files = files
        self.workdir = workdir
        self.workers = workers
        self.mapper = mapper
        self.parallelism = max(1, parallelism or workers)

    def scan(self, columns: list[str] | None = None) -> pl.LazyFrame:
        if not self.files:
            from corpuskit.schema import DOCUMENT_SCHEMA

            empty = pl.LazyFrame(schema=DOCUMENT_SCHEMA)
            return empty.select(columns) if columns else empty
        lf = pl.scan_parquet([str(f) for f in self.files])
        return lf.select(columns) if columns else lf

    def iter_batches(self, columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
        """Shard by shard, in corpus order, so memory stays bounded."""
        for f in self.files:
            yield pl.read_parquet(f, columns=columns)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """[fn(item) for item in items], run in parallel (see the class); results in order."""
        items = list(items)
        if self.mapper is not None:
            return self.mapper(fn, items)
        return thread_map(fn, items, self.workers)

    @contextmanager
    def active(self) -> Iterator[Corpus]:
        """Make this the corpus `Corpus.current()` returns while a fit runs (this thread)."""
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)

    @staticmethod
    def current() -> Corpus | None:
        """The corpus of the fit running in this thread, if any.

        Lets library code that a step's `fit` calls with a plain `workers` count (the dedup
        maps) run its maps through the executor's `map` without changing the step.
        """
        return _active.get()


def thread_map(fn: Callable[[Any], Any], items: Sequence[Any], workers: int) -> list[Any]:
    """[fn(item) ...] in `workers` threads (numpy and Polars release the GIL), in order."""
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(min(workers, len(items)), thread_name_prefix="fit-map") as pool:
        return list(pool.map(fn, items))


class GlobalStep(Step):
    """Needs a pass over the whole corpus before it can decide (dedup, frequent lines).

    The engine calls `fit` once in the driver, saves the returned state, and gives it
    back to `apply` in every worker. States are pickled by default.
    """

    kind: ClassVar[StepKind] = "global"

    def fit(self, corpus: Corpus) -> Any:
        raise NotImplementedError

    def apply(self, batch: pl.DataFrame, state: Any) -> StepResult:
        raise NotImplementedError

    def save_state(self, state: Any, path: Path) -> None:
        path.write_bytes(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))

    def load_state(self, path: Path) -> Any:
        return pickle.loads(path.read_bytes())


__all__ = [
    "DETAIL_COLUMN",
    "REASON_COLUMN",
    "Corpus",
    "FilterStep",
    "GlobalStep",
    "MapStep",
    "Mapper",
    "Step",
    "StepConfig",
    "StepResult",
    "reason_from_rules",
    "thread_map",
]
