"""A binary classifier's decision threshold, chosen on data the model did not train on.

textcat decides by its highest probability, which for two classes is a cut at
P(class) = 0.5. On skewed or hard binary tasks (spam, negative reviews) another cut on one
class's probability gives a better macro-F1. `label train --tune-threshold` picks it on
spaCy's validation slice of the training part (never the held-out split that `label eval`
scores), saves it in the model's meta.json (`corpuskit.threshold`), and `label eval` and
the `classify` step decide with it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Threshold:
    """`label` is the decision when P(label) >= `value`, else `other`."""

    label: str
    other: str
    value: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> Threshold | None:
        """The threshold saved under meta.json's `corpuskit` key, if any."""
        found = (meta or {}).get("threshold")
        if not found:
            return None
        return cls(str(found["label"]), str(found["other"]), float(found["value"]))

    def decide(self, cats: dict[str, float]) -> str:
        """The decided class for one document's textcat scores."""
        return self.label if cats.get(self.label, 0.0) >= self.value else self.other

    def top(self, labels: list[str], scores: np.ndarray) -> np.ndarray:
        """Index (into `labels`) of the decided class of each row of `scores`."""
        mine, other = labels.index(self.label), labels.index(self.other)
        return np.where(scores[:, mine] >= self.value, mine, other)


def macro_f1_by_cut(is_label: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct cut on the probabilities and the macro-F1 of deciding by it.

    Returns (cuts, macro_f1), predicting the class where P >= cut: from above the largest
    probability (never the class), through the midpoints between neighbouring distinct
    probabilities, to 0 (always the class).
    """
    order = np.argsort(-probs, kind="stable")
    p, y = probs[order], is_label[order].astype(np.int64)
    n = len(p)
    # rows predicted as the class at each cut: none, then the end of each run of equal p
    ends = np.flatnonzero(np.append(p[1:] != p[:-1], True)) + 1 if n else np.zeros(0, int)
    k = np.concatenate([[0], ends])
    tp = np.concatenate([[0], np.cumsum(y)[ends - 1]])
    fp = k - tp
    fn = int(y.sum()) - tp
    tn = (n - int(y.sum())) - fp
    cuts = np.empty(len(k))
    cuts[0] = np.nextafter(p[0], np.inf) if n else 0.5
    inner = ends[ends < n]
    cuts[1 : 1 + len(inner)] = (p[inner - 1] + p[inner]) / 2
    if n:
        cuts[-1] = 0.0
    return cuts, (_f1(tp, fp, fn) + _f1(tn, fn, fp)) / 2


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def choose_threshold(
    truth: list[str], probs: np.ndarray, label: str, other: str
) -> tuple[Threshold, float, float]:
    """The cut on P(`label`) with the best macro-F1 on (truth, probs); among equally good
    cuts the one nearest 0.5 (the argmax rule). Returns it, its macro-F1 and the argmax
    rule's macro-F1 on the same data."""
    is_label = np.asarray([t == label for t in truth])
    probs = np.asarray(probs, dtype=np.float64)
    cuts, f1 = macro_f1_by_cut(is_label, probs)
    best = float(f1.max())
    at_half = _macro_f1_at(is_label, probs, 0.5)
    if at_half >= best - 1e-12:
        return Threshold(label, other, 0.5), best, at_half
    tied = np.flatnonzero(f1 >= best - 1e-12)
    pick = tied[np.argmin(np.abs(cuts[tied] - 0.5))]
    return Threshold(label, other, float(cuts[pick])), best, at_half


def _macro_f1_at(is_label: np.ndarray, probs: np.ndarray, cut: float) -> float:
    pred = probs >= cut
    tp, fp, fn = (
        np.array(int(v.sum())) for v in (pred & is_label, pred & ~is_label, ~pred & is_label)
    )
    tn = len(pred) - tp - fp - fn
    return float((_f1(tp, fp, fn) + _f1(tn, fn, fp)) / 2)
