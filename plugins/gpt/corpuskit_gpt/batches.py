"""Which token windows each rank reads: a pure function of (seed, stream, step).

Step `s` of the run uses `batch_size x gradient_accumulation_steps` random windows
(the global batch), drawn from a generator seeded with (seed, stream, s). With `world`
ranks each takes `accumulation` micro-batches of `micro` windows (GPTConfig.batch_layout);
micro-step m of rank r takes the slice at `(m * world + r) * micro`, so any world size
sees the same global batch, each rank reads only its own windows from the memory-mapped
shard, and the data position of a resumed run is just its step number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from corpuskit_gpt.config import GPTConfig
    from corpuskit_gpt.dist import DistEnv


class TrainBatches:
    """Random `block_size` windows of the training tokens, as int64 tensors on `device`."""

    def __init__(
        self,
        tokens: np.ndarray,
        block_size: int,
        micro: int,
        accumulation: int,
        seed: int,
        rank: int,
        world: int,
        device: torch.device,
    ) -> None:
        if len(tokens) < block_size + 1:
            raise ValueError(
                f"the training split has {len(tokens)} tokens, fewer than block_size + 1 "
                f"({block_size + 1}); use more data or a smaller block_size"
            )
        self.tokens, self.block, self.micro = tokens, block_size, micro
        self.accumulation, self.seed, self.rank, self.world = accumulation, seed, rank, world
        self.device = device
        self.offsets = np.arange(block_size)

    @classmethod
    def for_rank(cls, tokens: np.ndarray, cfg: GPTConfig, env: DistEnv) -> TrainBatches:
        """This rank's view of the training tokens under `cfg`."""
        micro, accumulation = cfg.batch_layout(env.world)
        return cls(
            tokens,
            cfg.block_size,
            micro,
            accumulation,
            cfg.seed,
            env.rank,
            env.world,
            env.device,
        )

    def get(self, step: int, micro: int, stream: int = 0) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, stream, step])
        total = self.micro * self.accumulation * self.world
        starts = rng.integers(0, len(self.tokens) - self.block + 1, total)
        first = (micro * self.world + self.rank) * self.micro
        mine = starts[first : first + self.micro]
        x = torch.from_numpy(self.tokens[mine[:, None] + self.offsets].astype(np.int64))
        if self.device.type == "cuda":
            return x.pin_memory().to(self.device, non_blocking=True)
        return x.to(self.device)


def eval_windows(n_tokens: int, block_size: int, limit: int | None) -> tuple[np.ndarray, int]:
    """(start offsets, window length) of evaluation windows.

    Consecutive windows overlap by one token, so every token but the first is predicted
    exactly once; at most `limit` of them, evenly spread over the split.
    """
    if n_tokens < 2:
        return np.zeros(0, dtype=np.int64), 0
    block = min(block_size, n_tokens)
    starts = np.arange(0, n_tokens - block + 1, block - 1, dtype=np.int64)
    if limit is not None and len(starts) > limit:
        starts = np.unique(np.linspace(0, len(starts) - 1, limit).round().astype(np.int64))
        starts = starts * (block - 1)
    return starts, block
