"""A finished run as the report reads it: manifest, shards (scanned lazily), the recipe's steps."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from corpuskit.engine.stages import StepEntry, build_steps, step_key
from corpuskit.output.columns import WOULD_REJECT
from corpuskit.output.layout import read_manifest
from corpuskit.recipe import Recipe
from corpuskit.schema import DOCUMENT_SCHEMA, REJECTED_SCHEMA
from corpuskit.steps.decisions import Comparison, rule_comparisons

__all__ = ["KEPT", "LANG", "WOULD_REJECT", "Run", "StepInfo"]

KEPT = "kept"
#: The language column of the language step (the report splits by it).
LANG = "lang"


@dataclass
class StepInfo:
    """A step of the run: where it sits, what it is, which columns it adds, what decides."""

    key: str
    name: str
    kind: str
    columns: dict[str, pl.DataType]
    thresholds: dict[str, list[Comparison]] = field(default_factory=dict)


class Run:
    """One output folder. Frames are lazy: a 1M-document run is only ever aggregated."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.manifest: dict[str, Any] = read_manifest(self.root)
        self.problems: list[str] = []

    @property
    def totals(self) -> dict[str, int]:
        return self.manifest["totals"]

    @property
    def analyze(self) -> bool:
        return bool(self.manifest.get("analyze"))

    @cached_property
    def steps(self) -> list[StepInfo]:
        """The recipe's steps rebuilt (for their kinds, columns and rules); from the ledger
        alone, with a note, where a step no longer builds (a plugin gone)."""
        try:
            recipe = Recipe.model_validate(self.manifest["recipe"])
            entries: list[StepEntry] = build_steps(recipe)
        except Exception as e:
            self.problems.append(f"the recipe's steps could not be rebuilt ({e}); no thresholds")
            return [
                StepInfo(row["step"], row["step"].split(":", 1)[-1], "?", {})
                for row in self.manifest["ledger"][1:]
            ]
        out = []
        for e in entries:
            thresholds: dict[str, list[Comparison]] = {}
            if e.step.kind == "filter":
                try:
                    thresholds = rule_comparisons(e.step.rules())
                except Exception as exc:
                    self.problems.append(f"{e.name}: rules could not be read ({exc})")
            out.append(StepInfo(step_key(e), e.name, e.step.kind, dict(e.step.columns), thresholds))
        return out

    @cached_property
    def data_files(self) -> list[Path]:
        return [self.root / s["file"] for s in self.manifest["shards"]]

    @cached_property
    def rejected_files(self) -> list[Path]:
        return [self.root / s["file"] for s in self.manifest["rejected_shards"]]

    @cached_property
    def schema(self) -> dict[str, pl.DataType]:
        if self.data_files:
            return dict(pl.scan_parquet(self.data_files).collect_schema())
        out = dict(DOCUMENT_SCHEMA)
        for s in self.steps:
            out.update(s.columns)
        return out

    def kept(self, columns: list[str] | None = None) -> pl.LazyFrame:
        """Kept documents (columns absent from the shards come back null)."""
        cols = columns or list(self.schema)
        if not self.data_files:
            return pl.LazyFrame(schema={c: self.schema.get(c, pl.String()) for c in cols})
        frame = pl.scan_parquet(self.data_files)
        return frame.select(
            [pl.col(c) if c in self.schema else pl.lit(None).alias(c) for c in cols]
        )

    def rejected(self, columns: list[str]) -> pl.LazyFrame:
        if not self.rejected_files:
            return pl.LazyFrame(schema={c: REJECTED_SCHEMA[c] for c in columns})
        return pl.scan_parquet(self.rejected_files).select(columns)

    @cached_property
    def signal_columns(self) -> dict[str, pl.DataType]:
        """Numeric columns the steps add (the signals a histogram can show), by name."""
        out: dict[str, pl.DataType] = {}
        for s in self.steps:
            for name, dtype in s.columns.items():
                if dtype.is_numeric() and dtype != pl.Boolean:
                    out[name] = dtype
        return out

    def signal_owner(self, column: str) -> StepInfo | None:
        for s in self.steps:
            if column in s.columns:
                return s
        return None

    def fates(self) -> pl.LazyFrame:
        """One row per document read: id, source, url, fate ('kept' or the reason), step."""
        kept = self.kept(["id", "source", "url"]).with_columns(fate=pl.lit(KEPT), step=pl.lit(KEPT))
        rej = self.rejected(["id", "source", "url", "reason", "step"]).rename({"reason": "fate"})
        return pl.concat([kept, rej.select(kept.collect_schema().names())], how="vertical")

    @cached_property
    def rejected_signals(self) -> pl.DataFrame:
        """Every rejected row's step, reason, source and url, and its signals decoded from
        their JSON: the numeric ones as Float64, `lang` as a string. Decoded in one pass by
        Polars' NDJSON reader (several times faster than decoding row by row)."""
        schema: dict[str, pl.DataType] = {c: pl.Float64() for c in self.signal_columns}
        schema[LANG] = pl.String()
        frame = self.rejected(["step", "reason", "source", "url", "signals"]).collect()
        if frame.height == 0:
            return frame.drop("signals").with_columns(
                pl.lit(None, dtype).alias(c) for c, dtype in schema.items()
            )
        lines = frame.select(pl.col("signals").fill_null("{}").str.join("\n")).item()
        try:
            decoded = pl.read_ndjson(io.BytesIO(lines.encode()), schema=schema)
        except pl.exceptions.PolarsError:  # a value of another type: the slow, lenient path
            decoded = frame.select(
                pl.col("signals").str.json_decode(pl.Struct(schema)).alias("_s")
            ).unnest("_s")
        return pl.concat([frame.drop("signals"), decoded], how="horizontal")
