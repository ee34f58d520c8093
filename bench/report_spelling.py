"""How many tokens fix_spelling changes on a real sample, and which: the README's report.

    python bench/report_spelling.py [--corpora ../shared/corpora] [--examples 40]

Runs `fix_spelling` with its defaults over the AG News test descriptions and prints the
number of whitespace tokens changed and every distinct (before -> after) pair with its
count, so a reader can judge each fix. Not a timing benchmark.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_CORPORA

from corpuskit.steps.fix_spelling import FixSpelling, FixSpellingConfig


def changed_tokens(before: list[str], after: list[str]) -> Counter[tuple[str, str]]:
    """(old, new) token pairs of documents the step rewrote; whitespace is kept by the step."""
    pairs: Counter[tuple[str, str]] = Counter()
    for old, new in zip(before, after, strict=True):
        if old == new:
            continue
        a, b = old.split(), new.split()
        if len(a) != len(b):
            raise AssertionError(f"token count changed: {old!r} -> {new!r}")
        pairs.update((x, y) for x, y in zip(a, b, strict=True) if x != y)
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--examples", type=int, default=40)
    args = parser.parse_args()

    path = args.corpora / "ag_news" / "test.csv"
    texts = pl.read_csv(path, has_header=False, new_columns=["label", "title", "text"])["text"]
    step = FixSpelling(FixSpellingConfig(), name="fix_spelling")
    step.setup()
    batch = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    out = step.process(batch).batch["text"].to_list()

    tokens = sum(len(t.split()) for t in texts.to_list())
    pairs = changed_tokens(texts.to_list(), out)
    n = sum(pairs.values())
    print(f"{path}: {len(texts):,} documents, {tokens:,} tokens")
    print(f"fix_spelling changed {n:,} tokens ({n / tokens:.4%}), {len(pairs)} distinct fixes:")
    for (old, new), count in pairs.most_common(args.examples):
        print(f"  {count:4d}  {old} -> {new}")


if __name__ == "__main__":
    main()
