"""Variable-length token sequences: stored flat, padded into batches (a collator).

Trainers whose examples are separate sequences (pairs for translation or summarization,
labelled texts) keep each split as a `Ragged`: one flat token array and the offsets of
each sequence, two `.npy` files that load memory-mapped, so a rank reads only the rows
of its batches. `Ragged.pad` is the collator: rows to a padded matrix and its mask, in
numpy (no torch here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Ragged:
    """`len(offsets) - 1` sequences; sequence i is `values[offsets[i]:offsets[i + 1]]`."""

    values: np.ndarray
    offsets: np.ndarray  # int64, starts with 0

    @classmethod
    def from_lists(cls, seqs: Sequence[Sequence[int]], dtype: np.dtype | type) -> Ragged:
        lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        values = np.fromiter(chain.from_iterable(seqs), dtype=dtype, count=int(offsets[-1]))
        return cls(values, offsets)

    @classmethod
    def concat(cls, parts: Sequence[Ragged]) -> Ragged:
        if not parts:
            raise ValueError("nothing to concatenate")
        values = np.concatenate([p.values for p in parts])
        starts = np.cumsum([0, *(len(p.values) for p in parts[:-1])])
        offsets = np.concatenate(
            [[0], *(p.offsets[1:] + s for p, s in zip(parts, starts, strict=True))]
        ).astype(np.int64)
        return cls(values, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        return np.asarray(self.values[self.offsets[i] : self.offsets[i + 1]])

    def save(self, stem: Path) -> None:
        """`<stem>.values.npy` and `<stem>.offsets.npy`."""
        np.save(stem.with_name(stem.name + ".values.npy"), self.values)
        np.save(stem.with_name(stem.name + ".offsets.npy"), self.offsets)

    @classmethod
    def load(cls, stem: Path, mmap: bool = True) -> Ragged:
        mode = "r" if mmap else None
        values = np.load(stem.with_name(stem.name + ".values.npy"), mmap_mode=mode)
        offsets = np.load(stem.with_name(stem.name + ".offsets.npy"))
        return cls(values, offsets)

    def pad(
        self,
        rows: np.ndarray | Sequence[int],
        pad_id: int,
        max_len: int | None = None,
        append: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows as an int64 (n, longest) matrix padded with `pad_id`, and its bool mask.

        `append` (e.g. end-of-sequence) follows each row's tokens; a row longer than
        `max_len` (the appended token included) keeps its first tokens.
        """
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.offsets[rows]
        lengths = self.offsets[rows + 1] - starts
        room = None if max_len is None else max_len - (append is not None)
        if room is not None:
            if room < 0:
                raise ValueError(f"max_len {max_len} leaves no room for a token")
            lengths = np.minimum(lengths, room)
        width = int(lengths.max(initial=0)) + (append is not None)
        pos = np.arange(width, dtype=np.int64)[None, :]
        mask = pos < lengths[:, None]
        index = np.where(mask, starts[:, None] + pos, 0)
        out = np.where(mask, np.asarray(self.values)[index] if len(self.values) else 0, pad_id)
        out = out.astype(np.int64)
        if append is not None:
            out[np.arange(len(rows)), lengths] = append
            mask = pos < (lengths + 1)[:, None]
        return out, mask
