"""The training loop: every rank runs `train()`; it reads top to bottom.

Ranks, checkpoints (exact resume: optimizer, scheduler, every rank's RNG, the step as
data position) and the LR schedule are the GPT plugin's; the batches are pairs.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import torch
from corpuskit_gpt.checkpoint import (
    check_world_size,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from corpuskit_gpt.dist import DistEnv, setup, teardown
from corpuskit_gpt.model import make_optimizer
from corpuskit_gpt.monitor import plot_losses
from corpuskit_gpt.train import save_model
from torch.nn.parallel import DistributedDataParallel as DDP

from corpuskit.training import CorpusData
from corpuskit.training.config import batch_layout
from corpuskit_seq2seq.average import average_weights, checkpoints_before
from corpuskit_seq2seq.batches import PairBatches
from corpuskit_seq2seq.config import Seq2SeqConfig
from corpuskit_seq2seq.evaluate import bleu_tokenizer, distributed_translate, scores, split_metrics
from corpuskit_seq2seq.memory import TranslationMemory
from corpuskit_seq2seq.model import build_model, pair_loss, parameter_count
from corpuskit_seq2seq.monitor import Monitor
from corpuskit_seq2seq.pairs import PairShards, held_out, model_inputs
from corpuskit_seq2seq.schedule import make_scheduler
from corpuskit_seq2seq.tokenizer import load_tokenizer

PAIRS_FILE = "pairs.json"


def train(cfg: Seq2SeqConfig, run_dir: Path, data: CorpusData) -> dict[str, Any]:
    env = setup(cfg)
    tok = load_tokenizer(run_dir)
    shards = PairShards.open(Path(json.loads((run_dir / PAIRS_FILE).read_text())["path"]))
    resume_from = latest_checkpoint(run_dir) if cfg.resume != "false" else None
    if resume_from is not None:
        check_world_size(resume_from, env.world, cfg.drop_data_position)
    source = resume_from or (Path(cfg.init_from) if cfg.init_from else None)
    raw = build_model(cfg, tok.get_vocab_size(), source).to(env.device).train()
    optimizer = make_optimizer(raw, cfg, env.device_type)
    scheduler = make_scheduler(optimizer, cfg)
    scaler = torch.amp.GradScaler(env.device_type, enabled=env.dtype == torch.float16)
    state = {"step": 0, "stream": 0, "best_val": None, "best_step": None, "bad_evals": 0}
    torch.manual_seed(cfg.seed + 1 + env.rank)  # dropout: one stream per rank
    if resume_from is not None:
        saved = load_checkpoint(resume_from, optimizer, scheduler, scaler, env)
        state.update({k: saved[k] for k in state})
        if saved["world_size"] != env.world:  # drop_data_position: a fresh data order
            state["stream"] += 1
        env.barrier()
    model = torch.compile(raw, dynamic=True) if env.compile else raw  # checkpoints save `raw`
    ddp = DDP(model, device_ids=env.device_ids) if env.world > 1 else model
    _, accum = batch_layout(cfg.batch_size, cfg.gradient_accumulation_steps, env.world)
    batches = PairBatches.for_rank(*shards.sides("train"), cfg, env)
    monitor = Monitor(run_dir, cfg, env, state["step"])
    monitor.print(
        f"{parameter_count(raw) / 1e6:.2f}M parameters ({cfg.architecture}), "
        f"{len(batches.sources):,} training pairs, {batches.steps_per_epoch} steps per epoch"
    )
    memory = TranslationMemory.load(run_dir) if cfg.translation_memory else None
    val_pairs = held_out(data, "val", cfg.eval_bleu_docs)
    val_inputs = (model_inputs(val_pairs[0], cfg.source_prefix, memory), val_pairs[1])
    tokenize = bleu_tokenizer(cfg.bleu_tokenize, val_pairs[1])

    def evaluate(split: str, max_batches: int | None, pairs: tuple[list, list]) -> dict | None:
        m = split_metrics(model, *shards.sides(split), cfg, max_batches, env)  # every rank
        if m is not None and pairs[0]:
            hyps = distributed_translate(raw, tok, pairs[0], cfg, env)
            m.update(scores(hyps, pairs[1], tokenize))
        return m

    started, step, stop, out_of_time = time.perf_counter(), state["step"], False, False
    cpu_started = time.process_time()
    while step < cfg.max_iters and not stop:
        loss_sum = torch.zeros((), device=env.device)
        tokens = pairs = 0
        for micro in range(accum):
            batch = batches.get(step, micro, state["stream"])
            # Gradients are all-reduced on the last micro-step only: no_sync must cover the
            # forward too, or DDP's reducer is armed for a sync it never does.
            last = micro == accum - 1
            with ddp.no_sync() if env.world > 1 and not last else contextlib.nullcontext():
                with env.autocast():
                    loss = pair_loss(ddp, batch, cfg.label_smoothing, stats=False)[0] / accum
                scaler.scale(loss).backward()
            loss_sum += loss.detach()
            tokens += int(batch["attention_mask"].sum()) + int((batch["labels"] != -100).sum())
            pairs += len(batch["input_ids"])
        if cfg.grad_clip:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(raw.parameters(), cfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        lr = scheduler.get_last_lr()[0]
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        monitor.train(step, loss_sum, tokens, pairs, lr)
        if cfg.eval_interval and step % cfg.eval_interval == 0 and step < cfg.max_iters:
            val = evaluate("val", cfg.eval_batches, val_inputs)
            monitor.evaluation(step, {"val": val})
            stop = track_best(state, val, step, cfg, raw, run_dir, env)
        state["step"] = step
        if cfg.checkpoint_interval and step % cfg.checkpoint_interval == 0:
            save_checkpoint(run_dir, state, raw, optimizer, scheduler, scaler, env, cfg)
        if cfg.max_minutes is not None and time_is_up(started, cfg.max_minutes, env):
            out_of_time = stop = True
    # The loop's wall and CPU seconds (rank 0's process) and its torch threads: on a
    # shared machine the wall clock alone does not say how much work a run got.
    loop: dict[str, Any] = {
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(time.process_time() - cpu_started, 2),
        "threads": torch.get_num_threads(),
    }
    averaged = checkpoints_before(run_dir, step, cfg.average_checkpoints - 1)
    if averaged:  # every rank: they all evaluate the final weights
        average_weights(raw, averaged)
        loop["averaged"] = [f.name for f in averaged]
        monitor.print(f"final weights: the mean of step {step} and {loop['averaged']}")
    final = {"val": evaluate("val", None, val_inputs), "test": evaluate("test", None, ([], []))}
    monitor.evaluation(step, final, final=True)
    monitor.close()
    track_best(state, final["val"], step, cfg, raw, run_dir, env)  # the end competes too
    stopped = "max_minutes" if out_of_time else stop
    summary = finish(cfg, run_dir, env, raw, tok, state, final, loop, stopped, val_pairs, memory)
    teardown(env)
    return summary


def time_is_up(started: float, minutes: float, env: DistEnv) -> bool:
    """Whether rank 0 has run `minutes` since `started`; every rank gets the same answer."""
    late = env.master and time.perf_counter() - started >= minutes * 60
    return bool(env.all_reduce(torch.tensor(float(late), device=env.device)).item())


def metric_value(m: dict, cfg: Seq2SeqConfig) -> float:
    """The best_metric of an evaluation, oriented so that lower is better."""
    return m["loss"] if cfg.best_metric == "loss" else -m[cfg.best_metric]


def track_best(
    state: dict,
    val: dict | None,
    step: int,
    cfg: Seq2SeqConfig,
    raw: Any,
    run_dir: Path,
    env: DistEnv,
) -> bool:
    """Record an improvement (saving best/), count evaluations without one; True = stop."""
    if val is None or (cfg.best_metric != "loss" and cfg.best_metric not in val):
        return False
    value, best = metric_value(val, cfg), state["best_val"]
    if best is None or value < best - cfg.early_stopping_min_delta:
        state.update(best_val=value, best_step=step, bad_evals=0)
        if cfg.save_best and env.master:
            save_model(raw, run_dir, run_dir / "best")
        return False
    state["bad_evals"] += 1
    patience = cfg.early_stopping_patience
    return patience is not None and state["bad_evals"] >= patience


def finish(
    cfg: Seq2SeqConfig,
    run_dir: Path,
    env: DistEnv,
    raw: Any,
    tok: Any,
    state: dict,
    final: dict,
    loop: dict[str, Any],
    stopped: bool | str,
    val_pairs: tuple[list[str], list[str]],
    memory: TranslationMemory | None,
) -> dict[str, Any]:
    """Rank 0: the final model, sample translations, loss curve and summary.json."""
    best = state["best_val"]
    summary: dict[str, Any] = {
        "steps": state["step"],
        "stopped_early": stopped,
        "best_metric": cfg.best_metric,
        "best_val": None if best is None else (best if cfg.best_metric == "loss" else -best),
        "best_step": state["best_step"],
        **loop,
        "model": str(run_dir / "model"),
    }
    for split, m in final.items():
        if m is not None:
            summary.update({f"{split}_{k}": round(v, 5) for k, v in m.items() if k != "tokens"})
    if env.master:
        save_model(raw, run_dir, run_dir / "model")
        if cfg.samples and val_pairs[0]:
            from corpuskit_seq2seq.evaluate import translate

            sources, refs = val_pairs[0][: cfg.samples], val_pairs[1][: cfg.samples]
            inputs = model_inputs(sources, cfg.source_prefix, memory)
            hyps = translate(raw, tok, inputs, cfg, env.device, cfg.num_beams)
            text = "\n\n".join(
                f"source:    {s}\nreference: {r}\nmodel:     {h}"
                for s, r, h in zip(sources, refs, hyps, strict=True)
            )
            (run_dir / "samples.txt").write_text(text + "\n", encoding="utf-8")
        plot_losses(run_dir)
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    env.barrier()
    return summary
