"""What a run reports: metrics.jsonl, TensorBoard, log lines with tokens/s and MFU,
a progress bar, and the loss-curve PNG at the end. Only rank 0 writes."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from corpuskit_gpt.config import GPTConfig
from corpuskit_gpt.dist import DistEnv
from corpuskit_gpt.model import peak_flops

METRICS = "metrics.jsonl"


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / METRICS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Forget records after `step` (a resumed run logs them again)."""
    path = run_dir / METRICS
    if not path.exists():
        return
    kept = [r for r in read_metrics(run_dir) if r["step"] <= step and not r.get("final")]
    tmp = path.with_name(f".{METRICS}.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    tmp.replace(path)


class Monitor:
    """Every rank calls `train()` each step (log steps all-reduce the loss); rank 0 writes."""

    def __init__(
        self, run_dir: Path, cfg: GPTConfig, env: DistEnv, start_step: int, flops_per_token: float
    ) -> None:
        self.cfg, self.env, self.run_dir = cfg, env, run_dir
        self.tokens_per_step = cfg.batch_size * cfg.gradient_accumulation_steps * cfg.block_size
        self.flops_per_step = flops_per_token * self.tokens_per_step
        self.peak = peak_flops(env.device, cfg.peak_flops)
        self.t0 = self.t_last = time.perf_counter()
        self.step_last = start_step
        self.console = Console(stderr=True, soft_wrap=True)
        self.file = self.tb = self.bar = None
        if not env.master:
            return
        truncate_metrics(run_dir, start_step)
        self.file = open(run_dir / METRICS, "a", encoding="utf-8")  # noqa: SIM115
        if cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tb"), purge_step=start_step)
        show = cfg.progress == "true" or (cfg.progress == "auto" and sys.stderr.isatty())
        if show:
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

    def write(self, record: dict[str, Any]) -> None:
        if self.file is None:
            return
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.tb is not None:
            for key, value in record.items():
                if key in ("step", "time", "final") or not isinstance(value, int | float):
                    continue
                split, _, name = key.partition("_")
                tag = f"{split}/{name}" if split in ("train", "val", "test") else f"perf/{key}"
                self.tb.add_scalar(tag, value, record["step"])

    def print(self, text: str) -> None:
        if self.env.master:
            self.console.print(text, highlight=False)

    def train(self, step: int, loss: torch.Tensor, lr: float) -> None:
        """After optimizer step `step` (1-based): log every log_interval steps and at the end."""
        if self.bar is not None:
            self.bar.update(self.task, completed=step)
        if step % self.cfg.log_interval and step != self.cfg.max_iters:
            return
        loss = self.env.all_reduce(loss.detach().float().clone()) / self.env.world
        if not self.env.master:
            return
        now = time.perf_counter()
        steps, dt = step - self.step_last, max(now - self.t_last, 1e-9)
        self.t_last, self.step_last = now, step
        flops = self.flops_per_step * steps / dt
        record = {
            "step": step,
            "train_loss": round(loss.item(), 6),
            "lr": lr,
            "tokens_per_s": round(self.tokens_per_step * steps / dt, 1),
            "ms_per_step": round(1000 * dt / max(steps, 1), 2),
            "tflops": round(flops / 1e12, 4),
            "time": round(now - self.t0, 3),
        }
        mfu = ""
        if self.peak:
            record["mfu"] = round(flops / (self.peak * self.env.world), 4)
            mfu = f", mfu {100 * record['mfu']:.1f}%"
        self.write(record)
        info = f"loss {record['train_loss']:.4f}, {record['tokens_per_s']:,.0f} tok/s{mfu}"
        if self.bar is not None:
            self.bar.update(self.task, info=info)
        self.print(
            f"step {step}: train loss {record['train_loss']:.4f}, lr {lr:.2e}, "
            f"{record['tokens_per_s']:,.0f} tok/s, {record['ms_per_step']:.1f} ms/step, "
            f"{flops / 1e9:,.1f} GFLOP/s{mfu}"
        )

    def evaluation(self, step: int, results: dict[str, dict | None], final: bool = False) -> None:
        """Validation (and test) metrics: keys val_loss, val_ppl, val_acc, test_loss..."""
        record: dict[str, Any] = {"step": step}
        for split, m in results.items():
            if m is not None:
                record.update({f"{split}_{k}": v for k, v in m.items()})
        if final:
            record["final"] = True
        self.write(record)
        shown = ", ".join(
            f"{s} loss {m['loss']:.4f} (ppl {m['ppl']:.2f}, acc {m['acc']:.3f})"
            for s, m in results.items()
            if m is not None
        )
        self.print(f"step {step}: {'final ' if final else ''}{shown}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
        if self.tb is not None:
            self.tb.close()
        if self.file is not None:
            self.file.close()


def plot_losses(run_dir: Path) -> Path | None:
    """loss.png: training and validation loss against the step."""
    records = read_metrics(run_dir)
    train = [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    if not train and not val:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train:
        ax.plot(*zip(*train, strict=True), label="train", linewidth=1)
    if val:
        ax.plot(*zip(*val, strict=True), label="validation", marker="o", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(run_dir.name)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = run_dir / "loss.png"
    fig.savefig(out)
    plt.close(fig)
    return out
