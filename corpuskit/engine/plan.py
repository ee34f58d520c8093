"""A run's plan: resolved inputs, work units and stages, fixed before any step runs."""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from corpuskit import __version__, registry
from corpuskit.engine.stages import Stage, StepEntry, build_steps, final_schema, split_stages
from corpuskit.output.columns import meta_struct_type
from corpuskit.readers.base import InputFile, InputSpec, ReadBatch, Unit
from corpuskit.readers.sources import content_hash
from corpuskit.recipe import Recipe, RecipeError


@dataclass
class RunPlan:
    recipe: Recipe
    entries: list[StepEntry]
    stages: list[Stage]
    specs: list[InputSpec]  # by input index, with the format resolved
    inputs: list[tuple[InputSpec, InputFile]]
    units: list[tuple[str, Unit]]  # (format, unit) in input order
    limit: int | None
    meta_type: pl.DataType | None = None  # output.meta: struct
    _content: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def output_schema(self) -> dict[str, pl.DataType]:
        schema = final_schema(self.entries, self.recipe.output.columns, self.recipe.analyze)
        if self.meta_type is not None:
            schema["meta"] = self.meta_type
        return schema

    def fingerprint(self) -> str:
        """Changes whenever the result could change: recipe, inputs, limit, version.

        Inputs are identified by path, size, modification time and a content hash
        (`content_hash`, xxh3: one fast read), and so is every file a step's config
        names (a blocklist, a pattern file, a model, a reference corpus): a file edited
        in place after a crash is a different run, never resumed into mixed output.
        The manifest records the full SHA-256 of each input.
        """
        if not self._content:
            self._content.update(
                inputs={f.path: content_hash(Path(f.path)) for _, f in self.inputs},
                step_files=step_files(self.entries),
            )
        payload = {
            # the executor does not change the output (the tests check Ray against local),
            # only how inputs are cut into units does
            "recipe": self.recipe.model_dump(mode="json", exclude={"executor"}),
            "unit_mb": self.recipe.executor.unit_mb,
            "inputs": [
                (f.path, f.size, f.mtime_ns, self._content["inputs"][f.path])
                for _, f in self.inputs
            ],
            "step_files": self._content["step_files"],
            "limit": self.limit,
            "version": __version__,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def input_paths(self) -> list[str]:
        return [f.path for _, f in self.inputs]

    def describe_inputs(self, checksums: dict[str, str]) -> list[dict[str, Any]]:
        return [
            {
                "path": f.path,
                "source": f.source,
                "format": s.format,
                "size": f.size,
                "sha256": checksums.get(f.path),
                "encoding": f.encoding,
            }
            for s, f in self.inputs
        ]


def plan_run(recipe: Recipe, limit: int | None = None, base: Path | None = None) -> RunPlan:
    """Resolve globs and cut inputs into units; the units depend on the data only."""
    entries = build_steps(recipe)
    unit_bytes = int(recipe.executor.unit_mb * (1 << 20))
    inputs: list[tuple[InputSpec, InputFile]] = []
    units: list[tuple[str, Unit]] = []
    specs: list[InputSpec] = []
    for index, (spec, files) in enumerate(recipe.resolve_inputs(base)):
        specs.append(spec)
        reader = registry.get_reader(spec.format)(spec, index)
        infos, planned = reader.plan(files, unit_bytes)
        inputs.extend((spec, info) for info in infos)
        units.extend((spec.format, u) for u in planned)
    if limit is not None:
        units = _apply_limit(units, limit)
    plan = RunPlan(recipe, entries, split_stages(entries), specs, inputs, units, limit)
    if recipe.output.meta == "struct":
        plan.meta_type = infer_meta_type(plan)
    plan.output_schema  # noqa: B018 (output.columns names columns that exist: checked now)
    return plan


#: Config keys that name where a step writes (a cache), not what it reads.
_WRITTEN = ("cache_dir", "cache", "output", "workdir")


def step_files(entries: list[StepEntry]) -> dict[str, str]:
    """Content hashes of every file a step's config names (path, folder or glob), by path."""
    found: dict[str, str] = {}

    def visit(value: Any, key: str = "") -> None:
        if key in _WRITTEN:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                visit(v, str(k))
        elif isinstance(value, list | tuple):
            for v in value:
                visit(v, key)
        elif isinstance(value, str) and value and "\n" not in value and len(value) < 4096:
            for path in _files_named(value):
                if path not in found:
                    found[path] = content_hash(Path(path))

    for e in entries:
        visit(e.step.config.model_dump(mode="json"))
    return dict(sorted(found.items()))


def _files_named(value: str) -> list[str]:
    try:
        full = os.path.expanduser(value)
        if os.path.isfile(full):
            return [full]
        # a folder or glob only when it looks like a path ("." or a column name never does)
        if "/" not in value.strip("./"):
            return []
        if os.path.isdir(full):
            return sorted(str(p) for p in Path(full).rglob("*") if p.is_file())
        if glob.has_magic(full):
            return sorted(p for p in glob.glob(full, recursive=True) if os.path.isfile(p))
    except (OSError, ValueError):
        pass
    return []


def _apply_limit(units: list[tuple[str, Unit]], limit: int) -> list[tuple[str, Unit]]:
    """Keep the first `limit` records in input order; record counts are upper bounds."""
    out = []
    remaining = limit
    for fmt, unit in units:
        if remaining <= 0:
            break
        if unit.records is not None and unit.records <= remaining:
            out.append((fmt, unit))
            remaining -= unit.records
        else:
            out.append((fmt, replace(unit, max_records=remaining)))
            remaining = 0
    return out


def first_documents(plan: RunPlan, records: int) -> Iterator[tuple[int, str, ReadBatch]]:
    """(input index, source, first read batch) of the first `records` records of each input."""
    seen: set[int] = set()
    for fmt, unit in plan.units:
        index = unit.input_index
        if index in seen:
            continue
        seen.add(index)
        reader = registry.get_reader(fmt)(plan.specs[index], index)
        for batch in reader.read(replace(unit, max_records=records)):
            yield index, unit.source, batch


def infer_meta_type(plan: RunPlan, records: int = 200) -> pl.DataType:
    """`output.meta: struct`: the struct type the first records' meta share, or a RecipeError."""
    metas = [m for _, _, b in first_documents(plan, records) for m in b.documents["meta"].to_list()]
    dtype = meta_struct_type([m for m in metas if m is not None])
    if dtype is None:
        raise RecipeError(
            "output.meta: struct, but the first records of the inputs do not share one set "
            "of fields and types (or have none); use output.meta: json"
        )
    return dtype
