"""The language step's two backends on the real corpora: docs/s per core, agreement, accuracy.

    .venv/bin/python bench/bench_language.py              # all four corpora, whole
    .venv/bin/python bench/bench_language.py --limit 500  # a quick look
    .venv/bin/python bench/bench_language.py --raw        # also without the Han shortcut

Every measurement is repeated (--repeat, default 3) and the fastest run counts.

One process and one Polars thread (POLARS_MAX_THREADS=1 is set here), so the rates are per
core. Each backend runs the `language` step itself (`process` over batches, as the engine
calls it); model loading (setup) is timed apart. Corpora, read from ../shared/corpora:

- ag_news: the 7,600 descriptions of test.csv (English news, ~190 characters);
- cnews: the 1,000 texts of cnews_subset (Chinese news, ~1,000 characters);
- shakespeare: tinyshakespeare cut at speech boundaries into chunks of >= 500 characters
  (English, Early Modern);
- articles: the 181 hand-checked article bodies of article_extraction_html. Most are
  English; the 20 that are not were labelled by reading them (ARTICLE_LANGS below).

Agreement is the share of documents given the same `lang` by both backends; accuracy is
the share given the corpus's known language.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_CORPORA, table

from corpuskit.steps.language import Language, LanguageConfig, load_backend

BACKENDS = ("fasttext", "langdetect")
# article_extraction_html pages that are not English (id prefix -> language), read by hand.
ARTICLE_LANGS = {
    "0ec95c7261d1": "ko", "9da36ae4714b": "ko", "85439e26c41c": "ja", "f105de6e63ca": "ja",
    "11ea381ad92b": "pt", "23aaecd14171": "pt", "3252222e61fe": "pt", "b3c19dd5f061": "pt",
    "cc03ddb5ef7d": "pt", "f6ac15a4d985": "pt", "20b2b64916b0": "it", "b6fb53e9fb04": "it",
    "21486419bb10": "id", "7837c9d66c81": "id", "3c6d3381ef52": "ru", "c4a3637c6696": "ru",
    "c82b3d1d540b": "ru", "ff0f958ade71": "ru", "57b4dafd18cf": "de", "ba07d1e64775": "de",
}  # fmt: skip


def load_corpora(root: Path) -> dict[str, pl.DataFrame]:
    """Each corpus as a frame with id, text and truth (the known language)."""
    out: dict[str, pl.DataFrame] = {}
    with open(root / "ag_news" / "test.csv", newline="", encoding="utf-8") as f:
        descriptions = [row[2] for row in csv.reader(f)]
    out["ag_news"] = _frame(descriptions, ["en"] * len(descriptions))
    lines = (root / "cnews_subset" / "cnews.val.txt").read_text(encoding="utf-8").splitlines()
    texts = [line.split("\t", 1)[1] for line in lines if "\t" in line]
    out["cnews"] = _frame(texts, ["zh"] * len(texts))
    speeches = (root / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8").split("\n\n")
    chunks, current = [], ""
    for speech in speeches:
        current = f"{current}\n\n{speech}" if current else speech
        if len(current) >= 500:
            chunks.append(current)
            current = ""
    out["shakespeare"] = _frame(chunks, ["en"] * len(chunks))
    truth = json.loads(
        (root / "article_extraction_html" / "ground-truth.json").read_text(encoding="utf-8")
    )
    bodies = [v["articleBody"] for v in truth.values()]
    langs = [ARTICLE_LANGS.get(k[:12], "en") for k in truth]
    out["articles"] = _frame(bodies, langs)
    return out


def _frame(texts: list[str], truth: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"id": [str(i) for i in range(len(texts))], "text": texts, "truth": truth},
        schema={"id": pl.String, "text": pl.String, "truth": pl.String},
    )


def detect(
    docs: pl.DataFrame, backend: str, batch: int, repeat: int = 1, **config: object
) -> tuple[pl.DataFrame, float, float, dict[str, int]]:
    """lang/lang_score for every doc, seconds for setup and for the run, summed counters.

    The run is repeated and the fastest kept (the machine is shared); every repeat must
    give the same answers.
    """
    load_backend.cache_clear()  # time the model load, which the step caches per process
    step = Language(LanguageConfig(backend=backend, **config), name="language")
    t0 = time.perf_counter()
    step.ensure_ready()
    setup_s = time.perf_counter() - t0
    best, first = float("inf"), None
    for _ in range(repeat):
        parts, counters = [], {}
        t0 = time.perf_counter()
        for i in range(0, docs.height, batch):
            result = step.process(docs.slice(i, batch).select("id", "text"))
            parts.append(result.batch.select("lang", "lang_score"))
            for k, v in result.counters.items():
                counters[k] = counters.get(k, 0) + v
        best = min(best, time.perf_counter() - t0)
        out = pl.concat(parts)
        if first is None:
            first = out
        elif not out.equals(first):
            sys.exit(f"{backend}: a repeat gave different answers")
    return first, setup_s, best, counters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--limit", type=int, default=None, help="first N docs of each corpus")
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement; the fastest counts"
    )
    ap.add_argument("--max-chars", type=int, default=LanguageConfig().max_chars)
    ap.add_argument("--raw", action="store_true", help="also run with han_shortcut off")
    ap.add_argument("--show", type=int, default=3, help="disagreements to print per corpus")
    args = ap.parse_args()
    if not args.corpora.exists():
        sys.exit(f"{args.corpora} is absent: the benchmark reads the shared corpora")
    corpora = load_corpora(args.corpora)
    if args.limit:
        corpora = {k: v.head(args.limit) for k, v in corpora.items()}

    variants = [("", {"han_shortcut": True})]
    if args.raw:
        variants.append((" (no shortcut)", {"han_shortcut": False}))
    rows, notes = [], []
    for label, extra in variants:
        total = {b: [0.0, 0] for b in BACKENDS}
        agree_all, correct_all = 0, {b: 0 for b in BACKENDS}
        n_all = 0
        for name, docs in corpora.items():
            res, rate, setup = {}, {}, {}
            for b in BACKENDS:
                out, setup[b], secs, counters = detect(
                    docs, b, args.batch, args.repeat, max_chars=args.max_chars, **extra
                )
                res[b], rate[b] = out, docs.height / secs
                total[b][0] += secs
                total[b][1] += docs.height
                correct_all[b] += int((out["lang"] == docs["truth"]).sum())
                if counters.get("docs_han_shortcut"):
                    n = counters["docs_han_shortcut"]
                    notes.append(f"{name}{label} {b}: {n} docs took the Han shortcut")
            same = res["fasttext"]["lang"] == res["langdetect"]["lang"]
            agree_all += int(same.sum())
            n_all += docs.height
            acc = {b: float((res[b]["lang"] == docs["truth"]).mean()) for b in BACKENDS}
            rows.append(
                {
                    "corpus": name + label,
                    "docs": f"{docs.height:,}",
                    "chars/doc": f"{docs['text'].str.len_chars().mean():,.0f}",
                    "fasttext docs/s": f"{rate['fasttext']:,.0f}",
                    "langdetect docs/s": f"{rate['langdetect']:,.0f}",
                    "speed ft/ld": f"{rate['fasttext'] / rate['langdetect']:.1f}x",
                    "agreement": f"{float(same.mean()):.4f}",
                    "fasttext acc": f"{acc['fasttext']:.4f}",
                    "langdetect acc": f"{acc['langdetect']:.4f}",
                }
            )
            shown = docs.with_columns(
                ft=res["fasttext"]["lang"],
                ft_score=res["fasttext"]["lang_score"].round(3),
                ld=res["langdetect"]["lang"],
                ld_score=res["langdetect"]["lang_score"].round(3),
            ).filter(~same)
            for r in shown.head(args.show).iter_rows(named=True):
                text = " ".join(r["text"].split())[:90]
                notes.append(
                    f"{name}{label} #{r['id']} truth={r['truth']} fasttext={r['ft']} "
                    f"({r['ft_score']}) langdetect={r['ld']} ({r['ld_score']}): {text!r}"
                )
        rate_all = {b: total[b][1] / total[b][0] for b in BACKENDS}
        rows.append(
            {
                "corpus": "all" + label,
                "docs": f"{n_all:,}",
                "chars/doc": "",
                "fasttext docs/s": f"{rate_all['fasttext']:,.0f}",
                "langdetect docs/s": f"{rate_all['langdetect']:,.0f}",
                "speed ft/ld": f"{rate_all['fasttext'] / rate_all['langdetect']:.1f}x",
                "agreement": f"{agree_all / n_all:.4f}",
                "fasttext acc": f"{correct_all['fasttext'] / n_all:.4f}",
                "langdetect acc": f"{correct_all['langdetect'] / n_all:.4f}",
            }
        )
    print(
        f"language step, max_chars={args.max_chars}, one process, "
        f"POLARS_MAX_THREADS={os.environ['POLARS_MAX_THREADS']}; setup (model load) "
        f"fasttext {setup['fasttext']:.2f}s, langdetect {setup['langdetect']:.2f}s"
    )
    print(table(rows))
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
