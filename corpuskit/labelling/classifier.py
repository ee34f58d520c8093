"""Text classification with a trained spaCy textcat, fast enough to filter a corpus.

`TextClassifier` loads a pipeline (a `corpuskit label train` folder, an installed package
or any folder with a `textcat` / `textcat_multilabel` component) and returns, for a list
of texts, the class probabilities as one numpy matrix (rows: texts, columns: `labels`).

Why it is faster than `nlp(text)` per document: only the classifier and the components it
listens to (`tok2vec`, `transformer`) run; texts are tokenized with `tokenizer.pipe`, and
the textcat's model predicts a whole batch in one call whose scores are kept as an array
(`nlp.pipe` would also write a `doc.cats` dict for every document). bench/bench_classify.py
measures it against the per-document loop.

Bag-of-words models (`label train --arch bow`) with spaCy's rule-based tokenizer take a
faster path (`BowFeatures`): the tokenizer works on each whitespace-separated span on its
own, so the token attributes the model hashes (LOWER) are memoized per distinct span and a
document's features are the concatenation of its spans'; the n-gram counts then go straight
into the model's sparse linear layer. Tokenization is what a BOW prediction costs, and most
spans of a corpus repeat. The tokens equal spaCy's except where spaCy's own tokenizer is
not context-free (emoticon special cases such as `:))`, cut differently depending on its
cache: 1 document of 10,595 from ag_news, 20 Newsgroups and Shakespeare).

Long documents (the rule, `long_docs`):
- `truncate` (default): the first `max_chars` characters are classified.
- `chunk`: the text is cut into pieces of at most `max_chars` characters (at the last
  newline, else the last space, before the limit), at most `max_chunks` of them from the
  start; the document's scores are the mean of the pieces' scores weighted by their length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from corpuskit.labelling.decision import Threshold
from corpuskit.labelling.pipelines import load_base

# Components a textcat may listen to (shared embedding layers); they run, nothing else.
UPSTREAM_FACTORIES = ("tok2vec", "transformer")
CLASSIFIER_FACTORIES = ("textcat", "textcat_multilabel")
LongDocs = Literal["truncate", "chunk"]


@dataclass(frozen=True)
class ClassifierOptions:
    batch_size: int = 256
    max_chars: int = 5000
    long_docs: LongDocs = "truncate"
    max_chunks: int = 8


class TextClassifier:
    """A pipeline's text classifier, reduced to what it needs to score texts."""

    def __init__(self, spec: str, lang: str = "en", options: ClassifierOptions | None = None):
        self.spec = spec
        self.options = options or ClassifierOptions()
        nlp = load_base(lang, spec)
        name = next(
            (n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory in CLASSIFIER_FACTORIES),
            None,
        )
        if name is None:
            raise ValueError(f"{spec!r}: the pipeline has no textcat component")
        keep = [
            n
            for n in nlp.pipe_names
            if n == name or nlp.get_pipe_meta(n).factory in UPSTREAM_FACTORIES
        ]
        nlp.select_pipes(enable=keep)
        self.nlp = nlp
        self.textcat = nlp.get_pipe(name)
        self.upstream = [proc for n, proc in nlp.pipeline if n != name]
        self.labels: list[str] = list(self.textcat.labels)
        self.exclusive = nlp.get_pipe_meta(name).factory == "textcat"
        self.meta: dict[str, Any] = dict(nlp.meta.get("corpuskit") or {})
        self.threshold = Threshold.from_meta(self.meta)
        self.nlp.max_length = max(self.nlp.max_length, self.options.max_chars + 1)
        self.fast = (
            None if self.upstream else BowFeatures.of(nlp, self.textcat.model, len(self.labels))
        )

    def predict(self, texts: list[str]) -> np.ndarray:
        """Class probabilities, shape (len(texts), len(labels)), float32; rows of NaN for
        texts without a token (empty or blank)."""
        o = self.options
        if o.long_docs == "truncate":
            return self._scores([t[: o.max_chars] for t in texts])
        pieces, owners, weights = [], [], []
        for i, text in enumerate(texts):
            for piece in chunks(text, o.max_chars, o.max_chunks):
                pieces.append(piece)
                owners.append(i)
                weights.append(max(len(piece), 1))
        scores = self._scores(pieces)
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        total = np.zeros(len(texts), dtype=np.float32)
        owner = np.asarray(owners, dtype=np.int64)
        w = np.asarray(weights, dtype=np.float32)
        w = np.where(np.isnan(scores).any(axis=1), 0, w)  # blank pieces do not count
        np.add.at(out, owner, np.nan_to_num(scores) * w[:, None])
        np.add.at(total, owner, w)
        out /= np.maximum(total, 1)[:, None]
        out[total == 0] = np.nan
        return out

    def top(self, scores: np.ndarray) -> np.ndarray:
        """The decided class of each row of `predict`'s scores, as an index into `labels`:
        the highest probability, or the model's saved decision threshold (two classes)."""
        if self.threshold is not None and scores.size:
            return self.threshold.top(self.labels, scores)
        return scores.argmax(axis=1) if scores.size else np.zeros(len(scores), dtype=np.int64)

    def _scores(self, texts: list[str]) -> np.ndarray:
        size = self.options.batch_size
        parts = []
        for start in range(0, len(texts), size):
            if self.fast is not None:
                parts.append(self.fast.predict(texts[start : start + size]))
                continue
            docs = list(self.nlp.tokenizer.pipe(texts[start : start + size], batch_size=size))
            # A document without tokens has no class (spaCy's n-gram features fail on it).
            found = [i for i, doc in enumerate(docs) if len(doc)]
            block = np.full((len(docs), len(self.labels)), np.nan, dtype=np.float32)
            if found:
                docs = [docs[i] for i in found]
                for proc in self.upstream:
                    docs = list(proc.pipe(docs, batch_size=size))
                block[found] = self.textcat.model.ops.to_numpy(self.textcat.predict(docs))
            parts.append(block)
        if not parts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)


