"""The four quality steps against datatrove's filters, same English documents, one process.

    python bench/bench_quality.py --docs 3000

Documents: windows of consecutive paragraphs (about 0.5-6 KB) of the English articles in
../shared/corpora/article_extraction_html/ground-truth.json (articleBody), so both sides see
real news prose with a mix of kept and rejected documents. POLARS_MAX_THREADS defaults to 1
here: the numbers are per core.

Peer: datatrove 0.10.1's GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter and
FineWebQualityFilter (FineWeb's order), one document at a time as a datatrove pipeline runs
them (needs `pip install spacy` for datatrove's English tokenizer; no model download).
corpuskit: gopher_repetition > gopher_quality > c4_quality > fineweb_quality on batches of
`--batch` documents, rejected rows removed between steps as the engine does.

Also timed: each step alone on all documents, and the chain with corpuskit's per-process
chunk memo cleared before every batch (the pessimistic case of a corpus whose every batch
brings only new words). Prints docs/s per core for each and the ratios, and how often the
two sides agree on which documents survive.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_CORPORA, table

from corpuskit import registry
from corpuskit.schema import REASON_COLUMN
from corpuskit.text import segment

CHAIN = ["gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"]
CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def english_docs(corpora: Path, n: int, seed: int = 0) -> list[str]:
    """`n` documents: windows of consecutive paragraphs of the English articles."""
    raw = json.loads((corpora / "article_extraction_html" / "ground-truth.json").read_text())
    articles = [
        [p for p in v["articleBody"].split("\n") if p.strip()]
        for v in raw.values()
        if len(CJK.findall(v["articleBody"])) < 20
    ]
    rng = random.Random(seed)
    docs = []
    while len(docs) < n:
        paras = rng.choice(articles)
        start = rng.randrange(len(paras))
        target = rng.randint(500, 6000)
        out, size = [], 0
        for p in paras[start:]:
            out.append(p)
            size += len(p)
            if size >= target:
                break
        docs.append(("\n\n" if rng.random() < 0.7 else "\n").join(out))
    return docs


def peer_filters() -> dict:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return {
        "gopher_repetition": GopherRepetitionFilter(),
        "gopher_quality": GopherQualityFilter(),
        "c4_quality": C4QualityFilter(),
        "fineweb_quality": FineWebQualityFilter(),
    }


def peer_run(filters: list, texts: list[str]) -> tuple[float, list[bool]]:
    from datatrove.data import Document

    kept = []
    t0 = time.perf_counter()
    for i, text in enumerate(texts):
        doc = Document(text=text, id=str(i))
        ok = True
        for f in filters:
            res = f.filter(doc)
            if res is not True:
                ok = False
                break
        kept.append(ok)
    return time.perf_counter() - t0, kept


def our_steps(names: list[str]) -> list:
    steps = []
    for name in names:
        cls = registry.steps()[name]
        step = cls(cls.Config(), name=name)
        step.ensure_ready()
        steps.append(step)
    return steps


def our_run(
    steps: list, batch: pl.DataFrame, size: int, cold: bool = False
) -> tuple[float, list[bool]]:
    kept_ids: list[str] = []
    t0 = time.perf_counter()
    for i in range(0, batch.height, size):
        part = batch.slice(i, size)
        if cold:
            segment.segmenter()._chunks.clear()
        for step in steps:
            out = step.process(part).batch
            part = out.filter(pl.col(REASON_COLUMN).is_null()).drop(REASON_COLUMN)
        kept_ids.extend(part["id"].to_list())
    seconds = time.perf_counter() - t0
    keep = set(kept_ids)
    return seconds, [i in keep for i in batch["id"].to_list()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--skip-single", action="store_true", help="only time the chain")
    args = ap.parse_args()
    texts = english_docs(args.corpora, args.docs)
    batch = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    kb = batch["text"].str.len_bytes().mean() / 1024
    peers = peer_filters()
    # warm both sides (spaCy and jieba loading, corpuskit's rules) on a few documents
    peer_run(list(peers.values()), texts[:20])
    our_run(our_steps(CHAIN), batch.head(20), args.batch)

    rows = []
    names = [] if args.skip_single else CHAIN
    for name in names:
        p_s, _ = peer_run([peers[name]], texts)
        o_s, _ = our_run(our_steps([name]), batch, args.batch)
        rows.append(_row(name, len(texts), p_s, o_s))
    p_s, p_kept = peer_run([peers[n] for n in CHAIN], texts)
    o_s, o_kept = our_run(our_steps(CHAIN), batch, args.batch)
    rows.append(_row("chain of the four", len(texts), p_s, o_s))
    c_s, _ = our_run(our_steps(CHAIN), batch, args.batch, cold=True)
    rows.append(_row("chain, chunk memo cleared per batch", len(texts), p_s, c_s))
    agree = sum(a == b for a, b in zip(p_kept, o_kept, strict=True)) / len(texts)
    print(
        f"input: {len(texts):,} English docs (article paragraphs, mean {kb:.1f} KB), "
        f"batches of {args.batch}, POLARS_MAX_THREADS={os.environ['POLARS_MAX_THREADS']}"
    )
    print(table(rows))
    print(
        f"chain: datatrove keeps {sum(p_kept):,}, corpuskit keeps {sum(o_kept):,}, "
        f"same decision on {agree:.2%} of documents"
    )
    print(f"chain throughput ratio corpuskit/datatrove: {p_s / o_s:.1f}")


def _row(name: str, n: int, peer_s: float, ours_s: float) -> dict:
    return {
        "steps": name,
        "datatrove docs/s": f"{n / peer_s:,.0f}",
        "corpuskit docs/s": f"{n / ours_s:,.0f}",
        "ratio": f"{peer_s / ours_s:.1f}",
    }


if __name__ == "__main__":
    main()
