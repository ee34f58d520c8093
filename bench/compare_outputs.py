#!/usr/bin/env python3
"""Compare two run outputs: kept and rejected shards file by file, row by row, and manifests.

    python bench/compare_outputs.py BEFORE AFTER [--ignore recipe.executor]

BEFORE and AFTER are output folders (holding manifest.json) or folders of them (compared
by subfolder name). Shards must have the same names; each pair is compared by its bytes
and, where the bytes differ, row by row (the first differing row is printed). Manifests
are compared with their timing fields left out (`created`, `seconds`, each ledger row's
`seconds`) and any key named by --ignore (a dotted path, e.g. `recipe.executor` to compare
a Ray run with a local one). Exits 1 on any difference: the check that a refactor kept
the behaviour.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import polars as pl

TIMING = ("created", "seconds")


def without_timing(manifest: dict[str, Any], ignore: list[str]) -> dict[str, Any]:
    out = {k: v for k, v in manifest.items() if k not in TIMING}
    out["ledger"] = [{k: v for k, v in row.items() if k != "seconds"} for row in out["ledger"]]
    for path in ignore:
        *parents, last = path.split(".")
        node = out
        for key in parents:
            node = node.get(key, {})
        node.pop(last, None)
    return out


def diff_json(a: Any, b: Any, where: str = "") -> list[str]:
    """Paths where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(set(a) | set(b))
            for d in diff_json(a.get(k), b.get(k), f"{where}.{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in diff_json(x, y, f"{where}[{i}]")
        ]
    return [] if a == b else [f"{where or '.'}: {json.dumps(a)[:200]} != {json.dumps(b)[:200]}"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compare_shards(before: Path, after: Path, folder: str) -> tuple[list[str], dict[str, int]]:
    problems: list[str] = []
    stats = {"files": 0, "same_bytes": 0, "rows": 0}
    names_a = sorted(p.name for p in (before / folder).glob("*.parquet"))
    names_b = sorted(p.name for p in (after / folder).glob("*.parquet"))
    if names_a != names_b:
        problems.append(f"{folder}/: files differ: {sorted(set(names_a) ^ set(names_b))[:10]}")
    for name in sorted(set(names_a) & set(names_b)):
        a, b = before / folder / name, after / folder / name
        stats["files"] += 1
        fa, fb = pl.read_parquet(a), pl.read_parquet(b)
        stats["rows"] += fa.height
        if sha256(a) == sha256(b):
            stats["same_bytes"] += 1
            continue
        if fa.schema != fb.schema:
            problems.append(f"{folder}/{name}: schema {fa.schema} != {fb.schema}")
        elif fa.height != fb.height:
            problems.append(f"{folder}/{name}: {fa.height} rows != {fb.height}")
        elif not fa.equals(fb):
            same = fa.with_row_index("_row").join(fb, on=fa.columns, how="anti", nulls_equal=True)
            first = same["_row"][0] if same.height else "?"
            problems.append(f"{folder}/{name}: rows differ (first at row {first})")
        else:
            problems.append(f"{folder}/{name}: same rows, different bytes")
    return problems, stats


def compare(before: Path, after: Path, ignore: list[str]) -> list[str]:
    problems = []
    for folder in ("data", "rejected"):
        found, stats = compare_shards(before, after, folder)
        problems += found
        print(
            f"  {folder}/: {stats['files']} files, {stats['rows']:,} rows, "
            f"{stats['same_bytes']} byte-identical"
        )
    ma = json.loads((before / "manifest.json").read_text(encoding="utf-8"))
    mb = json.loads((after / "manifest.json").read_text(encoding="utf-8"))
    manifest = diff_json(without_timing(ma, ignore), without_timing(mb, ignore))
    left_out = ", ".join(["timing fields", *ignore])
    print(f"  manifest.json: {'equal' if not manifest else 'DIFFERENT'} ({left_out} left out)")
    return problems + [f"manifest{d}" for d in manifest]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--ignore", action="append", default=[], help="a manifest key (dotted path)")
    args = ap.parse_args()
    if (args.before / "manifest.json").exists():
        pairs = [(args.before.name, args.before, args.after)]
    else:
        names = sorted(p.parent.name for p in args.before.glob("*/manifest.json"))
        pairs = [(n, args.before / n, args.after / n) for n in names]
    if not pairs:
        ap.error(f"{args.before}: no manifest.json in it or its subfolders")
    failed = False
    for name, before, after in pairs:
        print(f"{name}:")
        if not (after / "manifest.json").exists():
            print(f"  MISSING: {after / 'manifest.json'}")
            failed = True
            continue
        problems = compare(before, after, args.ignore)
        for p in problems:
            print(f"  DIFFERENT {p}")
        print(f"  {'IDENTICAL' if not problems else 'DIFFERENT'}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
