"""The seq2seq trainer plugin (plugins/seq2seq): tokenizer, pair shards, batches, loss,
scores, both architectures, DDP and exact resume.

Skipped where torch or the plugin is not installed (`pip install -e plugins/seq2seq`).
"""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("corpuskit_seq2seq")

from corpuskit_gpt.monitor import read_metrics  # noqa: E402
from corpuskit_seq2seq.average import average_weights, checkpoints_before  # noqa: E402
from corpuskit_seq2seq.batches import IGNORE, PairBatches, collate  # noqa: E402
from corpuskit_seq2seq.config import Seq2SeqConfig  # noqa: E402
from corpuskit_seq2seq.evaluate import bleu_tokenizer, scores  # noqa: E402
from corpuskit_seq2seq.memory import TranslationMemory  # noqa: E402
from corpuskit_seq2seq.model import build_model, pair_loss  # noqa: E402
from corpuskit_seq2seq.pairs import ensure_pairs, held_out, model_inputs  # noqa: E402
from corpuskit_seq2seq.schedule import learning_rate  # noqa: E402
from corpuskit_seq2seq.tokenizer import (  # noqa: E402
    decode,
    encode,
    save_tokenizer,
    special_ids,
    train_tokenizer,
)
from pydantic import ValidationError  # noqa: E402

from corpuskit.training import CorpusData, SplitConfig, TrainConfigError  # noqa: E402
from corpuskit.training.base import validate_config  # noqa: E402
from corpuskit.training.collate import Ragged  # noqa: E402
from corpuskit.training.launch import LaunchOptions, run_training  # noqa: E402
from tests.conftest import corpuskit_cmd, needs_shared  # noqa: E402
from tests.test_trainer_contract import pair_corpus, pairs  # noqa: E402

