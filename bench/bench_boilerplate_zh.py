"""remove_boilerplate_lines on Chinese news: cnews_subset's documents, default lists (zh, en).

Times the step over the documents (batches of `--batch`, CPU clock) for `--passes` passes in
one process and prints each pass; the first pays the regex compiles and the segmenter memo.
Run it from an extracted old tree with PYTHONPATH set to it to compare commits:

    POLARS_MAX_THREADS=1 .venv/bin/python bench/bench_boilerplate_zh.py
    (cd /tmp/old && PYTHONPATH=/tmp/old POLARS_MAX_THREADS=1 "$OLDPWD/.venv/bin/python" \\
        "$OLDPWD/bench/bench_boilerplate_zh.py")
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import polars as pl

from corpuskit import registry

CNEWS = (
    Path(__file__).resolve().parents[2] / "shared" / "corpora" / "cnews_subset" / "cnews.val.txt"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--copies", type=int, default=2, help="the 1,000 documents this many times")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--passes", type=int, default=2)
    args = ap.parse_args()
    path = Path(os.environ.get("CORPUSKIT_CORPORA", CNEWS.parents[1])) / CNEWS.relative_to(
        CNEWS.parents[1]
    )
    texts = [ln.split("\t", 1)[1] for ln in path.read_text(encoding="utf-8").splitlines()]
    texts = texts * args.copies
    docs = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    cls = registry.steps()["remove_boilerplate_lines"]
    step = cls(cls.Config(), name="remove_boilerplate_lines")
    step.ensure_ready()
    print(f"{docs.height:,} cnews documents, batches of {args.batch}, CPU s")
    for n in range(args.passes):
        t0 = time.process_time()
        for i in range(0, docs.height, args.batch):
            step.process(docs.slice(i, args.batch))
        print(f"pass {n + 1}: {time.process_time() - t0:.3f}")


if __name__ == "__main__":
    main()
