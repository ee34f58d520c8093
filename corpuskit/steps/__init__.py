"""The step contract (`base`) and the built-in steps, one module per step, each registered
under the `corpuskit.steps` entry point group in pyproject.toml. Plugins import from here."""

from corpuskit.corpus import Corpus
from corpuskit.schema import DETAIL_COLUMN, REASON_COLUMN
from corpuskit.steps.base import FilterStep, GlobalStep, MapStep, Step, StepConfig

__all__ = [
    "DETAIL_COLUMN",
    "REASON_COLUMN",
    "Corpus",
    "FilterStep",
    "GlobalStep",
    "MapStep",
    "Step",
    "StepConfig",
]
