"""bad_words against datatrove's C4BadWordsFilter, same documents, same LDNOOBW lists.

    python bench/bench_bad_words.py --docs 4000

Documents: ag_news (English title + description) and cnews (Chinese articles), half each,
plus trec06c spam bodies (Chinese) for documents that hold listed words. Both sides use
the LDNOOBW en and zh lists shipped in corpuskit/data/bad_words/ldnoobw/ (datatrove's
download is replaced by those files, so it runs offline).

- datatrove: C4BadWordsFilter (C4's rule: any listed word rejects; whole words for English,
  substrings for Chinese), one document at a time with `metadata["language"]` set.
- corpuskit: bad_words with `rule: any`, `categories: []` (C4's rule on the same lists)
  and, for the second row, the default config (score rule, adult and gambling lists).

The two sides alternate batch by batch, so load from other processes hits both alike.
Decisions are compared on the C4 configuration: the lists differ only by the allow-lists
(datatrove drops 性; corpuskit drops the words of corpuskit/data/bad_words/allow/zh.txt).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_CORPORA, table

from corpuskit.steps.bad_words import BadWords, BadWordsConfig, data_file


def documents(corpora: Path, n: int) -> list[tuple[str, str]]:
    """(text, language): ag_news, cnews and trec06c spam bodies, interleaved."""
    with open(corpora / "ag_news" / "test.csv", encoding="utf-8") as f:
        en = [f"{r[1]}\n{r[2]}" for r in csv.reader(f)]
    zh = [
        line.split("\t", 1)[1]
        for line in (corpora / "cnews_subset" / "cnews.val.txt").read_text("utf-8").splitlines()
    ]
    spam_dir = corpora / "trec06c_subset" / "spam"
    for name in sorted(os.listdir(spam_dir), key=int)[:2000]:
        raw = (spam_dir / name).read_bytes()
        zh.append(raw[raw.find(b"\n\n") + 2 :].decode("gbk", errors="replace"))
    out = []
    for i in range(n):
        out.append((en[i % len(en)], "en") if i % 2 == 0 else (zh[(i // 2) % len(zh)], "zh"))
    return out


def datatrove_filter():
    import datatrove.pipeline.filters.c4_filters as c4
    from datatrove.pipeline.filters import C4BadWordsFilter

    def local(remote: str, **_: object) -> str:
        return str(data_file("ldnoobw", f"{remote.rstrip('/').rsplit('/', 1)[-1]}.txt"))

    c4.cached_asset_path_or_download = local  # offline: the same LDNOOBW files
    return C4BadWordsFilter(fail_on_missing_language=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    args = ap.parse_args()
    if not (args.corpora / "ag_news").exists():
        sys.exit(f"{args.corpora} is absent")
    from datatrove.data import Document

    docs = documents(args.corpora, args.docs)
    peer = datatrove_filter()
    c4 = BadWords(BadWordsConfig(rule="any", categories=()), name="bad_words")
    default = BadWords(BadWordsConfig(), name="bad_words")
    for step in (c4, default):
        step.setup()
    peer.filter(Document(text="warm up", id="0", metadata={"language": "zh"}))
    seconds = {"datatrove": 0.0, "c4": 0.0, "default": 0.0}
    decisions: dict[str, list[bool]] = {"datatrove": [], "c4": [], "default": []}
    for start in range(0, len(docs), args.batch):
        chunk = docs[start : start + args.batch]
        t = time.perf_counter()
        for i, (text, lang) in enumerate(chunk):
            doc = Document(text=text, id=str(start + i), metadata={"language": lang})
            res = peer.filter(doc)
            decisions["datatrove"].append(res is True or (isinstance(res, tuple) and res[0]))
        seconds["datatrove"] += time.perf_counter() - t
        frame = pl.DataFrame({"text": [t for t, _ in chunk]})
        for name, step in (("c4", c4), ("default", default)):
            t = time.perf_counter()
            out = step.process(frame).batch
            seconds[name] += time.perf_counter() - t
            decisions[name] += out["__reject_reason__"].is_null().to_list()
    mb = sum(len(t.encode()) for t, _ in docs) / 2**20
    rows = []
    for name, label in (
        ("datatrove", "datatrove C4BadWordsFilter"),
        ("c4", "corpuskit bad_words rule=any, LDNOOBW only"),
        ("default", "corpuskit bad_words default (score, +adult/gambling)"),
    ):
        kept = sum(decisions[name])
        rows.append(
            {
                "side": label,
                "docs/s": f"{len(docs) / seconds[name]:,.0f}",
                "MB/s": f"{mb / seconds[name]:.1f}",
                "ratio": f"{seconds['datatrove'] / seconds[name]:.1f}x",
                "kept": f"{kept}/{len(docs)}",
            }
        )
    print(table(rows))
    same = sum(a == b for a, b in zip(decisions["datatrove"], decisions["c4"], strict=True))
    print(f"C4 decisions equal to datatrove's on {same}/{len(docs)} documents")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
