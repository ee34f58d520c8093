"""A translation memory: each source joined with the target of its most similar training pair.

Neural fuzzy repair (Bulté and Tezcan, 2019): the encoder reads `source <sep> match`,
where `match` is the target side of the training pair whose source is nearest by
character n-gram TF-IDF (cosine), and the model learns when to copy the match, when to
repair it and when to ignore it. A training pair never matches itself. The memory is the
training split's pairs, saved in the run folder (memory.parquet) so that evaluation and
generation look up the same matches.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl

from corpuskit_seq2seq.tokenizer import SEP

MEMORY_FILE = "memory.parquet"
CHUNK = 512  # queries scored at once: a dense (CHUNK, memory size) float32 block


class TranslationMemory:
    """The (source, target) pairs of the training split, indexed by their sources."""

    def __init__(self, sources: list[str], targets: list[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not sources:
            raise ValueError("a translation memory needs training pairs")
        self.sources, self.targets = sources, targets
        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 4), sublinear_tf=True)
        self.index = self.vectorizer.fit_transform(sources).T.tocsr()

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for s, t in zip(self.sources, self.targets, strict=True):
            h.update(f"{s}\t{t}\n".encode())
        return h.hexdigest()[:16]

    def matches(self, sources: list[str], targets: list[str] | None = None) -> list[str]:
        """The target of each source's nearest memory pair; with `targets`, never the
        pair (source, target) itself (training pairs are in the memory)."""
        out: list[str] = []
        for start in range(0, len(sources), CHUNK):
            chunk = sources[start : start + CHUNK]
            sims = (self.vectorizer.transform(chunk) @ self.index).toarray()
            two = (
                np.argpartition(-sims, 1, axis=1)[:, :2]
                if sims.shape[1] > 1
                else np.zeros((len(chunk), 2), dtype=np.int64)
            )
            order = np.take_along_axis(sims, two, axis=1).argsort(axis=1)[:, ::-1]
            top = np.take_along_axis(two, order, axis=1)
            for i, (first, second) in enumerate(top):
                best = first
                if targets is not None and (
                    self.sources[first] == chunk[i] and self.targets[first] == targets[start + i]
                ):
                    best = second
                out.append(self.targets[best])
        return out

    def augment(self, sources: list[str], targets: list[str] | None = None) -> list[str]:
        """`source <sep> match` for each source (see `matches`)."""
        return [
            f"{s} {SEP} {m}" for s, m in zip(sources, self.matches(sources, targets), strict=True)
        ]

    def save(self, run_dir: Path) -> None:
        path = run_dir / MEMORY_FILE
        tmp = path.with_name(f".{path.name}.tmp")
        pl.DataFrame({"source": self.sources, "target": self.targets}).write_parquet(tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, folder: Path) -> TranslationMemory | None:
        path = folder / MEMORY_FILE
        if not path.exists():
            return None
        frame = pl.read_parquet(path)
        return cls(frame["source"].to_list(), frame["target"].to_list())
