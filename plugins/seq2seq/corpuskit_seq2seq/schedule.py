"""The learning-rate schedule: the gpt plugin's cosine, or an inverse square root that
needs no end step (a run cut by `max_minutes` still ends at a sensible rate)."""

from __future__ import annotations

import math

import torch
from corpuskit_gpt.model import lr_at

from corpuskit_seq2seq.config import Seq2SeqConfig


def learning_rate(step: int, cfg: Seq2SeqConfig) -> float:
    """The rate of optimizer step `step` (0-based).

    cosine: linear warmup, then cosine decay to `min_lr` at `lr_decay_iters` (gpt's).
    inverse_sqrt: the same warmup, then `learning_rate * sqrt(warmup / step)`, never
    below `min_lr` (Vaswani et al. 2017, fairseq's `inverse_sqrt`).
    """
    if cfg.lr_schedule == "cosine" or step < cfg.warmup_iters:
        return lr_at(step, cfg)
    decayed = cfg.learning_rate * math.sqrt(max(1, cfg.warmup_iters) / (step + 1))
    return max(cfg.min_lr, decayed)


def make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: Seq2SeqConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate(step, cfg) / cfg.learning_rate
    )
