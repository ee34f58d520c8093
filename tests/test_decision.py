"""Binary decision thresholds: chosen on validation, saved, applied by eval and classify."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from corpuskit.cli import main
from corpuskit.labelling.classifier import TextClassifier
from corpuskit.labelling.decision import Threshold, choose_threshold, macro_f1_by_cut
from corpuskit.labelling.evaluate import score
from corpuskit.steps.classify import Classify, ClassifyConfig

POS = "great lovely clean friendly quiet perfect helpful comfortable".split()
NEG = "dirty rude noisy broken awful slow smelly cold".split()
FILLER = "the room hotel staff breakfast night stay we was and very".split()


def macro_f1_at(truth: list[str], probs: np.ndarray, label: str, other: str, cut: float) -> float:
    predicted = [label if p >= cut else other for p in probs]
    return score(truth, predicted, [label, other]).macro_f1


def test_every_cut_scores_like_a_plain_count():
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(1, 25))
        probs = np.round(rng.random(n), 1)  # ties included
        truth = ["a" if x else "b" for x in rng.random(n) < 0.4]
        cuts, f1 = macro_f1_by_cut(np.asarray([t == "a" for t in truth]), probs)
        assert cuts[0] > probs.max() and cuts[-1] == 0.0
        for cut, found in zip(cuts, f1, strict=True):
            assert found == pytest.approx(macro_f1_at(truth, probs, "a", "b", cut))


def test_choose_threshold_prefers_the_argmax_rule_when_it_is_as_good():
    truth = ["a", "b", "a", "b"]
    threshold, best, argmax = choose_threshold(truth, np.array([0.9, 0.4, 0.6, 0.1]), "a", "b")
    assert threshold == Threshold("a", "b", 0.5) and best == argmax == 1.0


def test_choose_threshold_moves_the_cut_for_a_skewed_class():
    # the minority class "a" gets low probabilities: a cut below 0.5 separates it
    probs = np.array([0.45, 0.4, 0.35, 0.2, 0.1, 0.05, 0.3, 0.02])
    truth = ["a", "a", "a", "b", "b", "b", "a", "b"]
    threshold, best, argmax = choose_threshold(truth, probs, "a", "b")
    assert best == 1.0 and argmax < 1.0
    assert 0.2 < threshold.value < 0.3
    assert threshold.top(["b", "a"], np.c_[1 - probs, probs]).tolist() == [
        1 if t == "a" else 0 for t in truth
    ]
    assert threshold.decide({"a": 0.29, "b": 0.71}) == "a"


def reviews(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "negative" if i % 3 == 0 else "positive"
        words = rng.sample(POS if label == "positive" else NEG, 2) + rng.sample(FILLER, 5)
        rng.shuffle(words)
        rows.append((label, " ".join(words)))
    return rows


@pytest.fixture(scope="module")
def binary_model(tmp_path_factory) -> tuple[Path, Path]:
    """negative (a third) vs positive reviews of synthetic words, with a tuned threshold."""
    root = tmp_path_factory.mktemp("decision")
    data = root / "reviews.jsonl"
    data.write_text(
        "".join(json.dumps({"label": y, "text": t}) + "\n" for y, t in reviews(150, seed=3))
    )
    model = root / "model"
    result = CliRunner().invoke(
        main,
        ["label", "train", "--data", str(data), "--label-field", "label", "--out", str(model),
         "--max-epochs", "5", "--tune-threshold", "--quiet"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "decision threshold P(negative) >=" in result.output
    return model, data


def test_train_saves_the_threshold_chosen_on_validation(binary_model):
    model, _ = binary_model
    meta = json.loads((model / "meta.json").read_text())["corpuskit"]
    assert meta["threshold"]["label"] == "negative" and meta["threshold"]["other"] == "positive"
    assert 0.0 <= meta["threshold"]["value"] <= 1.0
    info = json.loads((model / "corpuskit_label.json").read_text())
    assert info["threshold"]["validation_docs"] == info["validation_docs"]
    assert info["settings"]["tune_threshold"] is True


def test_eval_and_classify_decide_by_the_saved_threshold(binary_model, tmp_path):
    model, _ = binary_model
    # an extreme cut makes the rule visible: everything is "negative"
    moved = Path(shutil.copytree(model, tmp_path / "model"))
    meta = json.loads((moved / "meta.json").read_text())
    meta["corpuskit"]["threshold"]["value"] = 0.0
    (moved / "meta.json").write_text(json.dumps(meta))
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(
        main, ["label", "eval", "--model", str(moved), "--json", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["threshold"]["value"] == 0.0
    assert report["per_class"]["positive"]["precision"] == 0.0  # never predicted

    texts = [t for _, t in reviews(20, seed=9)]
    classifier = TextClassifier(str(moved))
    probs = classifier.predict(texts)
    assert (classifier.top(probs) == classifier.labels.index("negative")).all()
    step = Classify(ClassifyConfig(model=str(moved), reject=["negative"]))
    step.setup()
    frame = step.annotate(pl.DataFrame({"id": [str(i) for i in range(20)], "text": texts}))
    assert frame["class"].to_list() == ["negative"] * 20
    assert frame["class_verdict"].to_list() == ["negative"] * 20
    # the saved model itself: the class column follows its own cut
    plain = TextClassifier(str(model))
    cut = plain.threshold.value
    expected = np.where(plain.predict(texts)[:, plain.labels.index("negative")] >= cut, 0, 1)
    assert plain.labels == ["negative", "positive"]
    assert plain.top(plain.predict(texts)).tolist() == expected.tolist()
