"""ad_filter and bad_words on real spam and legitimate text outside the gold set, with the
spam split into the half the spam lists were written from and a held-out half.

    python bench/bench_spam_holdout.py

- trec06c spam bodies: even file numbers = tuning half (the spam formulae of
  corpuskit/data/spam/zh.txt were written reading these), odd = held out; SMS spam: odd
  line numbers = tuning (data/spam/en.txt), even = held out. Documents of the gold set
  (bench/quality/gold/docs.jsonl) are left out of both.
- legitimate: trec06c ham (outside the gold), SMS ham, cnews, ag_news, ChnSentiCorp
  reviews, 2,000 20news post bodies.

Bodies are the raw message bodies decoded as GBK (trec06c) or Latin-1 (20news), without
MIME decoding, as a quick and stable proxy; the gold bench (bench_quality_gold.py) scores
the MIME-decoded texts. Prints the share rejected per set for ad_filter's defaults (news),
its recipes/web.yaml config, bad_words' defaults and the two together as web.yaml runs them.
"""

from __future__ import annotations

import csv
import os
import random
import sys
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "2")

import orjson
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_CORPORA, ROOT, table

from corpuskit.schema import REASON_COLUMN
from corpuskit.steps.ad_filter import AdFilter, AdFilterConfig
from corpuskit.steps.bad_words import BadWords, BadWordsConfig


def body(raw: bytes, encoding: str) -> str:
    return raw[raw.find(b"\n\n") + 2 :].decode(encoding, errors="replace")


def load_sets(c: Path) -> dict[str, list[str]]:
    gold = {
        orjson.loads(line)["id"]
        for line in (ROOT / "bench" / "quality" / "gold" / "docs.jsonl").read_bytes().splitlines()
    }

    def trec(kind: str, keep) -> list[str]:
        folder = c / "trec06c_subset" / kind
        names = [n for n in os.listdir(folder) if keep(int(n)) and f"trec-{kind}-{n}" not in gold]
        return [body((folder / n).read_bytes(), "gbk") for n in sorted(names, key=int)]

    sms = [
        (i, *line.split("\t", 1))
        for i, line in enumerate(
            (c / "sms_spam" / "SMSSpamCollection").read_text("utf-8", "replace").splitlines(), 1
        )
    ]

    def sms_set(label: str, keep) -> list[str]:
        return [t for i, lab, t in sms if lab == label and keep(i) and f"sms-l{i:04d}" not in gold]

    with open(c / "ag_news" / "test.csv", encoding="utf-8") as f:
        ag = [f"{r[1]}\n{r[2]}" for r in csv.reader(f)]
    with open(c / "chnsenticorp" / "ChnSentiCorp_htl_all.csv", encoding="utf-8") as f:
        chn = [r[1] for r in list(csv.reader(f))[1:]]
    posts = sorted((c / "20news_train").glob("*/*"))
    random.Random(0).shuffle(posts)
    return {
        "trec06c spam, tuning half": trec("spam", lambda n: n % 2 == 0),
        "trec06c spam, held out": trec("spam", lambda n: n % 2 == 1),
        "SMS spam, tuning half": sms_set("spam", lambda i: i % 2 == 1),
        "SMS spam, held out": sms_set("spam", lambda i: i % 2 == 0),
        "trec06c ham": trec("ham", lambda n: True),
        "SMS ham": sms_set("ham", lambda i: True),
        "cnews": [
            line.split("\t", 1)[1]
            for line in (c / "cnews_subset" / "cnews.val.txt").read_text("utf-8").splitlines()
        ],
        "ag_news": ag,
        "ChnSentiCorp": chn,
        "20news (2,000 bodies)": [body(p.read_bytes(), "latin-1") for p in posts[:2000]],
    }


def main() -> None:
    corpora = DEFAULT_CORPORA
    if not (corpora / "trec06c_subset").exists():
        sys.exit(f"{corpora} is absent")
    steps = {
        "ad_filter (defaults)": AdFilter(AdFilterConfig(), name="ad_filter"),
        "ad_filter (web.yaml)": AdFilter(
            AdFilterConfig(threshold=6, contact_cap=6), name="ad_filter"
        ),
        "bad_words (defaults)": BadWords(BadWordsConfig(), name="bad_words"),
    }
    rows = []
    for name, texts in load_sets(corpora).items():
        frame = pl.DataFrame({"text": texts})
        row: dict[str, str] = {"set": name, "docs": f"{len(texts):,}"}
        dropped = {}
        for label, step in steps.items():
            dropped[label] = step.process(frame).batch[REASON_COLUMN].is_not_null()
            row[label] = f"{dropped[label].mean():.2%}"
        both = dropped["ad_filter (web.yaml)"] | dropped["bad_words (defaults)"]
        row["web.yaml: ad_filter or bad_words"] = f"{both.mean():.2%}"
        rows.append(row)
    print(table(rows))
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
