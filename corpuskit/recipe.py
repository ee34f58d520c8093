"""Recipes: the YAML contract users write, as data (pydantic), validated before any data is read.

A recipe names its steps and their configs; the engine builds the steps from them
(`corpuskit.engine.stages.build_steps`), which checks each config against its step.
"""

from __future__ import annotations

import glob
import importlib.util
import os
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
from corpuskit.readers.base import InputSpec, infer_format


class RecipeError(ValueError):
    """A recipe that cannot run; the message names the file, step and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    # per-document stages run as Ray tasks, one per unit ("data", Ray Data pipelines, is
    # retired: see _retired_stages)
    stages: Literal["tasks"] = "tasks"
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

    @field_validator("stages", mode="before")
    @classmethod
    def _retired_stages(cls, v: Any) -> Any:
        if v == "data":
            raise ValueError(
                "`data` (Ray Data pipelines) was retired; remove `stages`: per-document stages "
                "run as Ray tasks, one per work unit, and steps are set up once per worker "
                "process, which was the one gain of `data`"
            )
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


class Recipe(_Strict):
    input: list[InputSpec]
    output: OutputSpec
    executor: ExecutorSpec = ExecutorSpec()
    steps: list[dict[str, Any]] = []

    @field_validator("input", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict) else v

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
                fmt = infer_format(files[0].name)
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
        if infer_format(Path(overrides["input"][0]).name) is not None:
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
    return recipe


def _executor_override(spec: dict[str, Any], kind: str) -> dict[str, Any]:
    """`--executor KIND`: switch executors; keys the new kind does not know are dropped."""
    spec = {**spec, "kind": kind}
    if kind == "local":
        for key in ("address", "num_cpus", "cpus_per_task", "max_retries", "runtime_env"):
            spec.pop(key, None)
    return spec
