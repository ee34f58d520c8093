"""strip_email_noise, batch-wide Polars against a plain per-document Python loop.

    POLARS_MAX_THREADS=1 python bench/bench_strip_email_noise.py --docs 3000 --batch 1000

Reads the bodies of ../shared/corpora/20news_train posts (and trec06c_subset ham, GBK) with
corpuskit's `email` reader, then runs the step (`map`, per batch) and `strip_one` (the same
rules, one `re` pass per line per document: what a hand-written filter does) on the same
batches, alternating rounds, and prints documents/s of each, the ratio, what was removed,
and whether both give the same texts (they must).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_CORPORA, table

from corpuskit import registry
from corpuskit.readers.base import InputSpec
from corpuskit.steps.strip_email_noise import StripEmailNoise, strip_one


def read_bodies(corpora: Path, docs: int) -> pl.DataFrame:
    reader = registry.get_reader("email")(InputSpec(path="-", format="email"), 0)
    files = sorted((corpora / "20news_train").glob("*/*"))
    ham = sorted((corpora / "trec06c_subset" / "ham").glob("*"))
    step = max(1, len(files) // max(1, docs * 3 // 4))
    picked = files[::step][: docs * 3 // 4] + ham[: docs - docs * 3 // 4]
    _, units = reader.plan(picked, 1 << 22)
    texts = [b.documents["text"] for u in units for b in reader.read(u)]
    return pl.DataFrame({"text": pl.concat(texts)}).head(docs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    args = ap.parse_args()
    if not (args.corpora / "20news_train").exists():
        sys.exit(f"skipped: {args.corpora / '20news_train'} is absent")
    frame = read_bodies(args.corpora, args.docs)
    parts = [frame.slice(i, args.batch) for i in range(0, frame.height, args.batch)]
    step = StripEmailNoise()
    step.ensure_ready()
    mb = frame["text"].str.len_bytes().sum() / 1e6

    def ours() -> list[str]:
        return [t for p in parts for t in step.process(p).batch["text"].to_list()]

    def peer() -> list[str]:
        return [strip_one(t, step.config)[0] for p in parts for t in p["text"].to_list()]

    best = {"corpuskit": float("inf"), "python loop": float("inf")}
    out = {}
    for _ in range(args.rounds):
        for name, fn in (("corpuskit", ours), ("python loop", peer)):
            t0 = time.perf_counter()
            out[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    result = step.process(frame)
    rows = [
        {
            "side": name,
            "docs/s": f"{frame.height / s:,.0f}",
            "MB/s": f"{mb / s:.1f}",
            "best s": f"{s:.3f}",
        }
        for name, s in best.items()
    ]
    print(f"{frame.height} bodies, {mb:.1f} MB, batches of {args.batch}, best of {args.rounds}")
    print(table(rows))
    print(f"ratio (python loop / corpuskit): {best['python loop'] / best['corpuskit']:.1f}x")
    print(f"same texts: {out['corpuskit'] == out['python loop']}")
    print(f"counts: {result.counters}")


if __name__ == "__main__":
    main()
