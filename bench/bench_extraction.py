"""Main-text extraction quality and speed against trafilatura and datatrove.

    .venv/bin/python bench/bench_extraction.py [--rounds 3] [--variants]

Data: ../shared/corpora/article_extraction_html (scrapinghub's article extraction
benchmark: 181 real pages, html/*.html.gz, hand-checked `articleBody` in
ground-truth.json). Every extractor sees every page in the same run:

- corpuskit: `corpuskit.readers.extract.read_page` from the page's bytes, the whole path the
  html and warc readers take (charset detection, HTML check, trafilatura in fast
  mode favouring recall without comments, title and date, title lines stripped, a
  resiliparse fallback, the per-page time limit);
- trafilatura defaults: `trafilatura.extract(html)`;
- datatrove: `datatrove.pipeline.extractors.Trafilatura()` run as a pipeline step
  (its sandbox subprocess included; timeout raised from 1 s to 30 s so that a loaded
  machine does not turn slow pages into empty ones);
- resiliparse: `extract_plain_text(html, main_content=True)`.

Quality: token-level precision and recall of each page's text against its
articleBody (multiset overlap; words are runs of letters and digits, and each
character of unspaced scripts (Chinese, Japanese, Thai, ...) is a token), averaged
over pages, F1 from the averages (the upstream benchmark's convention). The
upstream measure (4-gram token shingles) is shown beside it.

Speed: documents per second over the 181 pages, best of `--rounds` rounds with the
extractors interleaved so that they share the machine's load; and documents per
CPU-second (best round), which a loaded machine disturbs far less. CPU time
includes the child process datatrove's extractor runs in.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_CORPORA, table

# Scripts written without spaces between words: each character is a token.
_UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f"
    "\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
)
_TOKEN = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+")
_UPSTREAM_TOKEN = re.compile(r"\w+")


def tokens(text: str | None) -> list[str]:
    return _TOKEN.findall(text or "")


def _prf(true: Counter, pred: Counter) -> tuple[float, float]:
    tp = sum((true & pred).values())
    fp = sum(pred.values()) - tp
    fn = sum(true.values()) - tp
    if fp == fn == 0:
        return 1.0, 1.0
    precision = 0.0 if tp == fp == 0 else tp / (tp + fp)
    recall = 0.0 if tp == fn == 0 else tp / (tp + fn)
    return precision, recall


def token_scores(true: str, pred: str | None) -> tuple[float, float]:
    return _prf(Counter(tokens(true)), Counter(tokens(pred)))


def shingle_scores(true: str, pred: str | None, n: int = 4) -> tuple[float, float]:
    def shingles(text: str | None) -> Counter:
        toks = _UPSTREAM_TOKEN.findall(text or "")
        return Counter(tuple(toks[i : i + n]) for i in range(max(1, len(toks) - n + 1)))

    return _prf(shingles(true), shingles(pred))


def summarize(pairs: list[tuple[float, float]]) -> tuple[float, float, float]:
    p = statistics.mean(x for x, _ in pairs)
    r = statistics.mean(y for _, y in pairs)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def load(root: Path) -> tuple[list[str], dict[str, bytes], dict[str, str]]:
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(truth)
    pages = {k: gzip.decompress((root / "html" / f"{k}.html.gz").read_bytes()) for k in keys}
    return keys, pages, {k: truth[k].get("articleBody") or "" for k in keys}


Extractor = Callable[[list[str], dict[str, bytes]], dict[str, str | None]]


def corpuskit_extractor(options=None) -> Extractor:
    from corpuskit.readers.extract import DEFAULT_OPTIONS, read_page

    opts = options or DEFAULT_OPTIONS

    def run(keys: list[str], pages: dict[str, bytes]) -> dict[str, str | None]:
        return {k: read_page(pages[k], options=opts).text for k in keys}

    return run


def trafilatura_defaults(keys: list[str], pages: dict[str, bytes]) -> dict[str, str | None]:
    import trafilatura

    return {k: trafilatura.extract(pages[k].decode("utf-8", "replace")) for k in keys}


def datatrove_trafilatura(keys: list[str], pages: dict[str, bytes]) -> dict[str, str | None]:
    from datatrove.data import Document
    from datatrove.pipeline.extractors import Trafilatura

    step = Trafilatura(timeout=30)
    docs = (Document(text=pages[k].decode("utf-8", "replace"), id=k) for k in keys)
    out: dict[str, str | None] = dict.fromkeys(keys)
    for doc in step.run(docs):
        out[doc.id] = doc.text
    return out


def resiliparse_main(keys: list[str], pages: dict[str, bytes]) -> dict[str, str | None]:
    from resiliparse.extract.html2text import extract_plain_text

    return {
        k: extract_plain_text(pages[k].decode("utf-8", "replace"), main_content=True) for k in keys
    }


def extractors(variants: bool) -> dict[str, Extractor]:
    out: dict[str, Extractor] = {
        "corpuskit (html/warc readers)": corpuskit_extractor(),
        "trafilatura 2.3.1 defaults": trafilatura_defaults,
        "datatrove 0.10.1 Trafilatura": datatrove_trafilatura,
        "resiliparse 2.0.1 main_content": resiliparse_main,
    }
    if variants:
        from corpuskit.readers.extract import ExtractOptions

        tried = {
            "favor balanced": ExtractOptions(favor="balanced"),
            "favor precision": ExtractOptions(favor="precision"),
            "no tables": ExtractOptions(include_tables=False),
            "title kept": ExtractOptions(strip_title=False),
            "with comments": ExtractOptions(include_comments=True),
            "no date": ExtractOptions(with_date=False),
            "engine resiliparse": ExtractOptions(engine="resiliparse"),
        }
        for name, opts in tried.items():
            out[f"corpuskit, {name}"] = corpuskit_extractor(opts)
    return out


def _quiet_datatrove() -> None:
    """datatrove logs every sandbox shutdown at INFO through loguru."""
    try:
        from datatrove.utils.logging import logger  # its import installs a handler
    except ImportError:
        return
    logger.remove()
    logger.add(sys.stderr, level="WARNING")


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds; the best is reported")
    ap.add_argument("--variants", action="store_true", help="also time corpuskit's other options")
    ap.add_argument("--json", type=Path, help="write the results as JSON here")
    args = ap.parse_args()
    root = args.corpora / "article_extraction_html"
    if not (root / "ground-truth.json").exists():
        sys.exit(f"{root} not found: the benchmark needs ../shared/corpora/article_extraction_html")
    keys, pages, truth = load(root)
    _quiet_datatrove()
    runs = extractors(args.variants)
    # A first pass outside the timing: imports, lazy tables, trafilatura's caches.
    warm = keys[:5]
    for fn in runs.values():
        fn(warm, pages)
    outputs: dict[str, dict[str, str | None]] = {}
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, fn in runs.items():
            c0, t0 = cpu_seconds(), time.perf_counter()
            outputs[name] = fn(keys, pages)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(cpu_seconds() - c0)
    rows, results = [], {}
    for name in runs:
        out = outputs[name]
        p, r, f1 = summarize([token_scores(truth[k], out[k]) for k in keys])
        _, _, sf1 = summarize([shingle_scores(truth[k], out[k]) for k in keys])
        empty = sum(1 for k in keys if not (out[k] or "").strip())
        best = min(wall[name])
        results[name] = {
            "precision": p,
            "recall": r,
            "f1": f1,
            "f1_shingles": sf1,
            "empty": empty,
            "docs_per_s": len(keys) / best,
            "docs_per_cpu_s": len(keys) / min(cpu[name]),
        }
        rows.append(
            {
                "extractor": name,
                "precision": f"{p:.4f}",
                "recall": f"{r:.4f}",
                "F1": f"{f1:.4f}",
                "F1 (4-gram shingles)": f"{sf1:.4f}",
                "empty": empty,
                "docs/s": f"{len(keys) / best:.1f}",
                "docs/CPU-s": f"{len(keys) / min(cpu[name]):.1f}",
            }
        )
    print(f"{len(keys)} pages, best of {args.rounds} rounds\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
