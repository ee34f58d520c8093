"""The trainer interface: what a trainer plugin implements.

A trainer is a class registered under the `corpuskit.trainers` entry point group. It
declares a typed config (`Config`, a subclass of TrainerConfig) and implements:

- `prepare(data, run_dir, world_size)`: once per machine before training starts, in one process
  (e.g. train a tokenizer, write token shards). No-op by default.
- `fit(data, run_dir)`: the training; with `--nproc N` it runs in each of N processes
  started by torchrun (RANK, WORLD_SIZE, LOCAL_RANK... in the environment).
- `evaluate(data, run_dir, splits, **options)`: metrics of the trained model on held-out
  splits.
- `generate(run_dir, prompt, **options)`: optional, text from the trained model: a
  continuation of the prompt (a language model), or its translation or summary (a
  sequence-to-sequence model).
- `generator(run_dir, ...)`: optional, the loaded model behind `corpuskit chat` and
  `corpuskit serve` (a corpuskit.serving.generator.TextGenerator).

`data` is a CorpusData: the corpuskit output folder, already split into train / val /
test by document id (see corpuskit.training.split), read as the roles the config's
`data_fields()` names (`text`; `source` and `target` for a PairedConfig).

The options a trainer takes are named in `evaluate_options` / `generate_options`; the
command line passes only those a user set (the trainer's own defaults apply otherwise)
and refuses the others, so it never needs to know which trainer it talks to.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError

from corpuskit import registry
from corpuskit.recipe import _describe
from corpuskit.training.config import TrainConfigError, TrainerConfig, merge, read_config_file
from corpuskit.training.data import CorpusData


class Trainer(ABC):
    """Base of every trainer: a typed config, then fit / evaluate over a corpus."""

    Config: ClassVar[type[TrainerConfig]] = TrainerConfig
    # Whether fit() can run as one of several torchrun processes (--nproc > 1).
    distributed: ClassVar[bool] = False
    # Keyword options evaluate() and generate() take (`corpuskit eval` / `generate` flags).
    evaluate_options: ClassVar[frozenset[str]] = frozenset({"checkpoint", "bleu_docs", "samples"})
    generate_options: ClassVar[frozenset[str]] = frozenset(
        {"checkpoint", "max_new_tokens", "temperature", "top_k", "num_samples", "seed"}
    )

    def __init__(self, config: TrainerConfig) -> None:
        self.config = config

    @classmethod
    def summary(cls) -> str:
        """First line of the class docstring (shown by `corpuskit trainers`)."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    def prepare(  # noqa: B027 (an optional hook)
        self, data: CorpusData, run_dir: Path, world_size: int = 1
    ) -> None:
        """Once per machine, in one process, before fit() starts on `world_size` ranks."""

    @abstractmethod
    def fit(self, data: CorpusData, run_dir: Path) -> dict[str, Any]:
        """Train; returns a summary (e.g. steps, final losses)."""

    @abstractmethod
    def evaluate(
        self, data: CorpusData, run_dir: Path, splits: Sequence[str] = ("val", "test"), **options
    ) -> dict[str, Any]:
        """Metrics of the model saved in `run_dir` on the given splits."""

    def generate(self, run_dir: Path, prompt: str, **options) -> list[str]:
        """Text continuations of `prompt` from the model saved in `run_dir`."""
        raise NotImplementedError(f"trainer {type(self).__name__} does not generate text")

    def generator(
        self, run_dir: Path, checkpoint: Path | None = None, slots: int = 8, **options
    ) -> Any:
        """The model of `run_dir` as a TextGenerator (corpuskit.serving.generator) that
        decodes up to `slots` sequences at once: what `corpuskit chat` and `serve` use."""
        raise TrainConfigError(
            f"trainer {self.config.trainer!r} has no generator: `corpuskit chat` and "
            "`corpuskit serve` need a trainer that implements Trainer.generator()"
        )


def get_trainer(name: str) -> type[Trainer]:
    """The trainer class registered as `name`; the error lists the available ones."""
    found = registry.discover("trainers")
    if name in found.loaded:
        return found.loaded[name]
    if name in found.errors:
        raise TrainConfigError(f"trainer {name!r} failed to load: {found.errors[name]}")
    known = ", ".join(sorted(found.loaded)) or "none installed (pip install plugins/gpt)"
    raise TrainConfigError(f"unknown trainer {name!r}; available: {known}")


def validate_config(raw: dict[str, Any], origin: str = "config") -> TrainerConfig:
    """Validate a raw mapping with its trainer's config class; errors name the key."""
    name = raw.get("trainer")
    if not name:
        raise TrainConfigError(f"{origin}: missing required key 'trainer'")
    cls = get_trainer(str(name))
    try:
        return cls.Config.model_validate(raw)
    except ValidationError as e:
        raise TrainConfigError(f"{origin} (trainer {name}): {_describe(e)}") from None


def load_train_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainerConfig:
    """Read, override and validate a training config; `run_dir` defaults to runs/<file stem>."""
    raw = merge(read_config_file(path), overrides or {})
    if not raw.get("run_dir"):
        raw["run_dir"] = str(Path("runs") / Path(path).stem)
    return validate_config(raw, origin=str(path))
