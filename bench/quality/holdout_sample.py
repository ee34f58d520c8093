"""Draw the candidates of the held-out gold set (gold/holdout.jsonl) with a fixed seed.

    python bench/quality/holdout_sample.py > /tmp/candidates.jsonl

The held-out set checks whether the numbers of docs.jsonl, which the steps were tuned on,
generalize. Its candidates are documents that docs.jsonl does not hold (neither their
locator nor, after dropping whitespace, their text), drawn at random with SEED from the same
corpora plus two never used (LCSTS part III and Tiny Shakespeare). Each candidate was then
labelled by reading it; the labels live in holdout.jsonl, not here. Rerunning this script
gives the same candidates while the corpora are unchanged (tests/test_quality_holdout.py).
"""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from quality import gold

SEED = 16  # issue 16
# (corpus, domain, lang, how many): the edited-text candidates first, then the junk.
PLAN = (
    ("20news", "forum", "en", 50),
    ("ag_news", "news", "en", 25),
    ("tinyshakespeare", "book", "en", 10),
    ("cnews", "news", "zh", 30),
    ("lcsts", "news", "zh", 30),
    ("trec06c_ham", "forum", "zh", 30),
    ("trec06c_spam", "junk", "zh", 50),
    ("sms_spam", "junk", "en", 30),
)
SHAKESPEARE_PIECE = 2500  # characters: whole speeches joined until a piece is this long
_SPACE = re.compile(r"\s+")


def _locators(corpus: str, root: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (id, locator) of a corpus, in a fixed order."""
    if corpus == "20news":
        for f in sorted((root / "20news_train").glob("*/*")):
            loc = {"kind": "email", "path": f"20news_train/{f.parent.name}/{f.name}"}
            yield f"ho-20news-{f.parent.name}-{f.name}", {**loc, "encoding": "latin-1"}
    elif corpus == "ag_news":
        path = "ag_news/test.csv"
        for row in range(len(gold._csv_rows(root / path))):
            yield f"ho-agnews-r{row:04d}", {"kind": "csv_row", "path": path, "row": row}
    elif corpus == "cnews":
        path = "cnews_subset/cnews.val.txt"
        for n in range(1, len(gold._lines(root / path)) + 1):
            yield f"ho-cnews-l{n:04d}", {"kind": "line", "path": path, "line": n, "field": 1}
    elif corpus == "sms_spam":
        path = "sms_spam/SMSSpamCollection"
        for n, line in enumerate(gold._lines(root / path), start=1):
            if line.startswith(b"spam\t"):
                yield f"ho-sms-l{n:04d}", {"kind": "line", "path": path, "line": n, "field": 1}
    elif corpus in ("trec06c_ham", "trec06c_spam"):
        sub = corpus.rsplit("_", 1)[1]
        for f in sorted((root / "trec06c_subset" / sub).iterdir(), key=lambda p: int(p.name)):
            loc = {"kind": "email", "path": f"trec06c_subset/{sub}/{f.name}", "encoding": "gb18030"}
            yield f"ho-trec-{sub}-{f.name}", loc
    elif corpus == "lcsts":
        path = "lcsts_part3/PART_III.txt"
        for n in sorted(gold.lcsts_docs(root / path)):
            yield f"ho-lcsts-{n:04d}", {"kind": "lcsts", "path": path, "doc": n}
    elif corpus == "tinyshakespeare":
        for start, end in shakespeare_pieces(root / "tinyshakespeare/input.txt"):
            loc = {"kind": "lines", "path": "tinyshakespeare/input.txt", "start": start, "end": end}
            yield f"ho-shakespeare-l{start:05d}", loc
    else:
        raise ValueError(f"no candidates for corpus {corpus!r}")


def shakespeare_pieces(path: Path) -> list[tuple[int, int]]:
    """The play text cut at speech boundaries (blank lines) into pieces of about
    SHAKESPEARE_PIECE characters: [(first line, last line)], 1-based, inclusive."""
    lines = [ln.decode("utf-8") for ln in gold._lines(path)]
    pieces, start, size = [], 1, 0
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            if size >= SHAKESPEARE_PIECE:
                pieces.append((start, n - 1))
                start, size = n + 1, 0
            elif size == 0:
                start = n + 1
            continue
        size += len(line) + 1
    return pieces


def _skeleton(text: str | None) -> str:
    return _SPACE.sub("", text or "")


def draw(root: Path | None = None, seed: int = SEED) -> list[dict[str, Any]]:
    """The candidates: per PLAN entry, `n` documents at random (seeded), skipping locators
    and texts (whitespace dropped) of docs.jsonl and texts already drawn."""
    root = root or gold.corpora_root()
    used = gold.load_docs()
    used_locs = {orjson.dumps(d["locator"], option=orjson.OPT_SORT_KEYS) for d in used}
    seen = {_skeleton(gold.resolve(d["locator"], root).text) for d in used}
    seen.discard("")
    out = []
    for corpus, domain, lang, n in PLAN:
        pool = list(_locators(corpus, root))
        random.Random(f"{seed}-{corpus}").shuffle(pool)
        picked = 0
        for doc_id, loc in pool:
            if picked == n:
                break
            if orjson.dumps(loc, option=orjson.OPT_SORT_KEYS) in used_locs:
                continue
            src = gold.resolve(loc, root)
            key = _skeleton(src.text)
            if not key or key in seen:
                continue
            seen.add(key)
            picked += 1
            rec = {"id": doc_id, "corpus": corpus, "domain": domain, "lang": lang}
            out.append({**rec, "locator": loc, "sha": src.sha})
    return out


def main(write: Callable[[bytes], Any] = sys.stdout.buffer.write) -> None:
    for rec in draw():
        write(orjson.dumps(rec) + b"\n")


if __name__ == "__main__":
    main()
