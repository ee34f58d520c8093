"""Each step of bench_filters' chain alone, on the batches it gets in the chain.

bench_filters times the chain as it runs, where one step's regexes and memo entries evict
another's; this runs the chain once to collect every step's input batches, then times each
step five times over its own batches (CPU clock) and prints the best, the median and the
cost per document. Run it from a checkout, or from an extracted old tree with PYTHONPATH
set to that tree, to compare per-document costs across commits:

    POLARS_MAX_THREADS=1 .venv/bin/python bench/bench_filter_steps.py
    (cd /tmp/old && PYTHONPATH=/tmp/old POLARS_MAX_THREADS=1 "$OLDPWD/.venv/bin/python" \\
        "$OLDPWD/bench/bench_filter_steps.py")
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

from corpuskit.schema import REASON_COLUMN


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    texts = bf.english_docs(bf.DEFAULT_CORPORA, args.docs)
    docs = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    steps = bf.our_steps()
    bf.our_batch(steps, docs.head(20), cold=False)
    inputs: dict[str, list[pl.DataFrame]] = {s.name: [] for s in steps}
    for i in range(0, docs.height, args.batch):
        part = docs.slice(i, args.batch)
        for s in steps:
            inputs[s.name].append(part)
            out = s.process(part).batch
            part = out.filter(pl.col(REASON_COLUMN).is_null()).drop(REASON_COLUMN)
    print(f"{docs.height:,} documents, batches of {args.batch}, best of {args.repeats}, CPU s")
    total = 0.0
    for s in steps:
        runs = []
        for _ in range(args.repeats):
            t0 = time.process_time()
            for part in inputs[s.name]:
                s.process(part)
            runs.append(time.process_time() - t0)
        n = sum(p.height for p in inputs[s.name])
        runs.sort()
        total += runs[0]
        print(
            f"{s.name:26s} best {runs[0]:.3f}  median {runs[len(runs) // 2]:.3f}  "
            f"docs {n:,}  us/doc {1e6 * runs[0] / max(n, 1):.0f}"
        )
    print(f"{'all steps':26s} best {total:.3f}")


if __name__ == "__main__":
    main()
