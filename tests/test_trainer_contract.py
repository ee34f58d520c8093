"""The trainer interface, proven by both plugins: prepare -> fit -> evaluate -> generate.

One tiny corpus of translation pairs made by the real pipeline (a TSV through
`corpuskit run`, the English side in meta) feeds the `gpt` plugin (a language model of
the Chinese text) and the `seq2seq` plugin (English -> Chinese) through the very same
commands; the command line never learns which trainer it drives.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("corpuskit_gpt")
pytest.importorskip("corpuskit_seq2seq")

from click.testing import CliRunner

from corpuskit.cli import main
from corpuskit.engine.run import run_recipe
from corpuskit.recipe import recipe_from_dict

DIGITS = "零一二三四五六七八九"
NAMES = {"apples": "苹果", "books": "书", "cats": "猫", "cups": "杯子", "pens": "笔"}


def pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """'I have 3 cats.' <-> '我有三只猫。' style pairs over a small vocabulary."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        count = rng.randint(1, 9)
        thing = rng.choice(list(NAMES))
        who, zh_who = rng.choice([("I", "我"), ("You", "你"), ("We", "我们")])
        out.append((f"{who} have {count} {thing}.", f"{zh_who}有{DIGITS[count]}个{NAMES[thing]}。"))
    return out


def pair_corpus(folder: Path, rows: list[tuple[str, str]], steps: list[dict]) -> Path:
    """`rows` as a TSV through `corpuskit run`: Chinese as the text, English as meta.en."""
    tsv = folder / "pairs.tsv"
    tsv.write_text("".join(f"{en}\t{zh}\n" for en, zh in rows), encoding="utf-8")
    spec = {"path": str(tsv), "format": "tsv", "columns": ["en", "zh"], "text_field": "zh"}
    recipe = {"input": spec, "output": {"path": str(folder / "out")}, "steps": steps}
    run_recipe(recipe_from_dict({**recipe, "executor": {"workers": 1}}))
    return folder / "out"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    steps = [{"exact_dedup": {"with_fields": ["en"]}}]
    return pair_corpus(tmp_path_factory.mktemp("pairs"), pairs(240), steps)


COMMON = {
    "split": {"val": 0.15, "test": 0.15},
    "device": "cpu",
    "threads": 1,
    "progress": "false",
    "max_iters": 24,
    "warmup_iters": 2,
    "eval_interval": 12,
    "checkpoint_interval": 12,
    "log_interval": 3,
    "tensorboard": False,
}
CONFIGS = {
    "gpt": {
        "trainer": "gpt",
        "tokenizer": "char",
        "n_layer": 1,
        "n_head": 2,
        "n_embd": 32,
        "block_size": 16,
        "batch_size": 8,
        "learning_rate": 3e-3,
        "min_lr": 3e-4,
        "eval_iters": 2,
        "final_eval_iters": 4,
        "sample_tokens": 8,
    },
    "seq2seq": {
        "trainer": "seq2seq",
        "source_field": "en",
        "target_field": "text",
        "vocab_size": 400,
        "d_model": 32,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "n_head": 2,
        "d_ff": 64,
        "max_source_length": 16,
        "max_target_length": 16,
        "batch_size": 16,
        # an encoder-decoder needs a few more updates than the LM before it says anything
        # but </s>: at 3e-3 for 12 steps its translations are empty
        "learning_rate": 1e-2,
        "min_lr": 1e-3,
        "eval_batches": 2,
        "eval_bleu_docs": 8,
        "final_bleu_docs": 8,
        "num_beams": 2,
        "samples": 2,
    },
}
# What each trainer's `corpuskit eval` reports beyond the loss, and the model class that
# transformers loads its save_pretrained folder with.
EXPECTED = {
    "gpt": ({"val_ppl", "val_acc", "test_loss", "samples"}, "AutoModelForCausalLM"),
    "seq2seq": (
        {"val_ppl", "val_acc", "test_loss", "val_bleu_greedy", "val_chrf_beam2", "samples"},
        "AutoModelForSeq2SeqLM",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["gpt", "seq2seq"])
def test_each_trainer_goes_through_the_same_commands(trainer, corpus, tmp_path):
    import transformers

    config = tmp_path / f"{trainer}.yaml"
    run_dir = tmp_path / "run"
    raw = {**COMMON, **CONFIGS[trainer], "data": str(corpus), "run_dir": str(run_dir)}
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    runner = CliRunner()

    r = runner.invoke(main, ["trainers"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and trainer in r.output

    # prepare + fit
    r = runner.invoke(main, ["train", str(config)])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output.strip().splitlines()[-1])
    assert summary["steps"] == 24 and summary["val_loss"] > 0
    for name in ("config.yaml", "metrics.jsonl", "loss.png", "summary.json", "tokenizer.json"):
        assert (run_dir / name).exists(), name
    assert (run_dir / "checkpoints" / "latest").read_text() == "step-0000024"
    auto, cls = getattr(transformers, EXPECTED[trainer][1]), transformers.AutoTokenizer
    model = auto.from_pretrained(run_dir / "model")
    assert model.config.vocab_size >= len(cls.from_pretrained(run_dir / "model"))

    # evaluate: the trainer's metrics through the generic command
    r = runner.invoke(main, ["eval", str(run_dir), "--json", "--samples", "2"])
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.output[r.output.index("{") :])
    assert {"val_loss", *EXPECTED[trainer][0]} <= set(metrics)
    assert len(metrics["samples"]) == 2

    # generate
    prompt = "I have 3 cats." if trainer == "seq2seq" else "我有"
    r = runner.invoke(main, ["generate", str(run_dir), "--prompt", prompt, "--max-new-tokens", "8"])
    assert r.exit_code == 0, r.output
    assert r.output.strip()

    # a flag the trainer does not take is refused by name, never ignored
    r = runner.invoke(main, ["generate", str(run_dir), "--prompt", prompt, "--num-beams", "2"])
    if trainer == "gpt":
        assert r.exit_code == 2 and "trainer 'gpt' does not take --num-beams" in r.output
    else:
        assert r.exit_code == 0, r.output