TINY = {
    "trainer": "seq2seq",
    "source_field": "en",
    "target_field": "text",
    "split": {"val": 0.15, "test": 0.15},
    "vocab_size": 400,
    "d_model": 32,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "n_head": 2,
    "d_ff": 64,
    "dropout": 0.0,
    "max_source_length": 16,
    "max_target_length": 16,
    "batch_size": 8,
    "gradient_accumulation_steps": 2,
    "learning_rate": 3e-3,
    "min_lr": 3e-4,
    "warmup_iters": 2,
    "max_iters": 20,
    "lr_decay_iters": 20,
    "eval_interval": 10,
    "eval_batches": 2,
    "eval_bleu_docs": 6,
    "final_bleu_docs": 6,
    "num_beams": 2,
    "checkpoint_interval": 10,
    "log_interval": 1,
    "samples": 1,
    "device": "cpu",
    "threads": 1,
    "progress": "false",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """300 synthetic translation pairs through the pipeline, and one without a source."""
    rows = [*pairs(300, seed=1), ("", "空的英文。")]
    return pair_corpus(tmp_path_factory.mktemp("s2s"), rows, [])


def config(corpus: Path, run_dir: Path, **overrides) -> Seq2SeqConfig:
    cfg = validate_config({**TINY, "data": str(corpus), "run_dir": str(run_dir), **overrides})
    assert isinstance(cfg, Seq2SeqConfig)
    return cfg


def losses(run_dir: Path, key: str = "train_loss") -> dict[int, float]:
    return {r["step"]: r[key] for r in read_metrics(run_dir) if key in r and not r.get("final")}


# --- tokenizer, shards, batches ------------------------------------------------


def test_tokenizer_keeps_han_characters_whole_and_falls_back_to_bytes(tmp_path):
    from transformers import AutoTokenizer

    tok = train_tokenizer(iter(["我有三个苹果。", "I have three apples.", "你好"] * 5), 300, 1)
    enc = tok.encode("我有苹果 apples", add_special_tokens=False)
    assert enc.tokens[:4] == ["我", "有", "苹", "果"]
    unseen = "鬱𠀀 é"  # never seen in training: byte tokens, decoded back exactly
    ids = encode(tok, [unseen])[0]
    assert tok.token_to_id("<unk>") not in ids
    assert decode(tok, [ids]) == [unseen]
    save_tokenizer(tok, tmp_path, 32)
    auto = AutoTokenizer.from_pretrained(tmp_path)
    ids = auto("我有苹果").input_ids
    assert ids[-1] == special_ids()["eos"] == auto.eos_token_id
    assert auto.pad_token_id == special_ids()["pad"]
    assert auto.decode(ids, skip_special_tokens=True) == "我有苹果"


def test_pair_shards_skip_empty_sides_and_are_cached(corpus, tmp_path):
    data = CorpusData(
        corpus, SplitConfig(val=0.15, test=0.15), fields={"source": "en", "target": "text"}
    )
    tok = train_tokenizer((t for en, zh in pairs(50) for t in (en, zh)), 300, 1)
    shards, built = ensure_pairs(data, tok, tmp_path, "translate: ", (16, 16))
    assert built
    m = shards.meta
    assert (
        sum(m["pairs"].values()) + sum(m["skipped_empty"].values())
        == data.counts()["train"] + data.counts()["val"] + data.counts()["test"]
    )
    assert sum(m["skipped_empty"].values()) == 1
    src, tgt = shards.sides("train")
    assert len(src) == len(tgt) == m["pairs"]["train"]
    assert decode(tok, [src.row(0).tolist()])[0].startswith("translate:")
    again, built = ensure_pairs(data, tok, tmp_path, "translate: ", (16, 16))
    assert not built and again.folder == shards.folder
    other, built = ensure_pairs(data, tok, tmp_path, "", (16, 16))
    assert built and other.folder != shards.folder
    sources, refs = held_out(data, "val", 5)
    assert len(sources) == 5 and all(s.startswith(("I ", "You ", "We ")) for s in sources)
    every = held_out(data, "val", None)
    assert len(every[0]) == m["pairs"]["val"]  # spread over the split, ends included
    assert (sources[0], sources[-1]) == (every[0][0], every[0][-1])
    assert all(r.endswith("。") for r in refs)  # the corpus text itself


def test_translation_memory_never_matches_a_training_pair_to_itself(tmp_path):
    sources = ["I have 3 cats.", "I have 3 cats.", "You have 5 books.", "We have 2 pens."]
    targets = ["我有三只猫。", "我有三个猫。", "你有五本书。", "我们有两支笔。"]
    memory = TranslationMemory(sources, targets)
    # a training pair finds the other translation of its source, never itself
    assert memory.matches(sources[:2], targets[:2]) == ["我有三个猫。", "我有三只猫。"]
    # a new source finds the nearest training pair
    assert memory.matches(["You have 6 books."]) == ["你有五本书。"]
    assert model_inputs(["You have 6 books."], "translate: ", memory) == [
        "translate: You have 6 books. <sep> 你有五本书。"
    ]
    memory.save(tmp_path)
    again = TranslationMemory.load(tmp_path)
    assert again.fingerprint() == memory.fingerprint()
    assert TranslationMemory.load(tmp_path / "nothing") is None


def test_collate_appends_eos_and_ignores_padding():
    cfg = Seq2SeqConfig(
        trainer="seq2seq",
        source_field="en",
        target_field="text",
        max_source_length=4,
        max_target_length=3,
    )
    src = Ragged.from_lists([[7, 8, 9, 10, 11], [7]], np.uint16)
    tgt = Ragged.from_lists([[20], [21, 22, 23]], np.uint16)
    batch = collate(src, tgt, np.array([0, 1]), cfg, torch.device("cpu"))
    eos = special_ids()["eos"]
    assert batch["input_ids"].tolist() == [[7, 8, 9, eos], [7, eos, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert batch["labels"].tolist() == [[20, eos, IGNORE], [21, 22, eos]]


def test_any_world_size_sees_the_same_global_batch_and_an_epoch_sees_every_pair():
    lengths = np.random.default_rng(0).integers(1, 30, 203)
    src = Ragged.from_lists([[5] * n for n in lengths], np.uint16)
    cfg = Seq2SeqConfig(
        trainer="seq2seq",
        source_field="en",
        target_field="text",
        batch_size=5,
        gradient_accumulation_steps=4,
        length_pool=3,
    )
    one = PairBatches(src, src, cfg, 0, 1, torch.device("cpu"))
    two = [PairBatches(src, src, cfg, r, 2, torch.device("cpu")) for r in range(2)]
    assert one.steps_per_epoch == 10
    for step in (0, 3, 12):
        glob = np.concatenate([one.rows(step, m) for m in range(4)])
        split = np.concatenate([two[r].rows(step, m) for m in range(2) for r in range(2)])
        assert sorted(glob) == sorted(split)
    epoch = np.concatenate([one.rows(s, m) for s in range(10) for m in range(4)])
    assert len(set(epoch.tolist())) == 200  # each pair once (3 left over for next epochs)
    assert not np.array_equal(one.rows(0, 0), one.rows(10, 0))  # the next epoch reshuffles
    # sorted pools: a micro-batch holds pairs of similar length
    spread = np.mean([np.ptp(lengths[one.rows(s, 0)]) for s in range(10)])
    assert spread < 0.5 * np.ptp(lengths)


def test_nproc_splits_a_micro_batch_when_the_accumulation_steps_do_not_divide():
    """The shipped configs (gradient_accumulation_steps 1) run with --nproc 2: each rank
    takes half of each micro-batch, so the global batch stays the same."""
    src = Ragged.from_lists([[5] * (i % 17 + 1) for i in range(120)], np.uint16)
    cfg = Seq2SeqConfig(trainer="seq2seq", source_field="en", target_field="text", batch_size=6)
    one = PairBatches(src, src, cfg, 0, 1, torch.device("cpu"))
    two = [PairBatches(src, src, cfg, r, 2, torch.device("cpu")) for r in range(2)]
    assert [b.micro for b in two] == [3, 3]
    for step in (0, 5, 25):
        halves = np.concatenate([two[r].rows(step, 0) for r in range(2)])
        assert halves.tolist() == one.rows(step, 0).tolist()
    with pytest.raises(TrainConfigError, match="cannot be split evenly over 4 processes"):
        PairBatches(src, src, cfg.model_copy(update={"batch_size": 5}), 0, 4, torch.device("cpu"))


def test_config_is_validated():
    base = {"trainer": "seq2seq", "source_field": "en", "target_field": "text"}
    with pytest.raises(ValidationError, match="multiple of n_head"):
        Seq2SeqConfig(**base, d_model=30, n_head=4)
    with pytest.raises(ValidationError, match="needs eval_bleu_docs"):
        Seq2SeqConfig(**base, best_metric="bleu", eval_bleu_docs=0)
    with pytest.raises(ValidationError, match="source_field"):
        Seq2SeqConfig(trainer="seq2seq", target_field="text")


def test_learning_rate_schedules():
    from corpuskit_gpt.model import lr_at

    cosine = Seq2SeqConfig(**TINY)
    assert [learning_rate(s, cosine) for s in range(25)] == [lr_at(s, cosine) for s in range(25)]
    inv = Seq2SeqConfig(**{**TINY, "lr_schedule": "inverse_sqrt", "warmup_iters": 4})
    rates = [learning_rate(s, inv) for s in range(2000)]
    assert rates[:4] == [lr_at(s, inv) for s in range(4)]  # the same warmup
    assert rates[3] == pytest.approx(rates[4], rel=0.25)  # no jump at its end
    assert rates[15] == pytest.approx(inv.learning_rate * (4 / 16) ** 0.5)
    assert all(a >= b for a, b in itertools.pairwise(rates[4:]))
    assert rates[-1] == inv.min_lr  # floored; and no end step: max_iters does not matter
    longer = inv.model_copy(update={"max_iters": 10_000})
    assert learning_rate(500, longer) == rates[500]
    with pytest.raises(ValidationError, match="average_checkpoints 3 needs"):
        Seq2SeqConfig(**{**TINY, "average_checkpoints": 3, "keep_checkpoints": 2})


def test_checkpoint_averaging_takes_the_mean_of_the_newest_earlier_checkpoints(tmp_path):
    cfg = Seq2SeqConfig(**TINY)
    models = []
    for i, step in enumerate((10, 20, 30, 40)):
        model = build_model(cfg.model_copy(update={"seed": i}), 50)
        folder = tmp_path / "checkpoints" / f"step-{step:07d}"
        model.save_pretrained(folder)
        (folder / "state.json").write_text(json.dumps({"step": step}))
        models.append(model)
    (tmp_path / "checkpoints" / ".step-0000050.tmp").mkdir()  # an unfinished one: ignored
    picked = checkpoints_before(tmp_path, 40, 2)
    assert [p.name for p in picked] == ["step-0000020", "step-0000030"]
    assert checkpoints_before(tmp_path, 40, 0) == []
    end = models[3]
    expected = {
        n: (p + dict(models[1].named_parameters())[n] + dict(models[2].named_parameters())[n]) / 3
        for n, p in end.named_parameters()
    }
    average_weights(end, picked)
    for name, p in end.named_parameters():
        assert torch.allclose(p, expected[name], atol=1e-6), name
    # tied embeddings stay tied
    assert end.lm_head.weight.data_ptr() == end.shared.weight.data_ptr()


def test_bleu_tokenizer_and_scores():
    assert bleu_tokenizer("auto", ["我有三个苹果。", "你好。"]) == "zh"
    assert bleu_tokenizer("auto", ["I have three apples."]) == "13a"
    assert bleu_tokenizer("char", ["我"]) == "char"
    perfect = scores(["我有三个苹果。"], ["我有三个苹果。"], "zh")
    assert perfect["bleu"] == pytest.approx(100) and perfect["chrf"] == pytest.approx(100)
    # without the zh tokenizer a Chinese sentence is one word: one wrong character = 0 BLEU
    assert scores(["我有三个梨。"], ["我有三个苹果。"], "13a")["bleu"] == 0
    assert scores(["我有三个梨。"], ["我有三个苹果。"], "zh")["bleu"] > 20


@pytest.mark.parametrize("architecture", ["t5", "bart"])
def test_loss_ignores_padding_and_both_architectures_load_back(architecture, tmp_path):
    from transformers import AutoModelForSeq2SeqLM

    cfg = Seq2SeqConfig(
        **{**TINY, "architecture": architecture, "dropout": 0.0},
    )
    model = build_model(cfg, 50).eval()
    src = Ragged.from_lists([[5, 6, 7], [8]], np.uint16)
    tgt = Ragged.from_lists([[9, 10], [11, 12, 13, 14]], np.uint16)
    both = collate(src, tgt, np.array([0, 1]), cfg, torch.device("cpu"))
    alone = collate(src, tgt, np.array([0]), cfg, torch.device("cpu"))
    with torch.no_grad():
        _, nll_both, _ = pair_loss(model, both)
        _, nll_first, _ = pair_loss(model, alone)
        _, nll_second, _ = pair_loss(
            model, collate(src, tgt, np.array([1]), cfg, torch.device("cpu"))
        )
    assert nll_both.item() == pytest.approx(nll_first.item() + nll_second.item(), rel=1e-4)
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert pair_loss(loaded, both)[1].item() == pytest.approx(nll_both.item(), rel=1e-5)


# --- training runs -------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory) -> Path:
    """One uninterrupted single-process run of the tiny config, 20 steps."""
    run_dir = tmp_path_factory.mktemp("s2sref") / "run"
    run_training(config(corpus, run_dir))
    return run_dir


@pytest.mark.slow
def test_a_run_learns_and_leaves_scores_samples_and_checkpoints(reference):
    train = losses(reference)
    assert sorted(train) == list(range(1, 21))
    assert train[20] < train[1] - 1.0
    val = [r for r in read_metrics(reference) if "val_bleu" in r]
    assert [r["step"] for r in val] == [10, 20] and val[-1].get("final")
    summary = json.loads((reference / "summary.json").read_text())
    assert summary["steps"] == 20 and summary["best_step"] in (10, 20)
    assert "model:" in (reference / "samples.txt").read_text()
    assert (reference / "best" / "model.safetensors").exists()
    assert list((reference / "tb").glob("events.out.tfevents.*"))
    assert (reference / "loss.png").stat().st_size > 1000
    pairs_meta = json.loads((reference / "pairs.json").read_text())
    assert sum(pairs_meta["skipped_empty"].values()) == 1


@pytest.mark.slow
def test_two_ddp_processes_match_one_and_a_resumed_run_matches_a_straight_one(
    corpus, reference, tmp_path
):
    """2 gloo ranks x 1 micro-step == 1 process x 2; stopping at a checkpoint and going on
    gives the straight run's losses (same step schedule: lr_decay_iters is fixed)."""
    run_dir = tmp_path / "ddp"
    run_training(config(corpus, run_dir), LaunchOptions(nproc=2))
    one, two = losses(reference), losses(run_dir)
    for step in one:
        assert two[step] == pytest.approx(one[step], abs=5e-5), step
    with pytest.raises(TrainConfigError, match="drop_data_position=true"):
        run_training(config(corpus, run_dir, max_iters=24))
    # with dropout, so the restored RNG streams matter too
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    run_training(config(corpus, straight, dropout=0.1))
    run_training(config(corpus, halves, dropout=0.1, max_iters=10))
    run_training(config(corpus, halves, dropout=0.1))  # resume: auto, from step 10
    ref, resumed = losses(straight), losses(halves)
    assert sorted(resumed) == list(range(1, 21))
    for step in range(11, 21):
        assert resumed[step] == pytest.approx(ref[step], abs=1e-6), step


@pytest.mark.slow
def test_fine_tuning_starts_from_a_checkpoint(corpus, reference, tmp_path):
    tuned = tmp_path / "tuned"
    run_training(config(corpus, tuned, init_from=str(reference / "model"), max_iters=2))
    fresh, start = losses(reference), losses(tuned)
    assert start[1] < fresh[1] - 1.0  # it starts where the reference ended, not from scratch
    assert (tuned / "tokenizer.json").read_text() == (reference / "tokenizer.json").read_text()
    with pytest.raises(TrainConfigError, match="not a saved model folder"):
        run_training(config(corpus, tmp_path / "x", init_from=str(tmp_path)))


@pytest.mark.slow
def test_max_minutes_ends_the_loop_and_the_run_still_evaluates_and_saves(corpus, tmp_path):
    run_dir = tmp_path / "timed"
    summary = run_training(config(corpus, run_dir, max_minutes=1e-6, eval_interval=0))
    assert summary["steps"] == 1 and summary["stopped_early"] == "max_minutes"
    assert "val_bleu" in summary and (run_dir / "model" / "model.safetensors").exists()
    assert json.loads((run_dir / "summary.json").read_text())["stopped_early"] == "max_minutes"


@pytest.mark.slow
def test_a_run_with_a_translation_memory_evaluates_and_generates_with_it(corpus, tmp_path):
    from corpuskit.training.launch import load_run

    run_dir = tmp_path / "tm"
    run_training(
        config(
            corpus,
            run_dir,
            translation_memory=True,
            max_iters=4,
            eval_interval=0,
            lr_schedule="inverse_sqrt",
            checkpoint_interval=1,
            keep_checkpoints=3,
            average_checkpoints=3,
        )
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["averaged"] == ["step-0000002", "step-0000003"]  # with the end, step 4
    assert summary["cpu_seconds"] > 0 and summary["threads"] == 1
    assert (run_dir / "memory.parquet").exists()
    meta = json.loads((run_dir / "pairs.json").read_text())
    assert meta["memory"]
    trainer, data = load_run(run_dir)
    metrics = trainer.evaluate(data, run_dir, ["val"], bleu_docs=4, samples=1)
    assert metrics["val_bleu_docs"] == 4 and "val_bleu_beam2" in metrics
    assert len(trainer.generate(run_dir, "I have 3 cats.", max_new_tokens=4)) == 1
    # the same run without the memory must not keep a stale memory.parquet
    run_training(config(corpus, run_dir, max_iters=2, eval_interval=0, resume="false"))
    assert not (run_dir / "memory.parquet").exists()


@pytest.mark.slow
def test_generation_modes(reference):
    from corpuskit_seq2seq.trainer import Seq2SeqTrainer

    from corpuskit.training.launch import load_run

    trainer, _ = load_run(reference)
    assert isinstance(trainer, Seq2SeqTrainer)
    beam = trainer.generate(reference, "I have 3 cats.", num_beams=2)
    greedy = trainer.generate(reference, "I have 3 cats.", num_beams=1)
    sampled = trainer.generate(reference, "I have 3 cats.", temperature=1.0, num_samples=3, seed=1)
    assert len(beam) == len(greedy) == 1 and len(sampled) == 3
    assert sampled == trainer.generate(
        reference, "I have 3 cats.", temperature=1.0, num_samples=3, seed=1
    )
    with pytest.raises(TrainConfigError, match="needs a source text"):
        trainer.generate(reference, "  ")


@pytest.mark.slow
def test_cmn_eng_recipe_checks_both_sides_and_trains(tmp_path):
    """The real recipe on the first 3,000 Tatoeba pairs, then a few steps of training."""
    needs_shared("cmn_eng")
    import yaml

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "out"
    p = subprocess.run(
        [
            *corpuskit_cmd(),
            "run",
            "recipes/cmn_eng.yaml",
            "--output",
            str(out),
            "--limit",
            "3000",
            "--quiet",
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    import polars as pl

    kept = pl.read_parquet(out / "data" / "*.parquet")
    assert {"lang", "en_lang", "exact_copies"} <= set(kept.columns)
    assert (kept["lang"] == "zh").all() and (kept["en_lang"] == "en").all()
    assert not kept["text"].str.contains(r"[?!,]$").any()  # Chinese punctuation on the target
    raw = yaml.safe_load((root / "recipes" / "cmn_eng-seq2seq.yaml").read_text())
    raw.update(
        TINY
        | {
            "split": raw["split"],
            "data": str(out),
            "run_dir": str(tmp_path / "run"),
            "max_iters": 4,
            "eval_interval": 0,
        }
    )
    summary = run_training(validate_config(raw))
    assert summary["steps"] == 4
