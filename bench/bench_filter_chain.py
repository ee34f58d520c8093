"""bench_filters' chain, several passes in one process, each step's time in the chain.

bench_filters times one pass, and this box's speed drifts between minutes; this runs the
chain over the same documents `--passes` times in one process, clearing the segmenter's
chunk memo before each pass (so every pass meets the texts as new, as the first does), and
prints each step's minimum and the total's minimum and median (CPU s). Run it from a
checkout, or from an extracted old tree with PYTHONPATH set to it, to compare commits:

    POLARS_MAX_THREADS=1 .venv/bin/python bench/bench_filter_chain.py
    (cd /tmp/old && PYTHONPATH=/tmp/old POLARS_MAX_THREADS=1 "$OLDPWD/.venv/bin/python" \\
        "$OLDPWD/bench/bench_filter_chain.py")
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
from corpuskit.text import segment


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--passes", type=int, default=5)
    args = ap.parse_args()
    texts = bf.english_docs(bf.DEFAULT_CORPORA, args.docs)
    docs = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    steps = bf.our_steps()
    bf.our_batch(steps, docs.head(20), cold=False)
    times: dict[str, list[float]] = {s.name: [] for s in steps}
    totals = []
    for _ in range(args.passes):
        seg = segment.segmenter()
        seg._chunks.clear()
        if hasattr(seg, "_last"):  # trees before a208534 kept the last token table
            seg._last = None
        got = dict.fromkeys(times, 0.0)
        for i in range(0, docs.height, args.batch):
            part = docs.slice(i, args.batch)
            for s in steps:
                t0 = time.process_time()
                out = s.process(part).batch
                part = out.filter(pl.col(REASON_COLUMN).is_null()).drop(REASON_COLUMN)
                got[s.name] += time.process_time() - t0
        for k, v in got.items():
            times[k].append(v)
        totals.append(sum(got.values()))
    print(f"{docs.height:,} documents, batches of {args.batch}, {args.passes} passes, CPU s")
    for name, v in times.items():
        print(f"{name:26s} min {min(v):.3f}  median {sorted(v)[len(v) // 2]:.3f}")
    totals.sort()
    print(f"{'chain':26s} min {totals[0]:.3f}  median {totals[len(totals) // 2]:.3f}")


if __name__ == "__main__":
    main()
