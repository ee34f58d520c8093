"""Garbled Chinese documents kept by recipes/zh-news.yaml, with and without `garbled`.

    python bench/bench_garbled.py            # cnews_subset + zh_extraction_html pages

Runs the recipe as `corpuskit run` does, once as written and once without its `garbled`
step, and counts the kept Chinese documents (CJK share >= 30%) whose text still holds
a garbled run by the gold bench's check (bench/quality/metrics.garbled: U+FFFD, 锟斤拷,
private use, shifted GBK, GBK shown as Latin-1), per input, with the rejections of the
step and its counters. Issue 16's target: at most 1% of kept Chinese documents.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "2")

import polars as pl
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, table
from quality.metrics import garbled

from corpuskit.engine.run import run_recipe
from corpuskit.recipe import load_recipe

RECIPE = ROOT / "recipes" / "zh-news.yaml"
CJK = r"[\p{Han}\p{Hiragana}\p{Katakana}]"


def run(recipe: dict, work: Path, name: str) -> tuple[pl.DataFrame, pl.DataFrame, dict, float]:
    out = work / f"out-{name}"
    recipe = {**recipe, "output": {"path": str(out)}, "executor": {"kind": "local", "workers": 1}}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False))
    t0 = time.perf_counter()
    run_recipe(load_recipe(path), overwrite=True, recipe_path=str(path))
    seconds = time.perf_counter() - t0
    kept = pl.read_parquet(out / "data").select("id", "source", "text")
    rejected = (
        pl.read_parquet(out / "rejected").select("id", "source", "reason")
        if any((out / "rejected").glob("*.parquet"))
        else pl.DataFrame(schema={"id": pl.String, "source": pl.String, "reason": pl.String})
    )
    manifest = json.loads((out / "manifest.json").read_text())
    return kept, rejected, manifest, seconds


def corpus_of(source: pl.Expr) -> pl.Expr:
    return (
        pl.when(source.str.contains("cnews"))
        .then(pl.lit("cnews_subset"))
        .otherwise(pl.lit("zh_extraction_html"))
    )


def shares(kept: pl.DataFrame, rejected: pl.DataFrame, name: str) -> list[dict[str, str]]:
    texts = kept.with_columns(
        corpus=corpus_of(pl.col("source")),
        zh=(
            pl.col("text").str.count_matches(CJK)
            / pl.col("text").str.count_matches(r"\S").clip(lower_bound=1)
        )
        >= 0.3,
    ).filter("zh")
    texts = texts.with_columns(
        bad=pl.Series([garbled(t) for t in texts["text"].to_list()], dtype=pl.Boolean)
    )
    rej = rejected.with_columns(corpus=corpus_of(pl.col("source")))
    rows = []
    for corpus in ("cnews_subset", "zh_extraction_html", "all"):
        part = texts if corpus == "all" else texts.filter(pl.col("corpus") == corpus)
        r = rej if corpus == "all" else rej.filter(pl.col("corpus") == corpus)
        n, bad = part.height, int(part["bad"].sum())
        rows.append(
            {
                "recipe": name,
                "corpus": corpus,
                "kept zh docs": str(n),
                "with garbled runs": f"{bad} ({100 * bad / max(n, 1):.1f}%)",
                "rejected as garbled": str(
                    r.filter(pl.col("reason").str.starts_with("garbled")).height
                ),
                "rejected (all)": str(r.height),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--recipe", type=Path, default=RECIPE)
    ap.add_argument("--work", type=Path, help="keep the runs here (default: a temporary folder)")
    args = ap.parse_args()
    recipe = yaml.safe_load(args.recipe.read_text())
    for spec in recipe["input"]:  # the recipe's paths are relative to the repository root
        spec["path"] = str((ROOT / spec["path"]).resolve())
    if not all(list(Path(s["path"]).parent.glob(Path(s["path"]).name)) for s in recipe["input"]):
        sys.exit("the shared corpora are missing (../shared/corpora)")
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="bench-garbled-")
    work = args.work or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    without = {**recipe, "steps": [s for s in recipe["steps"] if "garbled" not in s]}
    rows = []
    for name, r in (("without garbled", without), ("recipes/zh-news.yaml", recipe)):
        kept, rejected, manifest, seconds = run(r, work, name.split("/")[-1].replace(" ", "-"))
        rows += shares(kept, rejected, name)
        ledger = manifest.get("ledger", [])
        step = next((s for s in ledger if s["step"].endswith(":garbled")), None)
        counters = f"; garbled counters {step['counters']}" if step else ""
        print(f"{name}: {seconds:.1f} s{counters}")
    print(table(rows))
    print(f"load average {os.getloadavg()}")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
