"""The step contract: small classes with typed configs that work on whole Polars batches.

A step is one of three shapes, each with the method(s) a step writes:

- `MapStep.map(batch) -> batch`: normalizers, labellers (every row comes back).
- `FilterStep.annotate(batch) -> batch` adds signal columns, `rules()` gives
  `(reason, expression)` pairs: the first that holds drops the row. `detail()` may name
  what a dropped row's `detail` says.
- `GlobalStep.fit(corpus) -> state` once over the whole stage input, then
  `apply(batch, state) -> batch` per batch, giving dropped rows a reason in REASON_COLUMN.

Any of them counts with `self.count(name, n)`: the engine adds the counts of every batch to
the step's ledger entry in the manifest. `process` is the engine's side of the contract (it
calls the step's own method and collects its counts); steps never override it. The engine
times every step and keeps the ledger of documents in, out and rejected. See
docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict

from corpuskit.corpus import Corpus
from corpuskit.output import state as fit_state
from corpuskit.schema import DETAIL_COLUMN, REASON_COLUMN
from corpuskit.steps.decisions import detail_expr

StepKind = Literal["map", "filter", "global"]


class StepConfig(BaseModel):
    """Base of every step config: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class StepResult:
    """What `process` gives the engine: every input row, and the batch's counts.

    `batch` may carry REASON_COLUMN (null = keep, else the reason) and DETAIL_COLUMN.
    """

    batch: pl.DataFrame
    counters: dict[str, int] = field(default_factory=dict)


class Step:
    """Base of all steps. Subclasses set `Config` and `columns`, and write their shape's methods."""

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
        self._counts: dict[str, int] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "process" in cls.__dict__ and cls.__module__ != __name__:
            raise TypeError(
                f"{cls.__qualname__} overrides `process`, the engine's side of the step "
                "contract; write map, annotate + rules, or fit + apply, and count with "
                "self.count(name, n)"
            )

    @classmethod
    def summary(cls) -> str:
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    def validate(self) -> None:
        """Check the config beyond its types (files exist, patterns compile). Raise ValueError."""

    def setup(self) -> None:
        """Load heavy resources (models, tables) before the first batch, once per process."""

    def count(self, name: str, n: int = 1) -> None:
        """Add `n` to the counter `name` of this step's ledger entry (a 0 still lists it)."""
        self._counts[name] = self._counts.get(name, 0) + int(n)

    def ensure_ready(self) -> None:
        if not self._ready:
            self.setup()
            self._ready = True

    def process(self, batch: pl.DataFrame, state: Any = None) -> StepResult:
        """The engine's call: set up if needed, run the step on `batch`, collect its counts."""
        self.ensure_ready()
        self._counts = {}
        out = self._run(batch, state)
        counts, self._counts = self._counts, {}
        return StepResult(out, counts)

    def _run(self, batch: pl.DataFrame, state: Any) -> pl.DataFrame:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_ready"] = False  # resources are rebuilt in each worker
        state["_counts"] = {}
        state.pop("_decisions", None)  # expressions built from the config, rebuilt on demand
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

    def _run(self, batch: pl.DataFrame, state: Any) -> pl.DataFrame:
        return self.map(batch)


class FilterStep(Step):
    """Annotate first, decide second: signal columns, then a reason for each dropped row.

    `annotate` may also rewrite `text` (line filters do) and add scratch columns whose names
    start with "_" for its rules to read; they are dropped once the rules have decided.
    """

    kind: ClassVar[StepKind] = "filter"

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        """Add signal columns; the default adds none."""
        return batch

    def rules(self) -> list[tuple[str, pl.Expr]]:
        """(reason, expression true where the row is dropped); the first matching rule wins.

        Built from the config alone, never from a batch: the expressions are built once per
        batch schema and reused (put per-batch values in `annotate`'s columns)."""
        raise NotImplementedError

    def keeps(self, frame: pl.DataFrame) -> pl.Series:
        """Which rows of `frame` (columns the rules read) the rules keep: for an `annotate`
        whose output depends on the decision (c4_quality shortens only kept documents)."""
        return frame.select(reason_from_rules(self.name, self.rules())).to_series().is_null()

    def detail(self) -> pl.Expr | None:
        """What a dropped row's `detail` says (e.g. the language found); None: the value and
        threshold that decided, read from the deciding rule (`gopher_words=12 < 50`)."""
        return None

    def _run(self, batch: pl.DataFrame, state: Any) -> pl.DataFrame:
        annotated = self.annotate(batch)
        reason, detail = self._decision(annotated.schema)
        out = annotated.with_columns(reason)
        if detail is not None:
            out = out.with_columns(detail)
        scratch = [c for c in annotated.columns if c.startswith("_") and c not in batch.columns]
        return out.drop(scratch)

    def _decision(self, schema: pl.Schema) -> tuple[pl.Expr, pl.Expr | None]:
        """The reason and detail expressions for batches of `schema`. Rules depend on the
        config alone (never on a batch), so they are built once per reasons and schema:
        the generic detail reads the rules' serialized trees, ~0.1-0.6 ms a batch."""
        rules = self.rules()
        key = (tuple(reason for reason, _ in rules), tuple(schema.items()))
        memo = self.__dict__.setdefault("_decisions", {})
        if key not in memo:
            detail = self.detail()
            if detail is None:
                detail = detail_expr(self.name, rules, schema, REASON_COLUMN)
            if detail is not None:
                detail = (
                    pl.when(pl.col(REASON_COLUMN).is_not_null())
                    .then(detail)
                    .otherwise(pl.lit(None, pl.String))
                    .alias(DETAIL_COLUMN)
                )
            memo[key] = (reason_from_rules(self.name, rules), detail)
        return memo[key]


def reason_from_rules(step: str, rules: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """One nullable reason column, '<step>:<reason>' for the first rule that holds."""
    if not rules:
        return pl.lit(None, dtype=pl.String()).alias(REASON_COLUMN)
    (first_reason, first_cond), *rest = rules
    expr = pl.when(first_cond.fill_null(False)).then(pl.lit(f"{step}:{first_reason}"))
    for reason, cond in rest:
        expr = expr.when(cond.fill_null(False)).then(pl.lit(f"{step}:{reason}"))
    return expr.otherwise(pl.lit(None, dtype=pl.String())).alias(REASON_COLUMN)


class GlobalStep(Step):
    """Needs a pass over the whole corpus before it can decide (dedup, frequent lines).

    The engine calls `fit` once per run, saves the returned state, and gives it back to
    `apply` in every worker. `apply` returns every row; a dropped row gets its reason in
    REASON_COLUMN (and may say more in DETAIL_COLUMN). States are saved as data, not pickle.
    """

    kind: ClassVar[StepKind] = "global"

    def fit(self, corpus: Corpus) -> Any:
        raise NotImplementedError

    def apply(self, batch: pl.DataFrame, state: Any) -> pl.DataFrame:
        raise NotImplementedError

    def _run(self, batch: pl.DataFrame, state: Any) -> pl.DataFrame:
        return self.apply(batch, state)

    def save_state(self, state: Any, path: Path) -> None:
        """Saved as data (frames, arrays, dataclasses; `output.state`), never pickled:
        a state file planted in the output folder must not run code on resume."""
        fit_state.save_state(state, path)

    def load_state(self, path: Path) -> Any:
        return fit_state.load_state(path)
