"""Recipes: the YAML contract users write, validated in full before any data is read."""

from __future__ import annotations

import glob
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from corpuskit import registry
from corpuskit.steps.base import Step


class RecipeError(ValueError):
    """A recipe that cannot run; the message names the file, step and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputSpec(_Strict):
    """One input source: a glob (or several) of files in one format."""

    path: str | list[str]
    format: str | None = None
    text_field: str = "text"
    id_field: str | None = None
    url_field: str | None = None
    title_field: str | None = None
    encoding: str = "auto"
    on_decode_error: Literal["replace", "reject"] = "replace"
    # csv / tsv: column names for files without a header row
    columns: list[str] | None = None
    # text: one document per file, per non-blank line, or per blank-line-separated block
    mode: Literal["file", "line", "paragraph"] = "file"
    # labelled_text: the meta key the label is stored under
    label_field: str = "label"

    @property
    def patterns(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path)


class OutputSpec(_Strict):
    path: str
    max_shard_mb: float = Field(256, gt=0, description="size cap of one Parquet shard")
    compression_level: int = Field(3, ge=1, le=22)


class ExecutorSpec(_Strict):
    kind: Literal["local", "ray"] = "local"
    workers: int | None = Field(
        None,
        ge=1,
        description="local: processes (default: CPU count); ray: units in flight at once",
    )
    unit_mb: float = Field(
        32, gt=0, description="input bytes per work unit; fixes the shard layout, not the result"
    )
    # --- kind: ray only ---------------------------------------------------------------------
    # where the cluster is: "auto" (a cluster started with `ray start` on this machine, or
    # RAY_ADDRESS), "local" (a fresh single-machine instance), "ray://host:10001" (Ray Client)
    # or "host:6379"; unset: Ray's own choice (RAY_ADDRESS, else a running cluster, else local)
    address: str | None = None
    # CPUs of the instance corpuskit starts itself (address "local" or unset); default: all
    num_cpus: int | None = Field(None, ge=1)
    # CPUs reserved by each unit task (also the Polars threads of a task)
    cpus_per_task: float = Field(1, gt=0)
    # how often Ray retries a failed unit or fit task (worker crash or exception)
    max_retries: int = Field(3, ge=0)
    # how per-document stages run: "tasks", one Ray task per unit calling process_unit;
    # "data", a Ray Data pipeline per stage (read units -> map_batches the steps -> write
    # shards, fused into one task per unit). Same output either way.
    stages: Literal["tasks", "data"] = "tasks"
    # passed to ray.init, e.g. {"pip": ["corpuskit"]} or {"py_modules": [...]} on a cluster
    # whose nodes lack corpuskit or a plugin
    runtime_env: dict[str, Any] | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, v: Any) -> Any:
        if v not in ("local", "ray"):
            raise ValueError(f"unknown executor kind {v!r}; available: local, ray")
        if v == "ray" and importlib.util.find_spec("ray") is None:
            raise ValueError(RAY_MISSING)
        return v

    @model_validator(mode="after")
    def _ray_keys_need_ray(self) -> ExecutorSpec:
        if self.kind != "ray":
            ray_only = ("address", "num_cpus", "runtime_env")
            given = [k for k in ray_only if getattr(self, k) is not None]
            if given:
                raise ValueError(f"{', '.join(given)}: only for kind: ray")
        return self


RAY_MISSING = (
    "the ray executor needs Ray, which is not installed; install it with "
    "pip install 'corpuskit[ray]'"
)


@dataclass(frozen=True)
class StepEntry:
    index: int
    name: str
    step: Step


class Recipe(_Strict):
    input: list[InputSpec]
    output: OutputSpec
    executor: ExecutorSpec = ExecutorSpec()
    steps: list[dict[str, Any]] = []

    @field_validator("input", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict) else v

    def build_steps(self) -> list[StepEntry]:
        """Instantiate every step, validating its config; errors name index, step and key."""
        entries = []
        available = registry.steps()
        for i, item in enumerate(self.steps):
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

    def resolve_inputs(self, base: Path | None = None) -> list[tuple[InputSpec, list[Path]]]:
        """Expand every input's globs; each input must match at least one file."""
        resolved = []
        for i, spec in enumerate(self.input):
            files: list[Path] = []
            for pattern in spec.patterns:
                full = os.path.expanduser(pattern)
                if base is not None and not os.path.isabs(full):
                    full = str(base / full)
                matches = sorted(glob.glob(full, recursive=True))
                if not matches:
                    raise RecipeError(f"input[{i}].path: no file matches {pattern!r}")
                for m in matches:
                    p = Path(m)
                    if p.is_dir():
                        files.extend(sorted(f for f in p.rglob("*") if f.is_file()))
                    else:
                        files.append(p)
            if not files:
                raise RecipeError(f"input[{i}].path: {spec.path!r} holds no file")
            fmt = spec.format
            if fmt is None:
                fmt = registry.infer_format(files[0].name)
                if fmt is None:
                    raise RecipeError(
                        f"input[{i}].format: cannot infer the format of {files[0].name!r}; "
                        f"set format to one of {', '.join(sorted(registry.readers()))}"
                    )
                spec = spec.model_copy(update={"format": fmt})
            elif fmt not in registry.readers():
                raise RecipeError(
                    f"input[{i}].format: unknown format {fmt!r}; "
                    f"available: {', '.join(sorted(registry.readers()))}"
                )
            # Deduplicate while keeping order: two globs may match the same file.
            seen: set[Path] = set()
            unique = [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]
            resolved.append((spec, unique))
        return resolved


def _describe(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(config)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """Read and validate a recipe file, applying command-line overrides."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(f"{path}: recipe file not found") from None
    except yaml.YAMLError as e:
        raise RecipeError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a mapping with input, output and steps")
    return recipe_from_dict(raw, overrides, origin=str(path))


def recipe_from_dict(
    raw: dict[str, Any], overrides: dict[str, Any] | None = None, origin: str = "recipe"
) -> Recipe:
    raw = dict(raw)
    overrides = overrides or {}
    if overrides.get("input"):
        base = raw.get("input") or {}
        first = dict(base[0] if isinstance(base, list) and base else base or {})
        first["path"] = list(overrides["input"])
        # The recipe's format stays unless the new files' extension says otherwise.
        if registry.infer_format(Path(overrides["input"][0]).name) is not None:
            first.pop("format", None)
        raw["input"] = first
    if overrides.get("output"):
        raw["output"] = {**(raw.get("output") or {}), "path": overrides["output"]}
    if overrides.get("workers"):
        raw["executor"] = {**(raw.get("executor") or {}), "workers": overrides["workers"]}
    if overrides.get("executor"):
        raw["executor"] = _executor_override(raw.get("executor") or {}, overrides["executor"])
    if overrides.get("ray_address"):
        raw["executor"] = {**(raw.get("executor") or {}), "address": overrides["ray_address"]}
    for key in ("input", "output"):
        if key not in raw:
            raise RecipeError(f"{origin}: missing required key {key!r}")
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as e:
        raise RecipeError(f"{origin}: {_describe(e)}") from None
    recipe.build_steps()
    return recipe


def _executor_override(spec: dict[str, Any], kind: str) -> dict[str, Any]:
    """`--executor KIND`: switch executors; keys the new kind does not know are dropped."""
    spec = {**spec, "kind": kind}
    if kind == "local":
        for key in ("address", "num_cpus", "cpus_per_task", "max_retries", "runtime_env"):
            spec.pop(key, None)
    return spec
