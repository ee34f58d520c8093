"""The pipeline of a recipe: its steps built from their configs, split into stages at global
steps, and the output schema it produces."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from pydantic import ValidationError

from corpuskit import registry
from corpuskit.recipe import Recipe, RecipeError, _describe
from corpuskit.schema import DOCUMENT_SCHEMA
from corpuskit.steps.base import Step


@dataclass(frozen=True)
class StepEntry:
    """A step of the pipeline: its position in the recipe, its name, the built step."""

    index: int
    name: str
    step: Step


def build_steps(recipe: Recipe) -> list[StepEntry]:
    """Instantiate every step, validating its config; errors name index, step and key."""
    entries = []
    available = registry.steps()
    for i, item in enumerate(recipe.steps):
        if not isinstance(item, dict) or len(item) != 1:
            raise RecipeError(
                f"steps[{i}]: each step must be a mapping of one step name to its config, "
                f"got {item!r}"
            )
        ((name, raw),) = item.items()
        if name not in available:
            broken = registry.step_errors().get(name)
            if broken:
                raise RecipeError(f"steps[{i}] ({name}): the plugin failed to load: {broken}")
            known = ", ".join(sorted(available)) or "none"
            raise RecipeError(f"steps[{i}]: unknown step {name!r}; known steps: {known}")
        cls = available[name]
        try:
            config = cls.Config.model_validate(raw or {})
        except ValidationError as e:
            raise RecipeError(f"steps[{i}] ({name}): {_describe(e)}") from None
        try:
            step = cls(config, name=name)
            step.validate()
        except (ValueError, OSError) as e:
            raise RecipeError(f"steps[{i}] ({name}): {e}") from None
        entries.append(StepEntry(i, name, step))
    return entries


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
