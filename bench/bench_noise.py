"""Throughput of the noise steps (ad_filter, remove_boilerplate_lines, remove_frequent_lines).

    POLARS_MAX_THREADS=1 python bench/bench_noise.py --docs 20000

Reads the generated benchmark corpus (ag_news + cnews, see bench/README.md), then runs each
step batch-wise in this process (one Polars thread when POLARS_MAX_THREADS=1: per core) and
prints documents/s and MB/s per step, for English and Chinese documents apart. For
remove_frequent_lines the corpus-wide `fit` (spilled partitions) is timed separately from
`apply`. There is no datatrove peer for these steps; the figures are for the filter-set
benchmark of issue 4.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_CORPORA, generated_corpus, table

from corpuskit.steps.ad_filter import AdFilter
from corpuskit.steps.base import Corpus
from corpuskit.steps.remove_boilerplate_lines import RemoveBoilerplateLines
from corpuskit.steps.remove_frequent_lines import FrequentLinesConfig, RemoveFrequentLines


def batches(frame: pl.DataFrame, size: int) -> list[pl.DataFrame]:
    return [frame.slice(i, size) for i in range(0, frame.height, size)]


def timed(fn, parts: list[pl.DataFrame]) -> float:
    started = time.perf_counter()
    for part in parts:
        fn(part)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    args = ap.parse_args()
    if not args.corpora.exists():
        sys.exit(f"{args.corpora} is absent: the benchmark needs ../shared/corpora")
    path = generated_corpus(args.docs, args.corpora)
    frame = pl.read_ndjson(path).select(
        "id", "text", "lang", source=pl.lit("gen"), url=pl.lit(None, dtype=pl.String)
    )
    ads = AdFilter(name="ad_filter")
    boiler = RemoveBoilerplateLines(name="remove_boilerplate_lines")
    frequent = RemoveFrequentLines(FrequentLinesConfig(), name="remove_frequent_lines")
    for s in (ads, boiler, frequent):
        s.ensure_ready()
    rows = []
    for lang in ("en", "zh"):
        part = frame.filter(pl.col("lang") == lang)
        mb = part["text"].str.len_bytes().sum() / 1e6
        parts = batches(part, args.batch)
        with tempfile.TemporaryDirectory() as tmp:
            shards = []
            for i, p in enumerate(parts):
                shards.append(Path(tmp) / f"shard-{i}.parquet")
                p.write_parquet(shards[-1])
            started = time.perf_counter()
            state = frequent.fit(Corpus(shards, Path(tmp) / "work", 1))
            fit = time.perf_counter() - started
        results = {
            "ad_filter": timed(ads.process, parts),
            "remove_boilerplate_lines": timed(boiler.process, parts),
            "remove_frequent_lines fit": fit,
            "remove_frequent_lines apply": timed(lambda b, s=state: frequent.apply(b, s), parts),
        }
        for name, seconds in results.items():
            rows.append(
                {
                    "lang": lang,
                    "step": name,
                    "docs": part.height,
                    "MB": f"{mb:.1f}",
                    "seconds": f"{seconds:.2f}",
                    "docs/s": f"{part.height / seconds:,.0f}",
                    "MB/s": f"{mb / seconds:.1f}",
                }
            )
    print(table(rows))


if __name__ == "__main__":
    main()
