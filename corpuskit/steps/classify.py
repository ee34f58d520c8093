"""classify: a trained text classifier's class and score on every document, and a filter by it.

Models: any `corpuskit label train` folder, installed pipeline package or pipeline folder
with a `textcat` (or `textcat_multilabel`). One model for every document (`model: DIR`), or
one per language (`model: {en: DIR, zh: DIR}`, routed by the `lang` column like
spacy_label, with `fallback`); documents without a model keep null `class`/`score`.

Decisions (a document is rejected with reason `<step>:<class>`):
- `keep: [classes]`: rejected unless its class is one of them; with `min_score`, rejected
  unless the kept classes' probabilities add up to at least `min_score` (DCLM-style: keep
  `hq` when P(hq) >= 0.3), reason `<step>:low_score` when its top class was a kept one.
- `reject: [classes]`: rejected when its class is one of them; with `min_score`, only when
  that class's probability is at least `min_score` (e.g. spam at >= 0.9).
- neither: a labeller, every document kept.

A document's class is the model's highest probability, or for a two-class model trained
with `label train --tune-threshold` the cut saved in its meta (`corpuskit.threshold`);
`score` is that class's probability.

Speed and the long-document rule: see corpuskit.labelling.classifier (batched prediction,
only the classifier enabled; `max_chars`, `long_docs: truncate | chunk`).

The step-specific logic lives in `decide` and the classifier module; the class below is
the glue to the step contract (annotate + rules).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl
from pydantic import Field, field_validator, model_validator

from corpuskit.labelling.classifier import ClassifierOptions, LongDocs, TextClassifier
from corpuskit.labelling.pipelines import check_spec, is_path, route_by_lang
from corpuskit.steps.base import FilterStep, StepConfig

LOW_SCORE = "low_score"
SCORES = pl.List(pl.Struct({"class": pl.String(), "score": pl.Float64()}))


class ClassifyConfig(StepConfig):
    # one pipeline (folder or package) for every document, or language code -> pipeline
    model: str | dict[str, str]
    lang_column: str = "lang"
    # with per-language models: the model for other or missing languages (a key of
    # `model`); null leaves them unclassified (and kept)
    fallback: str | None = None
    keep: list[str] | None = None
    reject: list[str] | None = None
    min_score: float | None = Field(None, ge=0.0, le=1.0)
    # also write every class's probability (`<prefix>class_scores`)
    scores: bool = False
    # column names: `<prefix>class`, `<prefix>score`, ... (two classify steps in a recipe)
    prefix: str = ""
    batch_size: int = Field(256, ge=1)
    max_chars: int = Field(5000, ge=1)
    long_docs: LongDocs = "truncate"
    max_chunks: int = Field(8, ge=1)

    @field_validator("model")
    @classmethod
    def _some_model(cls, v: str | dict[str, str]) -> str | dict[str, str]:
        if isinstance(v, dict):
            if not v:
                raise ValueError("name at least one model, e.g. {en: models/spam}")
            return {k.strip().lower(): s.strip() for k, s in v.items()}
        return v.strip()

    @model_validator(mode="after")
    def _consistent(self) -> ClassifyConfig:
        if self.keep is not None and self.reject is not None:
            raise ValueError("give keep or reject, not both")
        if self.min_score is not None and self.keep is None and self.reject is None:
            raise ValueError("min_score needs keep or reject")
        if self.fallback is not None and self.fallback not in self.models:
            raise ValueError(f"fallback {self.fallback!r} is not one of the models")
        return self

    @property
    def models(self) -> dict[str, str]:
        """Route key -> model; a single model has the key '*'."""
        return {"*": self.model} if isinstance(self.model, str) else dict(self.model)


def saved_labels(spec: str) -> list[str]:
    """The textcat classes a pipeline folder lists in its meta.json ([] if unknown)."""
    meta = Path(spec).expanduser() / "meta.json"
    if not is_path(spec) or not meta.is_file():
        return []
    labels = json.loads(meta.read_text(encoding="utf-8")).get("labels") or {}
    return [c for name, found in labels.items() if "textcat" in name for c in found]


def decide(
    labels: list[str],
    scores: np.ndarray,
    keep: list[str] | None,
    reject: list[str] | None,
    min_score: float | None,
    top: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """Top class index, its score, and per row the class that rejects it (None: kept).

    `top` is the decided class per row when the model has its own rule (a tuned
    threshold); default: the highest score."""
    if top is None:
        top = scores.argmax(axis=1) if scores.size else np.zeros(len(scores), dtype=np.int64)
    top_score = scores[np.arange(len(scores)), top] if scores.size else np.zeros(len(scores))
    chosen = keep if keep is not None else reject
    verdicts: list[str | None] = [None] * len(scores)
    if chosen is None:
        return top, top_score, verdicts
    cols = [labels.index(c) for c in chosen if c in labels]
    mass = scores[:, cols].sum(axis=1) if cols else np.zeros(len(scores))
    in_set = np.isin(top, cols)
    if keep is not None:
        dropped = (mass < min_score) if min_score is not None else ~in_set
        for i in np.flatnonzero(dropped):
            verdicts[i] = LOW_SCORE if in_set[i] else labels[top[i]]
    else:
        if min_score is None:
            dropped = in_set
            which = top
        else:
            sub = scores[:, cols] if cols else np.zeros((len(scores), 1))
            which = np.asarray(cols)[sub.argmax(axis=1)] if cols else top
            dropped = sub.max(axis=1) >= min_score if cols else np.zeros(len(scores), bool)
        for i in np.flatnonzero(dropped):
            verdicts[i] = labels[which[i]]
    return top, top_score, verdicts


_SCORES_FRAME = {"i": pl.Int64(), "scores": SCORES}


def class_scores(rows: np.ndarray, labels: list[str], probs: np.ndarray) -> pl.DataFrame:
    """Row index and [{class, score}, ...] per row, built column-wise."""
    k = len(labels)
    flat = pl.DataFrame(
        {
            "class": pl.Series(labels * len(rows), dtype=pl.String()),
            "score": pl.Series(probs.astype(np.float64).ravel()),
        }
    ).select(pl.struct("class", "score").alias("scores"))
    nested = flat["scores"].reshape((len(rows), k)).cast(SCORES)
    return pl.DataFrame({"i": rows.astype(np.int64), "scores": nested}, schema=_SCORES_FRAME)


class Classify(FilterStep):
    """Class and score from a trained text classifier; keep or reject documents by them."""

    Config = ClassifyConfig
    columns: ClassVar[dict[str, pl.DataType]] = {}

    def __init__(self, config: ClassifyConfig | None = None, name: str | None = None) -> None:
        super().__init__(config, name)
        c: ClassifyConfig = self.config
        p = c.prefix
        self.columns = {f"{p}class": pl.String(), f"{p}score": pl.Float64()}
        if c.scores:
            self.columns[f"{p}class_scores"] = SCORES
        if c.keep is not None or c.reject is not None:
            # why a document is rejected (null: kept); the rules read it
            self.columns[f"{p}class_verdict"] = pl.String()

    def validate(self) -> None:
        c: ClassifyConfig = self.config
        known: set[str] = set()
        for key, spec in c.models.items():
            try:
                check_spec("en" if key == "*" else key, spec)
            except ValueError as e:
                raise ValueError(f"model{'' if key == '*' else '.' + key}: {e}") from None
            known |= set(saved_labels(spec))
        unknown = sorted(set(c.keep or c.reject or ()) - known)
        if known and unknown:
            raise ValueError(
                f"{'keep' if c.keep else 'reject'}: the model has no class "
                f"{', '.join(map(repr, unknown))}; classes: {', '.join(sorted(known))}"
            )

    def setup(self) -> None:
        c: ClassifyConfig = self.config
        options = ClassifierOptions(c.batch_size, c.max_chars, c.long_docs, c.max_chunks)
        self._models = {
            key: TextClassifier(spec, "en" if key == "*" else key, options)
            for key, spec in c.models.items()
        }
        for classes in (c.keep, c.reject):
            unknown = sorted(set(classes or ()) - self.labels())
            if unknown:
                raise ValueError(
                    f"{self.name}: no model has the classes {', '.join(unknown)}; "
                    f"classes: {', '.join(sorted(self.labels()))}"
                )

    def _transient(self) -> tuple[str, ...]:
        return ("_models",)

    def labels(self) -> set[str]:
        return {label for m in self._models.values() for label in m.labels}

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        c: ClassifyConfig = self.config
        n = batch.height
        if isinstance(c.model, str):
            routes = pl.Series("lang", ["*"] * n, dtype=pl.String())
        else:
            routes = route_by_lang(batch, c.lang_column, c.models, c.fallback)
        classes = np.full(n, None, dtype=object)
        top_scores = np.full(n, np.nan)
        verdicts = np.full(n, None, dtype=object)
        per_model: list[pl.DataFrame] = []
        texts = batch["text"].fill_null("")
        for key, model in self._models.items():
            rows = np.flatnonzero((routes == key).fill_null(False).to_numpy())
            if not rows.size:
                continue
            probs = model.predict(texts.gather(rows).to_list())
            found = ~np.isnan(probs).any(axis=1)  # blank texts stay unclassified
            rows, probs = rows[found], probs[found]
            top, score, verdict = decide(
                model.labels, probs, c.keep, c.reject, c.min_score, model.top(probs)
            )
            classes[rows] = np.asarray(model.labels, dtype=object)[top]
            top_scores[rows] = score
            verdicts[rows] = np.asarray(verdict, dtype=object)
            if c.scores:
                per_model.append(class_scores(rows, model.labels, probs))
        p = c.prefix
        cols = {
            f"{p}class": pl.Series(classes.tolist(), dtype=pl.String()),
            f"{p}score": pl.Series(top_scores, dtype=pl.Float64()).fill_nan(None),
        }
        if c.scores:
            found = pl.concat(per_model) if per_model else pl.DataFrame(schema=_SCORES_FRAME)
            index = pl.DataFrame({"i": np.arange(n)})
            joined = index.join(found, on="i", how="left", maintain_order="left")
            cols[f"{p}class_scores"] = joined["scores"]
        if f"{p}class_verdict" in self.columns:
            cols[f"{p}class_verdict"] = pl.Series(verdicts.tolist(), dtype=pl.String())
        found_classes = cols[f"{p}class"]
        for name, count in found_classes.drop_nulls().value_counts().rows():
            self.count(f"class:{name}", int(count))
        self.count("docs_unclassified", int(found_classes.null_count()))
        return batch.with_columns(**cols)

    def rules(self) -> list[tuple[str, pl.Expr]]:
        verdict = f"{self.config.prefix}class_verdict"
        if verdict not in self.columns:
            return []
        reasons = [*sorted(self.labels()), LOW_SCORE]
        return [(r, pl.col(verdict) == r) for r in reasons]
