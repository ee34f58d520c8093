"""Identity recipe (read JSONL, write Parquet) against Polars' scan_ndjson().sink_parquet().

    python bench/bench_identity.py --docs 1000000

Generates the corpus with bench/generate_corpus.py if it is not there yet, runs both
sides in the same session on the same file, checks they wrote the same number of rows,
and prints throughput, the ratio corpuskit/polars and each side's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import polars as pl
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_CORPORA, generated_corpus, measure, python, table

POLARS_SIDE = """
import sys, polars as pl
pl.scan_ndjson(sys.argv[1]).sink_parquet(sys.argv[2], compression="zstd", compression_level=3)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=None, help="JSONL to use (default: generated)")
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--json", type=Path, help="write the results here too")
    args = ap.parse_args()

    data = generated_corpus(args.docs, args.corpora, args.data)
    size_mb = data.stat().st_size / 2**20
    work = Path(tempfile.mkdtemp(prefix="bench-identity-"))
    try:
        recipe = work / "identity.yaml"
        recipe.write_text(
            yaml.safe_dump(
                {
                    "input": {"path": str(data), "format": "jsonl"},
                    "output": {"path": str(work / "ck")},
                    "executor": {"workers": args.workers},
                    "steps": [],
                }
            )
        )
        polars_out = work / "polars.parquet"
        runs = [
            measure(
                "polars scan_ndjson.sink_parquet",
                [python(), "-c", POLARS_SIDE, str(data), str(polars_out)],
            ),
            measure(
                "corpuskit run (identity)",
                [python(), "-m", "corpuskit.cli", "run", str(recipe), "--quiet"],
            ),
        ]
        for r in runs:
            if r.returncode != 0:
                sys.exit(f"{r.name} failed:\n{r.output}")
        polars_rows = pl.scan_parquet(polars_out).select(pl.len()).collect().item()
        manifest = json.loads((work / "ck" / "manifest.json").read_text())
        ck_rows = manifest["totals"]["kept"]
        if ck_rows != polars_rows:
            sys.exit(f"row counts differ: corpuskit {ck_rows}, polars {polars_rows}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = [
        {
            "side": r.name,
            "seconds": f"{r.seconds:.2f}",
            "docs/s": f"{polars_rows / r.seconds:,.0f}",
            "MB/s": f"{size_mb / r.seconds:.1f}",
            "peak RSS MB": f"{r.peak_rss_mb:,.0f}",
        }
        for r in runs
    ]
    ratio = runs[0].seconds / runs[1].seconds
    print(
        f"input: {data} ({polars_rows:,} docs, {size_mb:,.0f} MB); "
        f"{os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, "
        f"polars {pl.__version__}, corpuskit workers={args.workers}"
    )
    print(table(rows))
    print(f"throughput ratio corpuskit/polars: {ratio:.2f}  (target >= 0.5)")
    print(f"corpuskit peak RSS: {runs[1].peak_rss_mb:,.0f} MB  (target < 1536 MB)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratio": ratio, "docs": polars_rows}))


if __name__ == "__main__":
    main()
