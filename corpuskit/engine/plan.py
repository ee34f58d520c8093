"""A run's plan: resolved inputs, work units and stages, fixed before any step runs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from corpuskit import __version__, registry
from corpuskit.engine.stages import Stage, StepEntry, build_steps, schema_after, split_stages
from corpuskit.readers.base import InputFile, InputSpec, Unit
from corpuskit.recipe import Recipe


@dataclass
class RunPlan:
    recipe: Recipe
    entries: list[StepEntry]
    stages: list[Stage]
    specs: list[InputSpec]  # by input index, with the format resolved
    inputs: list[tuple[InputSpec, InputFile]]
    units: list[tuple[str, Unit]]  # (format, unit) in input order
    limit: int | None

    @property
    def output_schema(self) -> dict[str, pl.DataType]:
        return schema_after(self.entries)

    def fingerprint(self) -> str:
        """Changes whenever the result could change: recipe, inputs, limit, version.

        Inputs are identified by path, size and modification time (as make and rsync
        do), so a resume check costs no pass over the data; the manifest records the
        full SHA-256 of each file.
        """
        payload = {
            # the executor does not change the output (the tests check Ray against local),
            # only how inputs are cut into units does
            "recipe": self.recipe.model_dump(mode="json", exclude={"executor"}),
            "unit_mb": self.recipe.executor.unit_mb,
            "inputs": [(f.path, f.size, f.mtime_ns) for _, f in self.inputs],
            "limit": self.limit,
            "version": __version__,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

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
    return RunPlan(recipe, entries, split_stages(entries), specs, inputs, units, limit)


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
