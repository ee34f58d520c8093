"""Classifier metrics on the held-out split: accuracy, per-class and macro P/R/F1, confusion.

`label eval` re-reads the labelled data, recomputes the same deterministic split as
`label train` (seed and fraction are saved in the model folder), predicts the held-out
documents with `nlp.pipe` and scores them here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from corpuskit.labelling import data as labelled
from corpuskit.labelling.decision import Threshold
from corpuskit.labelling.train import META_FILE


@dataclass
class Report:
    """Scores of one evaluation; `to_dict` is what `--json` writes."""

    accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    labels: list[str]
    confusion: list[list[int]]  # rows: true label, columns: predicted label (order: labels)
    documents: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "per_class": self.per_class,
            "labels": self.labels,
            "confusion_matrix": self.confusion,
            "documents": self.documents,
            **self.extra,
        }


def score(truth: list[str], predicted: list[str], labels: list[str] | None = None) -> Report:
    """Accuracy, per-class and macro (unweighted mean over classes) precision/recall/F1.

    Classes come from `labels` (the model's) plus any other label seen in `truth` or
    `predicted`; a class with no prediction has precision 0, one absent from `truth` has
    recall 0 (both still count in the macro mean, as in scikit-learn's zero_division=0).
    """
    frame = pl.DataFrame(
        {"true": truth, "pred": predicted}, schema={"true": pl.String, "pred": pl.String}
    )
    seen = set(truth) | set(predicted)
    names = list(labels or []) + sorted(seen - set(labels or []))
    pairs = frame.group_by("true", "pred").len()
    counts = {(t, p): n for t, p, n in pairs.iter_rows()}
    confusion = [[counts.get((t, p), 0) for p in names] for t in names]
    per_class: dict[str, dict[str, float]] = {}
    for i, name in enumerate(names):
        tp = confusion[i][i]
        support = sum(confusion[i])
        predicted_n = sum(row[i] for row in confusion)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }
    n = len(names) or 1
    correct = sum(confusion[i][i] for i in range(len(names)))
    return Report(
        accuracy=correct / len(truth) if truth else 0.0,
        macro_precision=sum(c["precision"] for c in per_class.values()) / n,
        macro_recall=sum(c["recall"] for c in per_class.values()) / n,
        macro_f1=sum(c["f1"] for c in per_class.values()) / n,
        per_class=per_class,
        labels=names,
        confusion=confusion,
        documents=len(truth),
    )


def predict(nlp: Any, texts: list[str], batch_size: int = 256) -> list[str]:
    """The class of each text: textcat's highest score, or the decision threshold that
    `label train --tune-threshold` saved in the model's meta."""
    threshold = Threshold.from_meta(nlp.meta.get("corpuskit"))
    out = []
    for doc in nlp.pipe(texts, batch_size=batch_size):
        if not doc.cats:
            out.append("")
        elif threshold is not None:
            out.append(threshold.decide(doc.cats))
        else:
            out.append(max(doc.cats, key=doc.cats.get))
    return out


def model_info(model: Path) -> dict[str, Any]:
    """What `label train` saved beside the pipeline (data, split), or {} for other pipelines."""
    path = model / META_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def evaluate_model(
    model: Path,
    source: labelled.LabelledData,
    dev_fraction: float,
    seed: int,
    split: str = "heldout",
    label_names: str | None = None,
) -> Report:
    """Load `model`, predict the held-out split of `source` (or all of it), and score it."""
    from corpuskit.labelling.pipelines import load_pipeline_dir

    nlp = load_pipeline_dir(model)
    classifier = next((n for n in nlp.pipe_names if n in ("textcat", "textcat_multilabel")), None)
    if classifier is None:
        raise ValueError(f"{model}: the pipeline has no textcat component to evaluate")
    labels = list(nlp.get_pipe(classifier).labels)
    nlp.select_pipes(enable=[classifier])
    found = labelled.read_labelled(source, label_names)
    if split == "all":
        part = found.docs
    else:
        _, part = labelled.split(found.docs, dev_fraction, seed)
    if part.height == 0:
        raise ValueError(
            f"{source.path}: the held-out split is empty (dev fraction {dev_fraction})"
        )
    started = time.perf_counter()
    predicted = predict(nlp, part["text"].to_list())
    seconds = time.perf_counter() - started
    report = score(part["label"].to_list(), predicted, labels)
    report.extra = {
        "split": split,
        "seed": seed,
        "dev_fraction": dev_fraction,
        "unknown_labels": sorted(set(part["label"].to_list()) - set(labels)),
        "predict_seconds": round(seconds, 3),
    }
    threshold = Threshold.from_meta(nlp.meta.get("corpuskit"))
    if threshold is not None:
        report.extra["threshold"] = threshold.to_dict()
    return report
