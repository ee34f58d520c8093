"""Training configs: one YAML mapping, plain data, validated by the trainer's pydantic model.

    trainer: gpt                 # a name registered under the `corpuskit.trainers` entry points
    data: out/shakespeare        # a corpuskit output folder (its data/ Parquet shards)
    run_dir: runs/shakespeare    # checkpoints, metrics, the final model
    split: {val: 0.1, test: 0.0}
    max_iters: 2000              # ...and every other key the trainer's config declares

Command-line overrides are `key=value` (dotted keys reach into mappings, values are
YAML: `max_iters=100`, `split.val=0.2`, `init_from=null`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from corpuskit.recipe import RecipeError
from corpuskit.training.split import SplitConfig


class TrainConfigError(RecipeError):
    """A training config that cannot run; the message names the file and key."""


class TrainerConfig(BaseModel):
    """Keys every trainer has; a trainer's own config subclasses this and adds its keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trainer: str = Field(description="registered trainer name (`corpuskit trainers`)")
    data: str | None = Field(None, description="corpuskit output folder to train on")
    run_dir: str | None = Field(None, description="where checkpoints, metrics and the model go")
    text_field: str = Field("text", description="column holding the document text")
    split: SplitConfig = Field(SplitConfig(), description="held-out fractions: {val, test, seed}")
    seed: int = Field(1337, description="seed of weights init, data order and dropout")
    search: dict[str, Any] | None = Field(
        None,
        description="hyper-parameter search space for `corpuskit tune` (key: {uniform: [a, b]}, "
        "{log_uniform: [a, b]}, {int: [a, b]}, {choice: [...]}); `train` ignores it",
    )

    def data_fields(self) -> dict[str, str]:
        """What the trainer reads from each document: role -> a column or a `meta` key."""
        return {"text": self.text_field}


class PairedConfig(TrainerConfig):
    """Keys of a trainer that learns from (source, target) pairs: translation, summarization.

    Each document is one pair; either side is a column (`text`, `title`, ...) or a key of
    the document's `meta` (the input's other fields), as the recipe put them.
    """

    source_field: str = Field(description="column or meta key holding the input side")
    target_field: str = Field(description="column or meta key holding the output side")
    source_prefix: str = Field(
        "", description="task prefix put before every source, e.g. 'summarize: '"
    )

    def data_fields(self) -> dict[str, str]:
        return {"source": self.source_field, "target": self.target_field}


def batch_layout(batch_size: int, accumulation: int, world: int) -> tuple[int, int]:
    """(micro-batch, accumulation steps) of each of `world` processes.

    The global batch `batch_size x accumulation` is kept whatever the world size, so
    `--nproc N` trains the same run as one process: each rank takes global / world
    examples per step, in the fewest micro-steps whose micro-batch is at most
    `batch_size` and divides evenly.
    """
    total = batch_size * accumulation
    share, rest = divmod(total, world)
    if rest or share == 0:
        raise TrainConfigError(
            f"the global batch (batch_size {batch_size} x gradient_accumulation_steps "
            f"{accumulation} = {total}) cannot be split evenly over {world} processes; "
            f"make it a multiple of {world}"
        )
    accum = -(-share // batch_size)
    while share % accum:
        accum += 1
    return share // accum, accum


def parse_overrides(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`key=value` strings into a nested mapping; values are parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().removeprefix("--")
        if not sep or not key:
            raise TrainConfigError(f"override {item!r}: expected key=value, e.g. max_iters=100")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as e:
            raise TrainConfigError(f"override {item!r}: value is not valid YAML: {e}") from None
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise TrainConfigError(f"override {item!r}: {p!r} is set as a value and a mapping")
        node[parts[-1]] = value
    return out


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` applied; nested mappings merge key by key."""
    out = dict(base)
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a YAML training config."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainConfigError(f"{path}: training config not found") from None
    except yaml.YAMLError as e:
        raise TrainConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise TrainConfigError(f"{path}: a training config is a mapping with `trainer: NAME`")
    return raw


def save_config(config: TrainerConfig, path: Path) -> None:
    """Write the resolved config (every key, defaults included) as YAML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(
        yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    tmp.replace(path)
