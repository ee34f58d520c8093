"""What a run reports: metrics.jsonl, TensorBoard, log lines with pairs/s and tokens/s,
a progress bar, the loss curve. Only rank 0 writes. The metric files, their truncation
on resume, writing records (file and TensorBoard) and the loss plot are the GPT plugin's
Monitor's, so both runs read the same way; the log lines count pairs, not FLOPs."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import torch
from corpuskit_gpt.dist import DistEnv
from corpuskit_gpt.monitor import METRICS, truncate_metrics
from corpuskit_gpt.monitor import Monitor as GPTMonitor
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from corpuskit_seq2seq.config import Seq2SeqConfig


class Monitor(GPTMonitor):
    """Every rank calls `train()` each step (log steps all-reduce); rank 0 writes."""

    def __init__(self, run_dir: Path, cfg: Seq2SeqConfig, env: DistEnv, start_step: int) -> None:
        self.cfg, self.env, self.run_dir = cfg, env, run_dir
        self.t0 = self.t_last = time.perf_counter()
        self.step_last = start_step
        self.pending = torch.zeros(3, dtype=torch.float64, device=env.device)  # loss, tokens, pairs
        self.console = Console(stderr=True, soft_wrap=True)
        self.file = self.tb = self.bar = None
        if not env.master:
            return
        truncate_metrics(run_dir, start_step)
        self.file = open(run_dir / METRICS, "a", encoding="utf-8")  # noqa: SIM115
        if cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tb"), purge_step=start_step)
        if cfg.progress == "true" or (cfg.progress == "auto" and sys.stderr.isatty()):
            self.bar = Progress(
                TextColumn("[bold]train[/bold]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.task = self.bar.add_task(
                "train", total=cfg.max_iters, completed=start_step, info=""
            )
            self.bar.start()

    def train(self, step: int, loss: torch.Tensor, tokens: int, pairs: int, lr: float) -> None:
        """After optimizer step `step` (1-based): this rank's loss and its batch sizes."""
        self.pending += torch.tensor(
            [loss.item(), tokens, pairs], dtype=torch.float64, device=self.env.device
        )
        if self.bar is not None:
            self.bar.update(self.task, completed=step)
        if step % self.cfg.log_interval and step != self.cfg.max_iters:
            return
        sums = self.env.all_reduce(self.pending.clone())
        self.pending.zero_()
        if not self.env.master:
            return
        now = time.perf_counter()
        steps, dt = max(step - self.step_last, 1), max(now - self.t_last, 1e-9)
        self.t_last, self.step_last = now, step
        record = {
            "step": step,
            "train_loss": round(sums[0].item() / (steps * self.env.world), 6),
            "lr": lr,
            "tokens_per_s": round(sums[1].item() / dt, 1),
            "pairs_per_s": round(sums[2].item() / dt, 2),
            "ms_per_step": round(1000 * dt / steps, 2),
            "time": round(now - self.t0, 3),
        }
        self.write(record)
        info = f"loss {record['train_loss']:.4f}, {record['pairs_per_s']:,.0f} pairs/s"
        if self.bar is not None:
            self.bar.update(self.task, info=info)
        self.print(
            f"step {step}: train loss {record['train_loss']:.4f}, lr {lr:.2e}, "
            f"{record['pairs_per_s']:,.1f} pairs/s, {record['tokens_per_s']:,.0f} tok/s, "
            f"{record['ms_per_step']:.1f} ms/step"
        )

    def evaluation(self, step: int, results: dict[str, dict | None], final: bool = False) -> None:
        """Validation (and test) metrics: val_loss, val_ppl, val_acc, val_bleu, val_chrf..."""
        record: dict[str, Any] = {"step": step}
        for split, m in results.items():
            if m is not None:
                record.update({f"{split}_{k}": v for k, v in m.items()})
        if final:
            record["final"] = True
        self.write(record)
        shown = "; ".join(
            f"{s} " + ", ".join(f"{k} {v:.4g}" for k, v in m.items() if k != "tokens")
            for s, m in results.items()
            if m is not None
        )
        self.print(f"step {step}: {'final ' if final else ''}{shown}")
