"""classify: decisions, the fast bag-of-words path, long documents, and a recipe run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from corpuskit.engine.run import run_recipe
from corpuskit.engine.stages import build_steps
from corpuskit.labelling.classifier import BowFeatures, ClassifierOptions, TextClassifier, chunks
from corpuskit.labelling.data import LabelledData
from corpuskit.labelling.train import TrainSettings, train_classifier
from corpuskit.recipe import RecipeError, recipe_from_dict
from corpuskit.steps.classify import LOW_SCORE, Classify, ClassifyConfig, decide
from tests.conftest import write_jsonl
from tests.test_label_cli import synthetic, write_csv

TRICKY = [
    "Stocks rally as the market and the bank report profit",
    "  leading spaces, then  double  spaces and a tab\there",
    "lines\n\nwith blank lines\n and don't forget e.g. U.S.A. :) ok",
    "",
    "   ",
    "match goal team coach league",
]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A BOW classifier (finance, sports, tech) trained on 3 x 40 synthetic documents."""
    root = tmp_path_factory.mktemp("classify")
    data = write_csv(root / "topics.csv", synthetic(40, seed=1))
    out = root / "model"
    source = LabelledData(str(data), "topic", ("body",))
    train_classifier(source, out, TrainSettings(max_epochs=10), quiet=True)
    return out


def test_decide_keep_reject_and_min_score():
    labels = ["hq", "lq", "spam"]
    scores = np.array([[0.7, 0.2, 0.1], [0.4, 0.5, 0.1], [0.35, 0.3, 0.35], [0.1, 0.1, 0.8]])
    top, score, verdict = decide(labels, scores, None, None, None)
    assert top.tolist() == [0, 1, 0, 2] and verdict == [None] * 4
    assert score.tolist() == pytest.approx([0.7, 0.5, 0.35, 0.8])
    assert decide(labels, scores, ["hq"], None, None)[2] == [None, "lq", None, "spam"]
    # DCLM-style: keep when P(hq) >= 0.38; row 3's top class is hq but below the bar
    assert decide(labels, scores, ["hq"], None, 0.38)[2] == [None, None, LOW_SCORE, "spam"]
    assert decide(labels, scores, None, ["spam"], None)[2] == [None, None, None, "spam"]
    # with min_score, the rejected class need not be the top one
    assert decide(labels, scores, None, ["spam", "lq"], 0.45)[2] == [None, "lq", None, "spam"]


def test_chunks_cut_at_spaces_within_the_limit():
    assert chunks("", 10, 3) == [""]
    assert chunks("aaaa bbbb cccc dddd", 10, 8) == ["aaaa bbbb ", "cccc dddd"]
    assert chunks("x" * 25, 10, 2) == ["x" * 10, "x" * 10]  # at most max_chunks


def test_fast_bow_path_equals_spacy(model):
    import spacy

    clf = TextClassifier(str(model))
    assert isinstance(clf.fast, BowFeatures)
    probs = clf.predict(TRICKY)
    nlp = spacy.load(model)
    for text, row in zip(TRICKY, probs, strict=True):
        if not text.strip() and text != "   ":
            assert np.isnan(row).all()
            continue
        doc = nlp(text)
        expected = [doc.cats[label] for label in clf.labels]
        assert row == pytest.approx(expected, abs=1e-5), text
    # tokens as spaCy cuts them, the leading space included
    tokens = [nlp.vocab.strings[k] for k in clf.fast.keys(TRICKY[1])]
    assert tokens == [t.lower_ for t in nlp.tokenizer(TRICKY[1])]


def test_chunked_long_documents_average_their_pieces(model):
    text = "market shares bank profit. " * 40 + "match goal team coach league. " * 10
    whole = TextClassifier(str(model), options=ClassifierOptions(max_chars=100_000))
    piece = TextClassifier(str(model), options=ClassifierOptions(max_chars=200, long_docs="chunk"))
    cut = TextClassifier(str(model), options=ClassifierOptions(max_chars=200))
    labels = whole.labels
    assert labels[int(piece.predict([text])[0].argmax())] == "finance"
    pieces = chunks(text, 200, 8)
    expected = np.average(
        cut.predict(pieces), axis=0, weights=[len(p) for p in pieces]
    )  # truncation of each piece = the piece itself
    assert piece.predict([text])[0] == pytest.approx(expected, abs=1e-5)


