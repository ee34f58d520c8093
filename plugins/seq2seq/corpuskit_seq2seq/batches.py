"""Which pairs each rank trains on at each step: a pure function of (seed, stream, step).

Epoch e shuffles the training pairs with a generator seeded by (seed, stream, e), sorts
each pool of `length_pool` global batches by source length, then target length (both
sides are padded to their batch's longest, so a batch holds pairs of similar lengths on
both sides: 3.5% padding on cmn_eng with a translation memory and a pool of the whole
epoch, against 19% when sorted by the longer side in pools of 50), cuts the pools into
global batches of `batch_size x gradient_accumulation_steps` pairs and shuffles their
order. Step s is batch `s mod steps_per_epoch` of epoch `s div steps_per_epoch`;
micro-step m of rank r takes the slice `(m * world + r) * micro` of it, where `micro`
comes from `batch_layout` (`batch_size` when the accumulation steps divide over the
ranks). Any world size sees the same global batch, and the data position of a resumed run
is its step number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from corpuskit.training.collate import Ragged
from corpuskit.training.config import batch_layout
from corpuskit_seq2seq.tokenizer import special_ids

if TYPE_CHECKING:
    from corpuskit_gpt.dist import DistEnv

    from corpuskit_seq2seq.config import Seq2SeqConfig

IGNORE = -100  # label of padding: no loss


class PairBatches:
    """Micro-batches of training pairs as (input_ids, attention_mask, labels) tensors."""

    def __init__(
        self,
        sources: Ragged,
        targets: Ragged,
        cfg: Seq2SeqConfig,
        rank: int,
        world: int,
        device: torch.device,
    ) -> None:
        self.global_batch = cfg.batch_size * cfg.gradient_accumulation_steps
        if len(sources) < self.global_batch:
            raise ValueError(
                f"the training split has {len(sources)} pairs, fewer than one global batch "
                f"(batch_size x gradient_accumulation_steps = {self.global_batch})"
            )
        self.sources, self.targets, self.cfg = sources, targets, cfg
        self.rank, self.world, self.device = rank, world, device
        self.micro, _ = batch_layout(cfg.batch_size, cfg.gradient_accumulation_steps, world)
        self.source_lengths = np.minimum(sources.lengths, cfg.max_source_length)
        self.target_lengths = np.minimum(targets.lengths, cfg.max_target_length)
        self.steps_per_epoch = len(sources) // self.global_batch
        self._epoch: tuple[int, int] | None = None
        self._order = np.zeros(0, dtype=np.int64)

    @classmethod
    def for_rank(
        cls, sources: Ragged, targets: Ragged, cfg: Seq2SeqConfig, env: DistEnv
    ) -> PairBatches:
        return cls(sources, targets, cfg, env.rank, env.world, env.device)

    def epoch_order(self, epoch: int, stream: int = 0) -> np.ndarray:
        """The pairs of one epoch in step order: (steps_per_epoch, global_batch) indices."""
        if self._epoch != (epoch, stream):
            rng = np.random.default_rng([self.cfg.seed, stream, epoch])
            perm = rng.permutation(len(self.sources))
            pool = self.global_batch * self.cfg.length_pool
            chunks = [perm[i : i + pool] for i in range(0, len(perm), pool)]
            by_length = np.concatenate(
                [c[np.lexsort((self.target_lengths[c], self.source_lengths[c]))] for c in chunks]
            )
            used = self.steps_per_epoch * self.global_batch
            batches = by_length[:used].reshape(self.steps_per_epoch, self.global_batch)
            self._order = batches[rng.permutation(self.steps_per_epoch)]
            self._epoch = (epoch, stream)
        return self._order

    def rows(self, step: int, micro: int, stream: int = 0) -> np.ndarray:
        """The pair indices of this rank's micro-batch `micro` at optimizer step `step`."""
        epoch, i = divmod(step, self.steps_per_epoch)
        first = (micro * self.world + self.rank) * self.micro
        return self.epoch_order(epoch, stream)[i, first : first + self.micro]

    def get(self, step: int, micro: int, stream: int = 0) -> dict[str, torch.Tensor]:
        return collate(
            self.sources, self.targets, self.rows(step, micro, stream), self.cfg, self.device
        )


def collate(
    sources: Ragged,
    targets: Ragged,
    rows: np.ndarray,
    cfg: Seq2SeqConfig,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    """Pairs `rows` as model inputs: sources and labels each end in </s>, padding ignored."""
    ids = special_ids()
    src, mask = sources.pad(rows, ids["pad"], cfg.max_source_length, append=ids["eos"])
    tgt, tmask = targets.pad(rows, ids["pad"], cfg.max_target_length, append=ids["eos"])
    labels = np.where(tmask, tgt, IGNORE)
    out = {
        "input_ids": torch.from_numpy(src),
        "attention_mask": torch.from_numpy(mask),
        "labels": torch.from_numpy(labels),
    }
    if device.type == "cuda":
        return {k: v.pin_memory().to(device, non_blocking=True) for k, v in out.items()}
    return {k: v.to(device) for k, v in out.items()}
