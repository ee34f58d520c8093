"""Starting a training run: in this process, or as N ranks under torchrun.

Nothing here imports torch: `corpuskit train` validates the config, writes it to the
run folder, lets the trainer prepare its data once per machine (tokenizer, token
shards), then runs fit() here (one process) or starts
`python -m torch.distributed.run ... -m corpuskit.training.worker RUN_DIR`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpuskit.training.base import Trainer, get_trainer, validate_config
from corpuskit.training.config import (
    TrainConfigError,
    TrainerConfig,
    merge,
    read_config_file,
    save_config,
)
from corpuskit.training.data import CorpusData

CONFIG_FILE = "config.yaml"


class TrainingFailed(RuntimeError):
    """A rank exited with an error; torchrun's output above says which and why."""


@dataclass(frozen=True)
class LaunchOptions:
    """Process layout: ranks on this machine, and the multi-node rendezvous (torchrun's flags)."""

    nproc: int = 1
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str | None = None
    master_port: int | None = None
    rdzv_endpoint: str | None = None
    rdzv_id: str | None = None

    @property
    def distributed(self) -> bool:
        return self.nproc > 1 or self.nnodes > 1


def cpu_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def threads_per_rank(ranks_here: int, cores: int | None = None) -> int:
    """Threads for each of `ranks_here` processes so that ranks x threads <= cores.

    Oversubscribed CPU ranks spin against each other in OpenMP barriers: 2 gloo ranks
    with 2 threads each on 2 cores ran about 18x slower than with 1 thread each.
    """
    return max(1, (cores or cpu_cores()) // max(1, ranks_here))


def torchrun_command(run_dir: Path, opts: LaunchOptions) -> list[str]:
    """The torchrun command line that starts this machine's ranks of the run."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={opts.nproc}"]
    if opts.nnodes == 1 and not opts.rdzv_endpoint and not opts.master_addr:
        cmd.append("--standalone")  # a free local port, no rendezvous to configure
    else:
        cmd += [f"--nnodes={opts.nnodes}", f"--node-rank={opts.node_rank}"]
        if opts.rdzv_endpoint:
            cmd += ["--rdzv-backend=c10d", f"--rdzv-endpoint={opts.rdzv_endpoint}"]
            cmd += [f"--rdzv-id={opts.rdzv_id or run_dir.name}"]
        else:
            cmd += [f"--master-addr={opts.master_addr or '127.0.0.1'}"]
            cmd += [f"--master-port={opts.master_port or 29500}"]
    return [*cmd, "-m", "corpuskit.training.worker", str(run_dir)]


def rank_environment(opts: LaunchOptions, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the ranks: thread counts that do not oversubscribe the cores."""
    env = dict(os.environ if base is None else base)
    threads = str(threads_per_rank(opts.nproc))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, threads)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def open_data(config: TrainerConfig) -> CorpusData:
    if not config.data:
        raise TrainConfigError(
            "data: no corpus; set `data:` in the config or pass --data OUTPUT_DIR"
        )
    return CorpusData(config.data, config.split, config.text_field, config.data_fields())


def run_training(config: TrainerConfig, opts: LaunchOptions | None = None) -> dict[str, Any]:
    """Prepare, then fit here or on `opts.nproc` torchrun ranks; returns the fit summary."""
    opts = opts or LaunchOptions()
    cls = get_trainer(config.trainer)
    if opts.distributed and not cls.distributed:
        raise TrainConfigError(f"trainer {config.trainer!r} does not support --nproc > 1")
    data = open_data(config)
    run_dir = Path(config.run_dir or "runs/run")
    save_config(config, run_dir / CONFIG_FILE)
    trainer: Trainer = cls(config)
    trainer.prepare(data, run_dir, world_size=opts.nproc * opts.nnodes)
    if not opts.distributed:
        return trainer.fit(data, run_dir)
    proc = subprocess.run(torchrun_command(run_dir, opts), env=rank_environment(opts))
    if proc.returncode != 0:
        raise TrainingFailed(f"training failed: torchrun exited with status {proc.returncode}")
    summary = run_dir / "summary.json"
    if summary.exists():
        import json

        return json.loads(summary.read_text(encoding="utf-8"))
    return {}


def load_run(run_dir: str | Path, data: str | None = None) -> tuple[Trainer, CorpusData | None]:
    """The trainer of a finished (or running) run folder, and its corpus if it still exists."""
    run_dir = Path(run_dir)
    path = run_dir / CONFIG_FILE
    if not path.exists():
        raise TrainConfigError(f"{run_dir} is not a run folder (no {CONFIG_FILE})")
    raw = merge(read_config_file(path), {"data": data} if data else {})
    config = validate_config(raw, origin=str(path))
    trainer = get_trainer(config.trainer)(config)
    corpus = open_data(config) if config.data and Path(config.data).exists() else None
    return trainer, corpus
