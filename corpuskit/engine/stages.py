"""Splitting a pipeline into stages at global steps, and the output schema it produces."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from corpuskit.recipe import StepEntry
from corpuskit.schema import DOCUMENT_SCHEMA


@dataclass(frozen=True)
class Stage:
    """A global step (absent in the first stage) followed by per-document steps."""

    index: int
    global_step: StepEntry | None
    steps: tuple[StepEntry, ...]

    @property
    def entries(self) -> tuple[StepEntry, ...]:
        return ((self.global_step,) if self.global_step else ()) + self.steps


def step_key(entry: StepEntry) -> str:
    """The ledger key: position and name, since a step may appear twice."""
    return f"{entry.index}:{entry.name}"


def split_stages(entries: list[StepEntry]) -> list[Stage]:
    stages: list[Stage] = []
    current: list[StepEntry] = []
    head: StepEntry | None = None
    for e in entries:
        if e.step.kind == "global":
            stages.append(Stage(len(stages), head, tuple(current)))
            head, current = e, []
        else:
            current.append(e)
    stages.append(Stage(len(stages), head, tuple(current)))
    return stages


def schema_after(entries: list[StepEntry] | tuple[StepEntry, ...]) -> dict[str, pl.DataType]:
    """The document columns plus every column the given steps declare, in pipeline order."""
    schema = dict(DOCUMENT_SCHEMA)
    for e in entries:
        schema.update(e.step.columns)
    return schema
