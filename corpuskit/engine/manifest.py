"""The manifest the engine writes: what was read, kept and rejected, by which step, from which
inputs (`output.layout.read_manifest` reads it back)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from corpuskit import __version__
from corpuskit.engine.ledger import Ledger
from corpuskit.engine.plan import RunPlan
from corpuskit.engine.stages import step_key
from corpuskit.readers.base import READ_STEP
from corpuskit.schema import REJECTED_SCHEMA


class LedgerMismatch(RuntimeError):
    """read != kept + rejected: a bug, never a result to publish."""


def build_manifest(
    plan: RunPlan,
    results: list[dict[str, Any]],
    checksums: dict[str, str],
    seconds: float,
    recipe_path: str | None,
) -> dict[str, Any]:
    ledger = Ledger()
    ledger.get(READ_STEP)
    for e in plan.entries:
        ledger.get(step_key(e))
    for r in results:
        ledger.merge(r["ledger"])
    first_stage = [r for r in results if r["stage"] == 0]
    final_stage = max((r["stage"] for r in results), default=0)
    read = sum(r["read"] for r in first_stage)
    kept = sum(r["kept"] for r in results if r["stage"] == final_stage)
    rejected = sum(r["rejected"] for r in results)
    if read != kept + rejected:
        raise LedgerMismatch(f"read {read} != kept {kept} + rejected {rejected}")
    reasons: Counter = Counter()
    for row in ledger.steps.values():
        reasons.update(row.reasons)
    shards = [
        {"file": f"data/{s['file']}", "rows": s["rows"], "bytes": s["bytes"]}
        for r in results
        if r["stage"] == final_stage
        for s in r["shards"]
    ]
    rejected_shards = [
        {"file": f"rejected/{s['file']}", "rows": s["rows"], "bytes": s["bytes"]}
        for r in results
        for s in r["rejected_shards"]
    ]
    return {
        "corpuskit_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "fingerprint": plan.fingerprint(),
        "recipe_path": recipe_path,
        "recipe": plan.recipe.model_dump(mode="json"),
        "limit": plan.limit,
        "totals": {"read": read, "kept": kept, "rejected": rejected},
        "seconds": round(seconds, 3),
        "ledger": ledger.to_list(),
        "rejected_by_reason": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "inputs": plan.describe_inputs(checksums),
        "units": len(plan.units),
        "stages": [[e.name for e in s.entries] for s in plan.stages],
        "schema": _schema(plan.output_schema),
        "rejected_schema": _schema(REJECTED_SCHEMA),
        "shards": shards,
        "rejected_shards": rejected_shards,
    }


def _schema(schema: dict[str, pl.DataType]) -> dict[str, str]:
    return {k: str(v) for k, v in schema.items()}


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    tmp = path.with_name(".manifest.json.tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)