def test_step_columns_reasons_and_counters(model):
    step = Classify(ClassifyConfig(model=str(model), keep=["sports"], scores=True), "classify")
    step.ensure_ready()
    batch = pl.DataFrame({"id": ["a", "b", "c"], "text": [TRICKY[0], TRICKY[5], ""]})
    result = step.process(batch)
    out = result.batch
    assert out["class"].to_list() == ["finance", "sports", None]
    assert out["__reject_reason__"].to_list() == ["classify:finance", None, None]
    scores = out["class_scores"][0].to_list()
    assert [s["class"] for s in scores] == ["finance", "sports", "tech"]
    assert sum(s["score"] for s in scores) == pytest.approx(1.0)
    assert max(s["score"] for s in scores) == pytest.approx(out["score"][0])
    assert result.counters == {"class:finance": 1, "class:sports": 1, "docs_unclassified": 1}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"keep": ["a"], "reject": ["b"]}, "keep or reject, not both"),
        ({"min_score": 0.5}, "min_score needs keep or reject"),
        ({"model": {"en": "x"}, "fallback": "zh"}, "not one of the models"),
        ({"model": "/no/such/folder"}, "not a spaCy pipeline folder"),
        ({"keep": ["sport"]}, "the model has no class 'sport'; classes: finance, sports, tech"),
    ],
)
def test_bad_configs_name_the_problem(config, message, model):
    raw = {
        "input": {"path": "sample_data/news/*.jsonl.gz"},
        "output": {"path": "/tmp/unused"},
        "steps": [{"classify": {"model": str(model), **config}}],
    }
    with pytest.raises(RecipeError, match=message):
        build_steps(recipe_from_dict(raw))


def test_recipe_run_per_language_with_prefix(model, tmp_path):
    rows = [
        {"id": "1", "text": "The market shares rose as the bank reported a profit for investors."},
        {"id": "2", "text": "The team scored a late goal and the coach praised the striker."},
        {"id": "3", "text": "北京市今天天气很好，市民纷纷出门游玩，公园里人很多。"},
    ]
    src = write_jsonl(tmp_path / "docs.jsonl", rows)
    raw = {
        "input": {"path": str(src), "id_field": "id"},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"workers": 1},
        "steps": [
            {"language": {"han_shortcut": True}},
            {
                "classify": {
                    "model": {"en": str(model)},
                    "reject": ["finance"],
                    "prefix": "topic_",
                }
            },
        ],
    }
    manifest = run_recipe(recipe_from_dict(raw)).manifest
    kept = pl.read_parquet(tmp_path / "out" / "data").sort("id")
    rejected = pl.read_parquet(tmp_path / "out" / "rejected")
    assert kept["id"].to_list() == ["2", "3"]
    assert kept["topic_class"].to_list() == ["sports", None]  # no model for zh
    assert rejected["reason"].to_list() == ["classify:finance"]
    assert json.loads(rejected["signals"][0])["topic_class"] == "finance"
    ledger = {s["step"]: s for s in manifest["ledger"]}
    counters = ledger["1:classify"]["counters"]
    assert counters == {"class:finance": 1, "class:sports": 1, "docs_unclassified": 1}


def test_web_classify_recipe_validates_with_models_in_place(model, tmp_path):
    """recipes/classify/web-classify.yaml, its model folders pointed at the test model."""
    import yaml

    path = Path(__file__).resolve().parents[1] / "recipes" / "classify" / "web-classify.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    for item in raw["steps"]:
        config = item.get("classify")
        if config:
            config["model"] = {"en": str(model)}  # the test model is English
            config.update({k: ["sports"] for k in ("keep", "reject") if k in config})
    raw["input"] = {"path": str(write_jsonl(tmp_path / "d.jsonl", [{"text": "x"}]))}
    recipe = recipe_from_dict(raw)
    names = [entry.name for entry in build_steps(recipe)]
    assert names.count("classify") == 2 and names.index("language") < names.index("classify")
