"""One-rank DDP check under torchrun: the collective backend, bf16 autocast and compile.

    python -m torch.distributed.run --standalone --nproc-per-node=1 bench/ddp_check.py
    ... bench/ddp_check.py --device cpu --backend gloo --dtype float32   # CPU dry run

Initializes the process group (NCCL on a GPU), checks all_reduce and broadcast, then
trains the plugin's GPT wrapped in DDP for a few steps on a repeated batch and checks
that the loss falls. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch
import torch.distributed as dist
from corpuskit_gpt.config import GPTConfig
from corpuskit_gpt.model import CausalLM, build_model, make_optimizer
from torch.nn.parallel import DistributedDataParallel as DDP


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--backend", default="nccl")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(args.device, local) if args.device == "cuda" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=args.backend)
    t = torch.full((4,), float(rank + 1), device=device)
    dist.all_reduce(t)
    assert t.tolist() == [world * (world + 1) / 2] * 4, t
    b = torch.arange(4.0, device=device) if rank == 0 else torch.zeros(4, device=device)
    dist.broadcast(b, 0)
    assert b.tolist() == [0.0, 1.0, 2.0, 3.0], b

    cfg = GPTConfig(trainer="gpt", n_layer=2, n_head=4, n_embd=128, block_size=64)
    lm = CausalLM(build_model(cfg, vocab_size=512, eot=0)).to(device).train()
    opt = make_optimizer(lm.model, cfg, device.type)
    fwd = torch.compile(lm) if args.compile else lm
    model = DDP(fwd, device_ids=[device.index] if device.type == "cuda" else None)
    dtype = getattr(torch, args.dtype)
    x = torch.randint(0, 512, (8, 64), generator=torch.Generator().manual_seed(0)).to(device)
    losses = []
    started = time.perf_counter()
    for _ in range(args.steps):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = model(x)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 1.0, losses
    if rank == 0:
        print(json.dumps({
            "backend": dist.get_backend(), "world": world, "device": str(device),
            "dtype": args.dtype, "compile": args.compile, "first_loss": round(losses[0], 4),
            "last_loss": round(losses[-1], 4), "seconds": round(time.perf_counter() - started, 2),
        }))  # fmt: skip
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
