"""Checkpoint averaging: the final weights are the mean of the end weights and the newest
checkpoints before them (Vaswani et al. 2017, Popel and Bojar 2018). A few thousand steps
of a small model on little data end noisy; the mean of the last few hundred steps
translates better than any one of them, and it needs no schedule that knows the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from corpuskit_gpt.checkpoint import CHECKPOINTS, STATE, read_state


def checkpoints_before(run_dir: Path, step: int, count: int) -> list[Path]:
    """The `count` newest complete checkpoints of a run written before `step`."""
    folders = [f for f in (run_dir / CHECKPOINTS).glob("step-*") if (f / STATE).exists()]
    earlier = sorted((read_state(f)["step"], f) for f in folders)
    return [f for s, f in earlier if s < step][-count:] if count > 0 else []


@torch.no_grad()
def average_weights(model: Any, folders: list[Path]) -> None:
    """Replace `model`'s parameters by their mean with those saved in `folders`."""
    from transformers import AutoModelForSeq2SeqLM

    if not folders:
        return
    params = dict(model.named_parameters())
    total = {name: p.detach().double().clone() for name, p in params.items()}
    for folder in folders:
        saved = AutoModelForSeq2SeqLM.from_pretrained(folder, dtype=torch.float32)
        other = dict(saved.named_parameters())
        if other.keys() != params.keys():
            raise ValueError(f"{folder}: its parameters are not the model's; cannot average")
        for name, value in other.items():
            total[name] += value.double().to(total[name].device)
    for name, p in params.items():
        p.copy_((total[name] / (len(folders) + 1)).to(p.dtype))
