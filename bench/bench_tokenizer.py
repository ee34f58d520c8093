"""Old (byte-level BPE) against new (character BPE with byte fallback) tokenizer on cnews.

    python bench/bench_tokenizer.py                 # 1,000 Chinese news articles, 600 steps
    python bench/bench_tokenizer.py --steps 1500 --vocab 8192

Both sides train the same GPT (same size, steps, batch of tokens, seed) on the same
corpus and split, each with its own tokenizer of the same vocabulary size, and are
scored in bits per character on the validation split:

    bpc = (validation loss in nats per token) x (tokens / characters of the split) / ln 2
    (each document's <|endoftext|> counts as a token and as one character on both sides)

Tokens per character differ between tokenizers; bits per character do not depend on the
tokenization, so they compare the two models fairly. Also reported: characters per token,
the alphabet, and the share of samples holding U+FFFD when sampling without and with the
UTF-8 guard (the byte-level tokenizer lets a sample split a character).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpuskit_gpt.evaluate import generate_ids
from corpuskit_gpt.model import GPT2LMHeadModel
from corpuskit_gpt.tokenizer import Utf8Guard, eot_id, load_tokenizer
from harness import DEFAULT_CORPORA, ROOT, table

from corpuskit.engine.run import run_recipe
from corpuskit.recipe import recipe_from_dict
from corpuskit.training import CorpusData
from corpuskit.training.base import validate_config
from corpuskit.training.launch import LaunchOptions, run_training


def prepare_corpus(corpora: Path, out: Path) -> Path:
    source = corpora / "cnews_subset" / "cnews.val.txt"
    if not source.exists():
        sys.exit(f"{source} is missing: the benchmark needs ../shared/corpora")
    if not (out / "manifest.json").exists():
        recipe = recipe_from_dict({
            "input": {"path": str(source), "format": "labelled_text", "label_field": "label"},
            "output": {"path": str(out)},
            "executor": {"workers": 1},
        })  # fmt: skip
        run_recipe(recipe)
    return out


def fffd_share(run_dir: Path, samples: int, tokens: int, guarded: bool, seed: int) -> float:
    """Share of `samples` unconditional samples holding U+FFFD."""
    tok = load_tokenizer(run_dir / "model")
    model = GPT2LMHeadModel.from_pretrained(run_dir / "model", dtype=torch.float32).eval()
    ids = torch.full((samples, 1), eot_id(tok), dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    guard = Utf8Guard(tok) if guarded else None
    block = model.config.n_positions
    out = generate_ids(model, ids, tokens, block, tok.get_vocab_size(), 1.0, 0, gen, guard)
    texts = [
        guard.decode(tok, row[1:].tolist()) if guard else tok.decode(row[1:].tolist())
        for row in out
    ]
    return sum("\ufffd" in t for t in texts) / len(texts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--samples", type=int, default=32, help="samples for the U+FFFD count")
    ap.add_argument("--coverage", type=float, default=0.9995, help="bpe: character_coverage")
    ap.add_argument("--sides", nargs="+", default=["byte_bpe", "bpe"], help="tokenizers to run")
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "data" / "tokenizer")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = prepare_corpus(args.corpora, args.work / "cnews")
    common = {
        "trainer": "gpt", "data": str(data), "split": {"val": 0.1, "test": 0.0},
        "vocab_size": args.vocab, "n_layer": 4, "n_head": 4, "n_embd": 128,
        "block_size": 128, "batch_size": 8, "max_iters": args.steps,
        "learning_rate": 2e-3, "min_lr": 2e-4, "warmup_iters": 50, "dropout": 0.0,
        "eval_interval": 0, "final_eval_iters": None, "checkpoint_interval": 0,
        "log_interval": 50, "sample_tokens": 0, "bleu_docs": 0, "device": "cpu",
        "compile": "false", "threads": args.threads, "progress": "false",
        "tensorboard": False, "resume": "false", "character_coverage": args.coverage,
    }  # fmt: skip
    corpus = CorpusData(data, validate_config(common).split)
    val_chars = sum(len(t) for batch in corpus.texts("val") for t in batch)
    rows, results = [], {}
    for name in args.sides:
        run_dir = args.work / f"run-{name}"
        shutil.rmtree(run_dir, ignore_errors=True)
        summary = run_training(
            validate_config({**common, "tokenizer": name, "run_dir": str(run_dir)}),
            LaunchOptions(),
        )
        meta = json.loads((run_dir / "tokens.json").read_text())
        docs = meta["documents"]["val"]
        val_tokens = meta["tokens"]["val"] - docs  # without <|endoftext|>
        # val_loss is the mean over the split's tokens, each document's <|endoftext|>
        # included: it counts as one character (the boundary) on both sides.
        bpc = summary["val_loss"] * meta["tokens"]["val"] / (val_chars + docs) / math.log(2)
        tok = load_tokenizer(run_dir)
        result = {
            "vocab": tok.get_vocab_size(),
            "chars_per_token": val_chars / val_tokens,
            "val_loss_per_token": summary["val_loss"],
            "bits_per_char": bpc,
            "fffd_unguarded": fffd_share(run_dir, args.samples, 100, False, 1),
            "fffd_guarded": fffd_share(run_dir, args.samples, 100, True, 1),
            "seconds": summary["seconds"],
        }
        results[name] = result
        rows.append({
            "tokenizer": name, "vocab": result["vocab"],
            "chars/token": f"{result['chars_per_token']:.3f}",
            "val nats/token": f"{result['val_loss_per_token']:.4f}",
            "bits/char": f"{bpc:.4f}",
            "U+FFFD samples (unguarded)": f"{100 * result['fffd_unguarded']:.0f}%",
            "U+FFFD samples (guarded)": f"{100 * result['fffd_guarded']:.0f}%",
            "train s": result["seconds"],
        })  # fmt: skip
        print(json.dumps({name: result}), flush=True)
    print(
        f"\ncnews (1,000 articles, val 10% = {val_chars:,} characters), GPT 4x128, "
        f"{args.steps} steps of 8 x 128 tokens, vocabulary {args.vocab}, "
        f"{args.threads} thread(s)"
    )
    print(table(rows))
    ratio = None
    if {"bpe", "byte_bpe"} <= set(results):
        ratio = results["bpe"]["bits_per_char"] / results["byte_bpe"]["bits_per_char"]
        print(f"\nbits per character, new / old: {ratio:.3f} (bpe coverage {args.coverage})")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
