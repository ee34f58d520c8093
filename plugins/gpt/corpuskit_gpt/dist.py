"""The process's place in a torchrun job: rank, device, threads, precision, collectives."""

from __future__ import annotations

import contextlib
import inspect
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from corpuskit.training.launch import threads_per_rank
from corpuskit_gpt.config import GPTConfig


@dataclass
class DistEnv:
    rank: int
    local_rank: int
    world: int
    local_world: int
    device: torch.device
    dtype: torch.dtype
    compile: bool
    threads: int

    @property
    def master(self) -> bool:
        return self.rank == 0

    @property
    def device_type(self) -> str:
        return self.device.type

    @property
    def device_ids(self) -> list[int] | None:
        """DDP's device_ids: this rank's GPU, or None on CPU."""
        return [self.device.index] if self.device.type == "cuda" else None

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16/fp16 autocast where configured; float32 runs without it."""
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def all_reduce(self, t: torch.Tensor, op: str = "sum") -> torch.Tensor:
        """In-place sum (or average) over all ranks; a no-op in one process."""
        if self.world > 1:
            dist.all_reduce(t, op=dist.ReduceOp.AVG if op == "avg" else dist.ReduceOp.SUM)
        return t

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj`, in rank order (on every rank)."""
        if self.world == 1:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out


def pick_device(cfg: GPTConfig, local_rank: int) -> torch.device:
    if cfg.device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    device = torch.device(cfg.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank % torch.cuda.device_count())
    return device


def setup(cfg: GPTConfig) -> DistEnv:
    """Join the torchrun job if there is one; pick device, threads and precision."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    device = pick_device(cfg, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    threads = cfg.threads or threads_per_rank(local_world)
    torch.set_num_threads(threads)
    if world > 1 and not dist.is_initialized():
        backend = (
            cfg.backend if cfg.backend != "auto" else ("nccl" if device.type == "cuda" else "gloo")
        )
        kwargs: dict[str, Any] = {"timeout": timedelta(minutes=60)}
        takes_device = "device_id" in inspect.signature(dist.init_process_group).parameters
        if backend == "nccl" and takes_device:
            kwargs["device_id"] = device  # binds the communicator to this GPU
        dist.init_process_group(backend=backend, **kwargs)
    if cfg.dtype == "auto":
        bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        dtype = torch.bfloat16 if bf16 else torch.float32
    else:
        dtype = getattr(torch, cfg.dtype)
    use_compile = cfg.compile == "true" or (cfg.compile == "auto" and device.type == "cuda")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return DistEnv(rank, local_rank, world, local_world, device, dtype, use_compile, threads)


def teardown(env: DistEnv) -> None:
    if env.world > 1 and dist.is_initialized():
        import gc

        gc.collect()  # DDP reducers and pending work objects go while the group is alive
        dist.barrier()
        dist.destroy_process_group()
