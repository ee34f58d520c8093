"""`corpuskit label train` / `label eval`: split, metrics, end to end into a recipe run."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from corpuskit.cli import main
from corpuskit.engine.run import run_recipe
from corpuskit.labelling.data import (
    LabelledData,
    class_counts,
    fingerprint,
    load_label_names,
    oversample,
    read_labelled,
    split,
)
from corpuskit.labelling.evaluate import score
from corpuskit.labelling.train import META_FILE, detect_lang
from corpuskit.recipe import RecipeError, recipe_from_dict
from tests.conftest import needs_shared, write_jsonl

TOPICS = {
    "sports": "match goal team coach league season striker cup score player",
    "finance": "market shares bank profit investor stock earnings bond dividend trading",
    "tech": "software chip computer internet startup algorithm server laptop network code",
}
FILLER = "the big today new said report people week city more".split()


def synthetic(n_per_class: int, seed: int) -> list[tuple[str, str]]:
    """(topic, text) pairs: four topic words and four filler words, shuffled."""
    rng = random.Random(seed)
    rows = []
    for topic, words in TOPICS.items():
        vocab = words.split()
        for _ in range(n_per_class):
            tokens = rng.sample(vocab, 4) + rng.sample(FILLER, 4)
            rng.shuffle(tokens)
            rows.append((topic, " ".join(tokens).capitalize() + "."))
    rng.shuffle(rows)
    return rows


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["topic", "body"])
        w.writerows(rows)
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> tuple[Path, Path, dict]:
    """A classifier trained through the CLI on 3 x 40 synthetic documents."""
    root = tmp_path_factory.mktemp("label")
    data = write_csv(root / "topics.csv", synthetic(40, seed=1))
    model = root / "model"
    result = invoke(
        "label", "train", "--data", str(data), "--label-field", "topic",
        "--text-field", "body", "--out", str(model), "--max-epochs", "10", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "language en" in result.output and "trained on" in result.output
    report = root / "eval.json"
    result = invoke("label", "eval", "--model", str(model), "--json", str(report))
    assert result.exit_code == 0, result.output
    return model, data, json.loads(report.read_text())


def test_train_saves_a_pipeline_with_its_split(tiny_model):
    model, _, _ = tiny_model
    assert (model / "config.cfg").is_file() and (model / "textcat").is_dir()
    info = json.loads((model / META_FILE).read_text())
    assert info["labels"] == ["finance", "sports", "tech"]
    assert info["lang"] == "en" and info["seed"] == 0 and info["dev_fraction"] == 0.2
    # 40 per class: 8 held out, 32 left, of which round(3.2) = 3 validate
    assert (info["heldout_docs"], info["validation_docs"], info["train_docs"]) == (24, 9, 87)
    meta = json.loads((model / "meta.json").read_text())
    assert meta["lang"] == "en" and meta["pipeline"] == ["textcat"]


def test_eval_json_scores_the_held_out_split(tiny_model):
    _, _, report = tiny_model
    assert report["documents"] == 24 and report["split"] == "heldout"
    assert report["labels"] == ["finance", "sports", "tech"]
    assert {"accuracy", "macro_f1", "macro_precision", "macro_recall"} <= set(report)
    assert report["accuracy"] == 1.0 and report["macro_f1"] == 1.0
    assert report["confusion_matrix"] == [[8, 0, 0], [0, 8, 0], [0, 0, 8]]
    assert report["per_class"]["sports"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "support": 8,
    }


def test_eval_prints_tables(tiny_model):
    model, data, _ = tiny_model
    result = invoke(
        "label", "eval", "--model", str(model), "--data", str(data), "--label-field", "topic"
    )
    assert result.exit_code == 0, result.output
    assert "macro F1 1.0000" in result.output and "confusion matrix" in result.output


def test_trained_model_labels_documents_in_a_recipe_run(tiny_model, tmp_path):
    model, _, _ = tiny_model
    fresh = synthetic(5, seed=99)
    src = write_jsonl(
        tmp_path / "docs.jsonl",
        [{"id": f"d{i}", "text": text, "topic": t} for i, (t, text) in enumerate(fresh)],
    )
    raw = {
        "input": {"path": str(src), "id_field": "id"},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"workers": 1},
        "steps": [{"spacy_label": {"pipelines": {"en": str(model)}}}],
    }
    run_recipe(recipe_from_dict(raw))
    out = pl.read_parquet(tmp_path / "out" / "data")
    labels = out["labels"].struct.unnest()
    truth = out["meta"].str.json_path_match("$.topic")
    assert (labels["class"] == truth).all()
    assert (labels["score"] > 0.4).all()  # above 1/3, the score of a guess
    assert (labels["sentences"] == 1).all() and (labels["tokens"] == 9).all()


def test_split_is_deterministic_stratified_and_order_free():
    rows = synthetic(25, seed=3)
    docs = pl.DataFrame(
        {
            "id": [f"x:{i}" for i in range(len(rows))],
            "text": [t for _, t in rows],
            "label": [lab for lab, _ in rows],
        }
    )
    train, dev = split(docs, 0.2, seed=0)
    assert dev.height == 15 and train.height == 60
    assert dev.group_by("label").len().sort("label")["len"].to_list() == [5, 5, 5]
    # a different order and different ids (e.g. another path) give the same held-out texts
    shuffled = docs.reverse().with_columns(id=pl.lit("other:") + pl.col("id"))
    _, dev2 = split(shuffled, 0.2, seed=0)
    assert set(dev2["text"]) == set(dev["text"])
    # another seed, another split
    _, dev3 = split(docs, 0.2, seed=1)
    assert set(dev3["text"]) != set(dev["text"])
    # copies of one text land on the same side
    dup = pl.concat([docs, docs.head(10)])
    train4, dev4 = split(dup, 0.2, seed=0)
    assert not set(train4["text"]) & set(dev4["text"])


def test_score_matches_hand_computed_metrics():
    truth = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", "c", "c"]
    r = score(truth, pred, ["a", "b", "c"])
    assert r.accuracy == pytest.approx(4 / 6)
    assert r.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    # a: P 1, R 2/3, F1 0.8; b: P 1/2, R 1/2, F1 1/2; c: P 1/2, R 1, F1 2/3
    assert r.per_class["a"]["f1"] == pytest.approx(0.8)
    assert r.macro_precision == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert r.macro_recall == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert r.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    # a predicted class the model does not know still counts
    r = score(["a", "b"], ["a", "z"], ["a", "b"])
    assert r.labels == ["a", "b", "z"] and r.macro_f1 == pytest.approx(1 / 3)


def test_read_labelled_joins_text_fields_and_skips_unlabelled(tmp_path):
    path = tmp_path / "news.jsonl"
    write_jsonl(
        path,
        [
            {"title": "Cup final", "body": "Team wins.", "label": 1},
            {"title": "Stocks", "body": "Market up.", "label": "finance"},
            {"title": "No label", "body": "Nothing."},
        ],
    )
    found = read_labelled(LabelledData(str(path), "label", ("title", "body")))
    assert found.docs["text"].to_list() == ["Cup final\nTeam wins.", "Stocks\nMarket up."]
    assert found.docs["label"].to_list() == ["1", "finance"] and found.unlabelled == 1


def test_detect_lang():
    assert detect_lang(pl.DataFrame({"text": ["北京市很大。", "Beijing"]})) == "zh"
    assert detect_lang(pl.DataFrame({"text": ["Hello 北京", "Hello world"]})) == "en"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label-field", "nope"], "no field 'nope'"),
        (["--label-field", "topic", "--text-field", "missing"], "no text field 'missing'"),
        (["--label-field", "topic", "--lang", "qq"], "--lang 'qq'"),
        (["--label-field", "topic", "--format", "nope"], "unknown format 'nope'"),
    ],
)
def test_train_usage_errors_exit_2(tmp_path, args, message):
    data = write_csv(tmp_path / "t.csv", synthetic(5, seed=0))
    result = invoke(
        "label", "train", "--data", str(data), "--out", str(tmp_path / "m"), "--text-field", "body",
        *args,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_train_refuses_to_replace_a_folder_that_is_not_a_model(tmp_path):
    data = write_csv(tmp_path / "t.csv", synthetic(5, seed=0))
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    result = invoke(
        "label", "train", "--data", str(data), "--label-field", "topic", "--text-field", "body",
        "--out", str(keep),
    )  # fmt: skip
    assert result.exit_code == 2 and "is not a model" in " ".join(result.output.split())
    assert (keep / "notes.txt").read_text() == "mine"
    result = invoke("label", "eval", "--model", str(keep))
    assert result.exit_code == 2 and "no config.cfg" in " ".join(result.output.split())


def _train_and_eval(tmp_path: Path, *train_args: str) -> dict:
    model = tmp_path / "model"
    result = invoke("label", "train", *train_args, "--out", str(model), "--quiet")
    assert result.exit_code == 0, result.output
    report = tmp_path / "eval.json"
    result = invoke("label", "eval", "--model", str(model), "--json", str(report))
    assert result.exit_code == 0, result.output
    return json.loads(report.read_text())


@pytest.mark.slow
def test_ag_news_macro_f1_target(tmp_path):
    path = needs_shared("ag_news") / "test.csv"
    report = _train_and_eval(
        tmp_path,
        "--data", str(path), "--columns", "class,title,description",
        "--text-field", "title,description", "--label-field", "class",
    )  # fmt: skip
    assert report["documents"] == 1520  # 20% of each of the 4 classes of 1,900
    assert report["macro_f1"] >= 0.85, report


@pytest.mark.slow
def test_cnews_macro_f1_target(tmp_path):
    path = needs_shared("cnews_subset") / "cnews.val.txt"
    report = _train_and_eval(
        tmp_path, "--data", str(path), "--format", "labelled_text", "--label-field", "label"
    )
    assert report["documents"] == 201
    assert len(report["labels"]) == 10
    assert report["macro_f1"] >= 0.85, report


def test_label_names_file_numbers_codes_like_ag_news(tmp_path):
    codes = {"sports": "1", "finance": "2", "tech": "3"}
    rows = [(codes[t], text) for t, text in synthetic(30, seed=4)]
    data = write_csv(tmp_path / "coded.csv", rows)
    classes = tmp_path / "classes.txt"
    classes.write_text("Sports\nFinance\nTech\n")  # line n names code n
    report = _train_and_eval(
        tmp_path, "--data", str(data), "--label-field", "topic", "--text-field", "body",
        "--label-names", str(classes), "--max-epochs", "10",
    )  # fmt: skip
    assert report["labels"] == ["Finance", "Sports", "Tech"]
    assert report["macro_f1"] == 1.0 and report["domain"] == "in-domain"
    meta = json.loads((tmp_path / "model" / "meta.json").read_text())["corpuskit"]
    assert meta["labels"] == ["Finance", "Sports", "Tech"] and meta["arch"] == "bow"
    assert meta["label_names"] == {"1": "Sports", "2": "Finance", "3": "Tech"}
    assert len(meta["data"]["fingerprint"]) == 64 and meta["data"]["documents"] == 90
    info = json.loads((tmp_path / "model" / META_FILE).read_text())
    assert info["data_fingerprint"] == meta["data"]["fingerprint"]
    # spaCy's to_disk output only: config, JSON, msgpack weights; nothing pickled
    files = [p for p in (tmp_path / "model").rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".pkl", ".pickle", ".joblib")]
    assert all(b"\x80\x04\x95" not in p.read_bytes()[:3] for p in files)  # no pickle header
    # the same data gives the same fingerprint, other data another
    found = read_labelled(LabelledData(str(data), "topic", ("body",)), str(classes))
    assert fingerprint(found.docs) == meta["data"]["fingerprint"]
    assert fingerprint(found.docs.head(89)) != meta["data"]["fingerprint"]


def test_label_names_inline_and_zero_based_lists(tmp_path):
    assert load_label_names("0=negative, 1=positive", ["0", "1"]) == {
        "0": "negative",
        "1": "positive",
    }
    names = tmp_path / "names.txt"
    names.write_text("negative\npositive\n")
    assert load_label_names(str(names), ["1", "0"]) == {"0": "negative", "1": "positive"}
    assert load_label_names(str(names), ["1", "2"]) == {"1": "negative", "2": "positive"}
    names.write_text("0\tneg\n1\tpos\n")
    assert load_label_names(str(names), ["0"]) == {"0": "neg", "1": "pos"}
    names.write_text('{"a": "Alpha"}')
    assert load_label_names(str(names), ["a"]) == {"a": "Alpha"}
    data = write_csv(tmp_path / "t.csv", [("7", "some text")] * 5)
    with pytest.raises(RecipeError, match="labels '7' have no name"):
        read_labelled(LabelledData(str(data), "topic", ("body",)), "0=a,1=b")


def test_cross_domain_eval_scores_all_of_the_other_data(tiny_model, tmp_path):
    model, _, _ = tiny_model
    other = write_csv(tmp_path / "other.csv", synthetic(7, seed=123))
    report = tmp_path / "cross.json"
    result = invoke(
        "label", "eval", "--model", str(model), "--data", str(other),
        "--label-field", "topic", "--text-field", "body", "--json", str(report),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "cross-domain" in result.output
    got = json.loads(report.read_text())
    assert got["domain"] == "cross-domain" and got["split"] == "all"
    assert got["documents"] == 21 and got["trained_on"].endswith("topics.csv")


@pytest.mark.parametrize("arch", ["ensemble", "cnn"])
def test_neural_architectures_train(tmp_path, arch):
    data = write_csv(tmp_path / "t.csv", synthetic(20, seed=5))
    report = _train_and_eval(
        tmp_path, "--data", str(data), "--label-field", "topic", "--text-field", "body",
        "--arch", arch, "--max-epochs", "3",
    )  # fmt: skip
    assert report["documents"] == 12 and report["accuracy"] > 1 / 3
    cfg = (tmp_path / "model" / "config.cfg").read_text()
    assert ("TextCatReduce" in cfg) == (arch == "cnn")


def test_oversample_balances_the_training_part():
    docs = pl.DataFrame(
        {"id": [str(i) for i in range(13)], "text": [f"t{i}" for i in range(13)],
         "label": ["a"] * 10 + ["b"] * 3}
    )  # fmt: skip
    out = oversample(docs, seed=0)
    assert class_counts(out) == {"a": 10, "b": 10}
    assert set(out.filter(pl.col("label") == "b")["text"]) == {"t10", "t11", "t12"}
    assert out.height == 20 and out["text"].to_list() != sorted(out["text"].to_list())


def test_train_on_mail_folders_with_subjects(tmp_path):
    rng = random.Random(7)
    words = {"spam": "free prize winner cash offer click buy cheap", "ham": FILLER_HAM}
    for label, vocab in words.items():
        for i in range(30):
            body = " ".join(rng.sample(vocab.split(), 5))
            subject = f"{label} note {i}" if i % 2 else "hello"
            msg = f"From: a@b.c\nSubject: {subject}\nMessage-ID: <{label}{i}@x>\n\n{body}\n"
            (tmp_path / "mail" / label).mkdir(parents=True, exist_ok=True)
            (tmp_path / "mail" / label / str(i)).write_text(msg)
    report = _train_and_eval(
        tmp_path, "--data", str(tmp_path / "mail"), "--format", "email",
        "--label-field", "folder", "--text-field", "text,title", "--balance",
    )  # fmt: skip
    assert report["labels"] == ["ham", "spam"] and report["documents"] == 12
    found = read_labelled(
        LabelledData(str(tmp_path / "mail"), "folder", ("text", "title"), "email")
    )
    assert found.docs.height == 60
    assert found.docs["text"].str.ends_with("\nhello").sum() == 30  # body, then the subject


FILLER_HAM = "meeting tomorrow lunch report project schedule family weekend thanks"
