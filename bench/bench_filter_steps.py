"""Each step of bench_filters' chain alone, on the batches it gets in the chain, or in the
chain itself over several passes (`--chain`).

bench_filters times the chain as it runs, where one step's regexes and memo entries evict
another's. By default this runs the chain once to collect every step's input batches, then
times each step `--repeats` times over its own batches (CPU clock) and prints the best, the
median and the cost per document. With `--chain` it runs the whole chain `--repeats` times
in one process instead, the segmenter's chunk memo cleared before each pass (so every pass
meets the texts as new, as the first does), and prints each step's time in the chain (best
and median) and the chain's: what the steps cost together, which this box's minute-to-minute
drift hides in a single bench_filters run. Run it from a checkout, or from an extracted old
tree with PYTHONPATH set to that tree, to compare commits:

    POLARS_MAX_THREADS=1 .venv/bin/python bench/bench_filter_steps.py [--chain]
    (cd /tmp/old && PYTHONPATH=/tmp/old POLARS_MAX_THREADS=1 "$OLDPWD/.venv/bin/python" \\
        "$OLDPWD/bench/bench_filter_steps.py" [--chain])
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_filters as bf
import polars as pl

from corpuskit.text import segment


def chain_pass(steps: list, docs: pl.DataFrame, batch: int) -> dict[str, list]:
    """One pass of the chain over `docs` in batches: step name -> [CPU s, input batches]."""
    per_step: dict[str, list] = {}
    for i in range(0, docs.height, batch):
        bf.our_batch(steps, docs.slice(i, batch), False, per_step, time.process_time)
    return per_step


def report(name: str, runs: list[float], n: int | None = None) -> float:
    runs = sorted(runs)
    per_doc = f"  docs {n:,}  us/doc {1e6 * runs[0] / max(n, 1):.0f}" if n is not None else ""
    print(f"{name:26s} best {runs[0]:.3f}  median {runs[len(runs) // 2]:.3f}{per_doc}")
    return runs[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--chain", action="store_true", help="time the steps in the chain")
    args = ap.parse_args()
    texts = bf.english_docs(bf.DEFAULT_CORPORA, args.docs)
    docs = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    steps = bf.our_steps()
    bf.our_batch(steps, docs.head(20), cold=False)
    how = "in the chain, memo cleared per pass" if args.chain else "alone"
    print(f"{docs.height:,} documents, batches of {args.batch}, {args.repeats} runs {how}, CPU s")
    if args.chain:
        passes = []
        for _ in range(args.repeats):
            seg = segment.segmenter()
            seg._chunks.clear()
            if hasattr(seg, "_last"):  # trees before a208534 kept the last token table
                seg._last = None
            passes.append(chain_pass(steps, docs, args.batch))
        for s in steps:
            report(s.name, [p[s.name][0] for p in passes])
        report("chain", [sum(v[0] for v in p.values()) for p in passes])
        return
    inputs = {name: parts for name, (_, parts) in chain_pass(steps, docs, args.batch).items()}
    total = 0.0
    for s in steps:
        runs = []
        for _ in range(args.repeats):
            t0 = time.process_time()
            for part in inputs[s.name]:
                s.process(part)
            runs.append(time.process_time() - t0)
        total += report(s.name, runs, sum(p.height for p in inputs[s.name]))
    print(f"{'all steps':26s} best {total:.3f}")


if __name__ == "__main__":
    main()
