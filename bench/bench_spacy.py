"""spacy_label's throughput: batching and a process pool against a naive nlp(text) loop.

    .venv/bin/python bench/bench_spacy.py                  # ag_news 4,000 + cnews 1,000
    .venv/bin/python bench/bench_spacy.py --limit 300      # a quick look
    .venv/bin/python bench/bench_spacy.py --model en=models/ag --model zh=models/cnews

Every variant runs the same pipeline (by default the step's own: blank spaCy language,
sentencizer, EntityRuler with the shipped patterns; `--model LANG=DIR` puts a trained
`label train` folder underneath, so its textcat runs too) over the same texts:

- naive: `[nlp(t) for t in texts]`, one call per document;
- nlp.pipe: `nlp.pipe(texts, batch_size=B)` in one process;
- step n=1: the spacy_label step (`process` over engine-sized batches), i.e. nlp.pipe plus
  turning the docs into the `labels` column;
- step n=2: the same with `n_process: 2`, the step's own pool of two processes that load
  the pipelines once; pool start-up is timed apart (a warm-up batch), as it happens once
  per worker process, not per batch;
- spaCy n=2: spaCy's `nlp.pipe(texts, n_process=2)`, which starts its processes and copies
  the pipeline on every call (one call here over all texts, start-up included).

docs/s is wall-clock; docs/CPU-s divides by the CPU time of the process and all its
children (the per-core rate, which does not depend on how many cores were free). On
free cores, the n_process=2 wall-clock speed-up is about 2 x its "CPU vs step n=1" ratio.
POLARS_MAX_THREADS=1. Each measurement is repeated (--repeat) and the fastest run counts;
the machine may be shared, so read the ratios, not the absolute rates.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import polars as pl
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_CORPORA, table

from corpuskit.labelling.pipelines import build_pipeline
from corpuskit.steps.spacy_label import SpacyLabel, SpacyLabelConfig


def load_corpora(root: Path, limit_en: int, limit_zh: int) -> dict[str, tuple[str, list[str]]]:
    """name -> (lang, texts): ag_news title + description, cnews article bodies."""
    with open(root / "ag_news" / "test.csv", newline="", encoding="utf-8") as f:
        en = [f"{row[1]}\n{row[2]}" for row in csv.reader(f)][:limit_en]
    lines = (root / "cnews_subset" / "cnews.val.txt").read_text(encoding="utf-8").splitlines()
    zh = [line.split("\t", 1)[1] for line in lines if "\t" in line][:limit_zh]
    return {"ag_news": ("en", en), "cnews": ("zh", zh)}


def cpu_seconds() -> float:
    """CPU time (user + system) of this process, its live children, and reaped ones."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(child.cpu_times()[:2])
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total + reaped.ru_utime + reaped.ru_stime


def best_of(repeat: int, fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the fastest of `repeat` runs."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        c0, t0 = cpu_seconds(), time.perf_counter()
        fn()
        run = (time.perf_counter() - t0, cpu_seconds() - c0)
        best = min(best, run)
    return best


def step_run(step: SpacyLabel, frame: pl.DataFrame, batch: int) -> pl.DataFrame:
    parts = [step.process(frame.slice(i, batch)).batch for i in range(0, frame.height, batch)]
    return pl.concat(parts)


def bench_corpus(
    name: str,
    lang: str,
    texts: list[str],
    pipeline: str,
    args: argparse.Namespace,
    rows: list[dict],
    notes: list[str],
) -> None:
    """Every variant over one corpus; appends table rows and notes."""
    n = len(texts)
    t0 = time.perf_counter()
    nlp = build_pipeline(lang, pipeline)
    notes.append(
        f"{name}: pipeline {pipeline} {nlp.pipe_names} built in {time.perf_counter() - t0:.2f}s"
    )
    runs: dict[str, tuple[float, float]] = {}
    runs["naive nlp(text)"] = best_of(args.repeat, lambda: [nlp(t) for t in texts])
    runs["nlp.pipe"] = best_of(
        args.repeat, lambda: list(nlp.pipe(texts, batch_size=args.batch_size))
    )
    frame = pl.DataFrame({"id": [str(i) for i in range(n)], "text": texts, "lang": [lang] * n})
    config = {"pipelines": {lang: pipeline}, "fallback": lang, "batch_size": args.batch_size}
    step = SpacyLabel(SpacyLabelConfig(**config), name="spacy_label")
    step.ensure_ready()
    first = step_run(step, frame, args.step_batch)
    runs["step n_process=1"] = best_of(args.repeat, lambda: step_run(step, frame, args.step_batch))
    if not args.no_pool:
        pooled = SpacyLabel(SpacyLabelConfig(**config, n_process=2), name="spacy_label")
        t0 = time.perf_counter()
        pooled.ensure_ready()  # returns once both processes have loaded the pipelines
        notes.append(f"{name}: pool of 2 processes ready in {time.perf_counter() - t0:.2f}s")
        outs: list[pl.DataFrame] = []
        runs["step n_process=2"] = best_of(
            args.repeat, lambda: outs.append(step_run(pooled, frame, args.step_batch))
        )
        if not outs[-1]["labels"].equals(first["labels"]):
            sys.exit(f"{name}: the pool gave different labels")
        pooled._pool.shutdown()
        spacy_pool = lambda: list(nlp.pipe(texts, batch_size=args.batch_size, n_process=2))  # noqa: E731
        runs["spaCy nlp.pipe n_process=2"] = best_of(1, spacy_pool)
    naive_wall, _ = runs["naive nlp(text)"]
    one_wall, one_cpu = runs["step n_process=1"]
    for variant, (wall, cpu) in runs.items():
        rows.append(
            {
                "corpus": name,
                "docs": f"{n:,}",
                "variant": variant,
                "docs/s": f"{n / wall:,.0f}",
                "docs/CPU-s": f"{n / cpu:,.0f}",
                "wall vs naive": f"{naive_wall / wall:.2f}x",
                "wall vs step n=1": f"{one_wall / wall:.2f}x",
                "CPU vs step n=1": f"{one_cpu / cpu:.2f}x",
            }
        )
    ents = first["labels"].struct.field("entities").list.len().sum()
    notes.append(f"{name}: {ents:,} entities in {n:,} documents")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--limit", type=int, help="first N docs of each corpus")
    ap.add_argument("--en-docs", type=int, default=4000)
    ap.add_argument("--zh-docs", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=256, help="nlp.pipe batch size")
    ap.add_argument("--step-batch", type=int, default=1000, help="rows per step.process call")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--model", action="append", default=[], help="LANG=DIR trained pipeline")
    ap.add_argument("--no-pool", action="store_true", help="skip the two-process variants")
    args = ap.parse_args()
    if not args.corpora.exists():
        sys.exit(f"{args.corpora} is absent: the benchmark reads the shared corpora")
    pipelines = {"en": "blank", "zh": "blank"}
    for item in args.model:
        lang, _, path = item.partition("=")
        pipelines[lang] = path
    corpora = load_corpora(args.corpora, args.limit or args.en_docs, args.limit or args.zh_docs)

    rows, notes = [], []
    for name, (lang, texts) in corpora.items():
        bench_corpus(name, lang, texts, pipelines[lang], args, rows, notes)
    print(
        f"spacy_label throughput, batch_size={args.batch_size}, step batches of "
        f"{args.step_batch}, best of {args.repeat}, {os.cpu_count()} CPUs, "
        f"POLARS_MAX_THREADS={os.environ['POLARS_MAX_THREADS']}"
    )
    print(table(rows))
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
