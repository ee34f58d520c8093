"""What a trained quality/spam classifier keeps and drops on web pages, beside the heuristics.

    .venv/bin/python bench/bench_quality_classifier.py --model en=models/quality-en \\
        --model zh=models/quality-zh [--spam en=models/spam-en --spam zh=models/spam-zh]

The pages of ../shared/corpora/warc_samples (never used for training) are read and cleaned
as recipes/web.yaml does, their language identified, then judged two ways, document by
document:

- heuristics: gopher_repetition, gopher_quality, c4_quality, fineweb_quality and ad_filter
  with their defaults (each decision is the first rule that fires);
- classifier: `classify` with the quality model (keep: [reference], --min-score) and, if
  given, the spam models (reject: [spam]).

It prints the counts and every page on which the two disagree (URL, title, the start of the
text, the reasons), so a reader can judge who is right.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

from corpuskit import registry
from corpuskit.recipe import InputSpec
from corpuskit.schema import REASON_COLUMN

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
CLEANING = [
    ("fix_unicode", {"form": "NFKC"}),
    ("clean_text", {}),
    ("normalize_punctuation", {}),
    ("mask_pii", {}),
    ("length_filter", {"min_chars": 200}),
    ("language", {}),
]
P_REFERENCE = (
    pl.col("quality_class_scores")
    .list.eval(
        pl.element().filter(pl.element().struct.field("class") == "reference").struct.field("score")
    )
    .list.first()
)
HEURISTICS = [
    ("gopher_repetition", {}),
    ("gopher_quality", {}),
    ("c4_quality", {}),
    ("fineweb_quality", {}),
    ("ad_filter", {}),
]


def step(name: str, config: dict) -> object:
    cls = registry.steps()[name]
    s = cls(cls.Config.model_validate(config), name=name)
    s.validate()
    s.ensure_ready()
    return s


def run(steps: list[tuple[str, dict]], docs: pl.DataFrame) -> pl.DataFrame:
    """Apply steps in order; returns the documents with `reason` (null: kept by all)."""
    out = docs.with_columns(reason=pl.lit(None, dtype=pl.String()))
    for name, config in steps:
        s = step(name, config)
        result = s.process(out.drop("reason")).batch  # type: ignore[attr-defined]
        cols = [c for c in result.columns if c not in out.columns and c != REASON_COLUMN]
        new = result[REASON_COLUMN] if REASON_COLUMN in result.columns else None
        out = out.with_columns(result.select(cols))
        if new is not None:
            out = out.with_columns(reason=pl.coalesce("reason", new))
    return out


def read_pages() -> pl.DataFrame:
    paths = sorted((CORPORA / "warc_samples").glob("*.warc.gz"))
    reader = registry.get_reader("warc")(InputSpec(path="-", format="warc"), 0)
    _, units = reader.plan(paths, 32 << 20)
    return pl.concat([b.documents for u in units for b in reader.read(u) if b.documents.height])


def parse_models(items: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="LANG=DIR (quality)")
    parser.add_argument("--spam", action="append", default=[], help="LANG=DIR (spam)")
    parser.add_argument("--min-score", type=float, default=0.5, help="P(reference) to keep")
    parser.add_argument("--chars", type=int, default=160)
    args = parser.parse_args()
    if not CORPORA.exists():
        sys.exit(f"{CORPORA} is absent")
    pages = read_pages()
    cleaned = run(CLEANING, pages)
    docs = cleaned.filter(pl.col("reason").is_null()).drop("reason")
    print(f"{pages.height} pages read, {docs.height} left after cleaning, length and language")
    heuristic = run(HEURISTICS, docs)
    classify = [
        ("classify", {"model": parse_models(args.model), "keep": ["reference"],
                      "min_score": args.min_score, "prefix": "quality_", "scores": True}),
    ]  # fmt: skip
    if args.spam:
        classify.insert(
            0,
            ("classify", {"model": parse_models(args.spam), "reject": ["spam"], "prefix": "spam_"}),
        )
    model = run(classify, docs)
    both = heuristic.select("id", "url", "title", "text", "lang", heuristics="reason").join(
        model.select("id", p_reference=P_REFERENCE, classifier="reason"), on="id"
    )
    kept_h = both["heuristics"].is_null()
    kept_m = both["classifier"].is_null()
    print(
        f"heuristics keep {int(kept_h.sum())}, classifier keeps {int(kept_m.sum())}, "
        f"both {int((kept_h & kept_m).sum())}, neither {int((~kept_h & ~kept_m).sum())}"
    )
    for title, mask in (
        ("kept by the classifier, dropped by the heuristics", kept_m & ~kept_h),
        ("dropped by the classifier, kept by the heuristics", ~kept_m & kept_h),
    ):
        rows = both.filter(mask)
        print(f"\n## {title}: {rows.height}")
        for r in rows.iter_rows(named=True):
            text = " ".join(r["text"].split())[: args.chars]
            print(
                f"- [{r['lang']}] P(reference)={r['p_reference'] or 0:.2f} {r['url']}\n"
                f"  title: {r['title']!r}\n  heuristics: {r['heuristics']}; "
                f"classifier: {r['classifier']}\n  text: {text}"
            )


if __name__ == "__main__":
    main()
