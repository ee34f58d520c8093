"""Checkpoints that resume exactly and that transformers loads.

    RUN_DIR/checkpoints/step-0000500/
        model.safetensors, config.json      save_pretrained: AutoModelForCausalLM loads it
        tokenizer.json, tokenizer_config.json
        trainer_state.pt                    optimizer, scheduler, grad scaler, every rank's RNG
        state.json                          step, data stream, best validation, world size
    RUN_DIR/checkpoints/latest              name of the newest complete checkpoint

A checkpoint is written under a temporary name and renamed when complete, then
`latest` is replaced; a run killed at any moment leaves the previous one intact.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

from corpuskit.training import TrainConfigError

CHECKPOINTS = "checkpoints"
LATEST = "latest"
STATE = "state.json"


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, if any (reads no tensors)."""
    pointer = run_dir / CHECKPOINTS / LATEST
    if not pointer.exists():
        return None
    path = run_dir / CHECKPOINTS / pointer.read_text(encoding="utf-8").strip()
    return path if (path / STATE).exists() else None


def read_state(checkpoint: Path) -> dict[str, Any]:
    return json.loads((checkpoint / STATE).read_text(encoding="utf-8"))


def save_checkpoint(
    run_dir: Path,
    state: dict[str, Any],
    raw_model: Any,
    optimizer: Any,
    scheduler: Any,
    scaler: Any,
    env: Any,
    cfg: Any,
) -> None:
    """Every rank calls this (their RNG states are gathered); rank 0 writes."""
    import torch

    from corpuskit_gpt.tokenizer import copy_tokenizer

    rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if env.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(env.device)
    rngs = env.gather(rng)
    if env.master:
        folder = run_dir / CHECKPOINTS
        name = f"step-{state['step']:07d}"
        tmp = folder / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        raw_model.save_pretrained(tmp)
        copy_tokenizer(run_dir, tmp)
        torch.save(
            {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "rng": rngs,
            },
            tmp / "trainer_state.pt",
        )
        (tmp / STATE).write_text(json.dumps({**state, "world_size": env.world}), encoding="utf-8")
        shutil.rmtree(folder / name, ignore_errors=True)
        tmp.rename(folder / name)
        pointer = folder / f".{LATEST}.tmp"
        pointer.write_text(name, encoding="utf-8")
        pointer.replace(folder / LATEST)
        for old in sorted(folder.glob("step-*"))[: -cfg.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
    env.barrier()


def load_checkpoint(
    checkpoint: Path, optimizer: Any, scheduler: Any, scaler: Any, env: Any
) -> dict[str, Any]:
    """Restore optimizer, scheduler, scaler and this rank's RNG; returns state.json."""
    import torch

    blob = torch.load(checkpoint / "trainer_state.pt", map_location="cpu", weights_only=True)
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    scaler.load_state_dict(blob["scaler"])
    rngs = blob["rng"]
    if env.rank < len(rngs):
        mine = rngs[env.rank]
        torch.set_rng_state(mine["torch"])
        random.setstate(mine["python"])
        if env.device.type == "cuda" and "cuda" in mine:
            torch.cuda.set_rng_state(mine["cuda"], env.device)
    return read_state(checkpoint)


def check_world_size(checkpoint: Path, world: int, drop_data_position: bool) -> None:
    """Refuse to resume with another world size unless the data position may be dropped."""
    saved = read_state(checkpoint).get("world_size", world)
    if saved != world and not drop_data_position:
        raise ValueError(
            f"{checkpoint} was written by {saved} process(es), this run has {world}: the "
            "per-rank data position and random streams do not carry over. Resume with the "
            "same --nproc, or pass drop_data_position=true to continue with a fresh data order"
        )


def resume_point(
    run_dir: Path,
    resume: str,
    world_size: int,
    drop_data_position: bool,
    run_outputs: tuple[str, ...],
) -> Path | None:
    """The checkpoint a run resumes from, after the `resume` checks (`auto`, `true`,
    `false`); `false` clears `run_outputs` from the run folder first."""
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = latest_checkpoint(run_dir) if resume != "false" else None
    if resume == "true" and checkpoint is None:
        raise TrainConfigError(f"resume: true, but {run_dir / CHECKPOINTS} holds no checkpoint")
    if resume == "false":
        for name in run_outputs:
            path = run_dir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    if checkpoint is not None:
        try:
            check_world_size(checkpoint, world_size, drop_data_position)
        except ValueError as e:
            raise TrainConfigError(str(e)) from None
    return checkpoint
