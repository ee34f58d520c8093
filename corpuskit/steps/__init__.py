"""The step contract (`base`) and the built-in steps, one module per step, each registered
under the `corpuskit.steps` entry point group in pyproject.toml."""

from corpuskit.corpus import Corpus
from corpuskit.steps.base import FilterStep, GlobalStep, MapStep, Step, StepConfig

__all__ = ["Corpus", "FilterStep", "GlobalStep", "MapStep", "Step", "StepConfig"]