_SPAN = re.compile(r"\S+|\s+")
# Distinct spans remembered per model before the memo starts afresh (bounds memory).
MEMO_SPANS = 500_000


class BowFeatures:
    """spaCy's TextCatBOW prediction with memoized per-span tokenization (see the module)."""

    def __init__(
        self, nlp: Any, ngram_size: int, attr: int, linear: Any, output: Any, classes: int
    ) -> None:
        self.tokenizer = nlp.tokenizer
        self.classes = classes
        self.ngram_size = ngram_size
        self.attr = attr
        self.linear = linear
        self.output = output
        self.ops = linear.ops
        self.memo: dict[str, np.ndarray] = {}

    @classmethod
    def of(cls, nlp: Any, model: Any, classes: int) -> BowFeatures | None:
        """The fast path for `with_cpu(extract_ngrams >> linear) >> with_cpu(activation)`
        behind spaCy's rule-based tokenizer; None for any other model."""
        from spacy.tokenizer import Tokenizer

        if type(nlp.tokenizer) is not Tokenizer or len(model.layers) != 2:
            return None
        features, output = model.layers
        inner = features.layers[0] if features.layers else None
        if inner is None or len(inner.layers) != 2 or inner.layers[0].name != "extract_ngrams":
            return None
        ngrams, linear = inner.layers
        return cls(nlp, ngrams.attrs["ngram_size"], ngrams.attrs["attr"], linear, output, classes)

    def keys(self, text: str) -> np.ndarray:
        """The attribute hashes of the text's tokens, as spaCy's tokenizer would cut it."""
        memo = self.memo
        parts = []
        for m in _SPAN.finditer(text):
            span = m.group()
            # the tokenizer puts one space after a token into the token's whitespace
            if span[0] == " " and m.start():
                span = span[1:]
                if not span:
                    continue
            found = memo.get(span)
            if found is None:
                if len(memo) >= MEMO_SPANS:
                    memo.clear()
                found = memo[span] = self.tokenizer(span).to_array(self.attr)
            parts.append(found)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)

    def predict(self, texts: list[str]) -> np.ndarray:
        """Class probabilities; NaN rows for texts without a token.

        The n-gram counts of the whole batch are computed at once: n-grams that would
        cross two documents are dropped, (document, key) pairs sorted and counted.
        """
        per_doc = [self.keys(text) for text in texts]
        sizes = np.fromiter((k.size for k in per_doc), dtype=np.int64, count=len(per_doc))
        out = np.full((len(texts), self.classes), np.nan, dtype=np.float32)
        found = np.flatnonzero(sizes)
        if not found.size:
            return out
        unigrams = np.concatenate([per_doc[i] for i in found]).astype(np.uint64, copy=False)
        owner = np.repeat(np.arange(found.size), sizes[found])
        keys, docs = [unigrams], [owner]
        for n in range(2, self.ngram_size + 1):
            if unigrams.size < n:
                break
            same = owner[: unigrams.size - n + 1] == owner[n - 1 :]
            keys.append(self.ops.ngrams(n, unigrams)[same])
            docs.append(owner[: unigrams.size - n + 1][same])
        key = np.concatenate(keys)
        doc = np.concatenate(docs)
        order = np.lexsort((key, doc))
        key, doc = key[order], doc[order]
        first = np.ones(key.size, dtype=bool)
        first[1:] = (key[1:] != key[:-1]) | (doc[1:] != doc[:-1])
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, key.size)).astype(np.float32)
        lengths = np.bincount(doc[starts], minlength=found.size).astype(np.int32)
        scores = self.output.predict(self.linear.predict((key[starts], counts, lengths)))
        out[found] = self.ops.to_numpy(scores)
        return out


def chunks(text: str, max_chars: int, max_chunks: int) -> list[str]:
    """At most `max_chunks` pieces of at most `max_chars` characters, cut at a newline or
    space when one is in the second half of the window; [""] for an empty text."""
    out: list[str] = []
    pos = 0
    while pos < len(text) and len(out) < max_chunks:
        end = min(pos + max_chars, len(text))
        if end < len(text):
            cut = max(text.rfind("\n", pos, end), text.rfind(" ", pos, end))
            if cut > pos + max_chars // 2:
                end = cut + 1
        out.append(text[pos:end])
        pos = end
    return out or [""]
