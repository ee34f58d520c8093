"""English -> Chinese on cmn_eng: the seq2seq trainer against a retrieval baseline.

    python bench/bench_seq2seq.py                      # prepare (if needed), train, score
    python bench/bench_seq2seq.py --no-train           # score the run folder as it is
    python bench/bench_seq2seq.py max_iters=500        # key=value overrides of the config

Both sides see the same pairs: the output of recipes/cmn_eng.yaml, split by document id
as recipes/cmn_eng-seq2seq.yaml says. On the held-out test split:

- retrieval: for each test source, the target of the most similar training source by
  character n-gram TF-IDF (cosine). The n-gram range and analyzer are picked on the
  validation split among eight settings, so the baseline is tuned too;
- model: the trained encoder-decoder, greedy and beam search.

Prints BLEU (sacrebleu, tokenize=zh) and chrF of each, the ratio model / retrieval, the
training time (wall and CPU seconds of the whole training call and of the training loop
alone, torch threads, and the load average while it ran) and the decoding speed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, table

from corpuskit.engine.run import run_recipe
from corpuskit.recipe import load_recipe
from corpuskit.training.base import load_train_config
from corpuskit.training.config import parse_overrides
from corpuskit.training.launch import open_data, run_training

SETTINGS = [(a, r) for a in ("char", "char_wb") for r in ((1, 3), (2, 4), (1, 4), (2, 5))]


def pairs(data, split: str) -> tuple[list[str], list[str]]:
    from corpuskit_seq2seq.pairs import held_out

    return held_out(data, split, None)


def retrieve(train: tuple[list[str], list[str]], queries: list[str], setting) -> list[str]:
    """The training target of each query's nearest training source (TF-IDF cosine)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyzer, ngrams = setting
    vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True)
    index = vec.fit_transform(train[0])
    best = np.asarray((vec.transform(queries) @ index.T).argmax(axis=1)).ravel()
    return [train[1][i] for i in best]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(ROOT / "recipes" / "cmn_eng-seq2seq.yaml"))
    ap.add_argument("--recipe", default=str(ROOT / "recipes" / "cmn_eng.yaml"))
    ap.add_argument("--no-train", action="store_true", help="score the existing run folder")
    ap.add_argument("--num-beams", type=int, default=None, help="default: the config's")
    ap.add_argument("overrides", nargs="*", help="key=value overrides of the training config")
    args = ap.parse_args()

    from corpuskit_seq2seq.evaluate import scores, translate

    cfg = load_train_config(args.config, parse_overrides(args.overrides))
    if not Path(cfg.data).exists():
        print(f"preparing {cfg.data} with {args.recipe}", flush=True)
        run_recipe(load_recipe(args.recipe, {"output": cfg.data}))
    data = open_data(cfg)
    train_time: dict = {}
    if not args.no_train:
        t0, c0, load0 = time.perf_counter(), time.process_time(), os.getloadavg()[0]
        run_training(cfg)
        train_time = {
            "wall_s": round(time.perf_counter() - t0, 1),
            "cpu_s": round(time.process_time() - c0, 1),
            "load_start": load0,
            "load_end": round(os.getloadavg()[0], 2),
        }
    run_dir = Path(cfg.run_dir)
    summary_file = run_dir / "summary.json"
    if summary_file.exists():  # the training loop alone: wall, CPU seconds, threads, steps
        summary = json.loads(summary_file.read_text())
        train_time.update(
            {
                "loop_s": summary["seconds"],
                "loop_cpu_s": summary.get("cpu_seconds"),
                "threads": summary.get("threads"),
                "steps": summary["steps"],
                "stopped": summary.get("stopped_early"),
            }
        )

    train, val, test = pairs(data, "train"), pairs(data, "val"), pairs(data, "test")
    print(f"pairs: train {len(train[0]):,}, val {len(val[0]):,}, test {len(test[0]):,}")
    tokenize = "zh"

    t0 = time.perf_counter()
    tuned = {s: scores(retrieve(train, val[0], s), val[1], tokenize)["chrf"] for s in SETTINGS}
    setting = max(tuned, key=tuned.get)
    retrieved = retrieve(train, test[0], setting)
    rows = [
        {
            "system": f"retrieval ({setting[0]} {setting[1][0]}-{setting[1][1]}-grams)",
            **{k: round(v, 2) for k, v in scores(retrieved, test[1], tokenize).items()},
            "seconds": round(time.perf_counter() - t0, 1),
        }
    ]

    trainer = __import__("corpuskit_seq2seq").Seq2SeqTrainer(cfg)
    model, tok, env, memory = trainer._load(run_dir, None)
    sources = trainer.inputs(test[0], memory)
    beams = args.num_beams or cfg.num_beams
    outputs = {}
    for name, width in (("greedy", 1), (f"beam {beams}", beams)):
        t0 = time.perf_counter()
        outputs[name] = translate(model, tok, sources, cfg, env.device, width)
        seconds = time.perf_counter() - t0
        rows.append(
            {
                "system": f"seq2seq {name}",
                **{k: round(v, 2) for k, v in scores(outputs[name], test[1], tokenize).items()},
                "seconds": round(seconds, 1),
            }
        )
    base = rows[0]
    for row in rows[1:]:
        row["bleu_ratio"] = round(row["bleu"] / max(base["bleu"], 1e-9), 3)
        row["chrf_ratio"] = round(row["chrf"] / max(base["chrf"], 1e-9), 3)
    base["bleu_ratio"] = base["chrf_ratio"] = 1.0
    print(table(rows))
    print(f"training: {json.dumps(train_time)}; run {run_dir}")
    print(f"load average now: {os.getloadavg()}, cores: {os.cpu_count()}")
    for i in range(5):
        print(f"\n{test[0][i]}\n  reference: {test[1][i]}\n  retrieval: {retrieved[i]}")
        print(f"  seq2seq:   {outputs[f'beam {beams}'][i]}")


if __name__ == "__main__":
    main()
