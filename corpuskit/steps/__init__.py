"""Built-in steps; each registers under `corpuskit.steps` in pyproject.toml."""

from corpuskit.steps.base import (
    Corpus,
    FilterStep,
    GlobalStep,
    MapStep,
    Step,
    StepConfig,
    StepResult,
)

__all__ = ["Corpus", "FilterStep", "GlobalStep", "MapStep", "Step", "StepConfig", "StepResult"]
