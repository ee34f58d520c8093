"""The training loop, nanoGPT style: every rank runs `train()`; it reads top to bottom."""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from corpuskit.training import CorpusData
from corpuskit.training.trial import TrialInfo, TrialReporter
from corpuskit_gpt.batches import TrainBatches
from corpuskit_gpt.checkpoint import (
    check_world_size,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from corpuskit_gpt.config import GPTConfig
from corpuskit_gpt.dist import DistEnv, setup, teardown
from corpuskit_gpt.evaluate import continuation_scores, sample_texts, split_metrics
from corpuskit_gpt.model import (
    CausalLM,
    build_model,
    flops_per_token,
    make_optimizer,
    make_scheduler,
)
from corpuskit_gpt.monitor import Monitor, plot_losses
from corpuskit_gpt.shards import TokenShards
from corpuskit_gpt.tokenizer import copy_tokenizer, eot_id, load_tokenizer

TOKENS_FILE = "tokens.json"


def train(cfg: GPTConfig, run_dir: Path, data: CorpusData | None = None) -> dict[str, Any]:
    env = setup(cfg)
    tok = load_tokenizer(run_dir)
    shards = TokenShards.open(Path(json.loads((run_dir / TOKENS_FILE).read_text())["path"]))
    resume_from = latest_checkpoint(run_dir) if cfg.resume != "false" else None
    if resume_from is not None:
        check_world_size(resume_from, env.world, cfg.drop_data_position)
    source = resume_from or (Path(cfg.init_from) if cfg.init_from else None)
    raw = build_model(cfg, tok.get_vocab_size(), eot_id(tok), source).to(env.device).train()
    lm = CausalLM(raw, cfg.label_smoothing)  # the training forward and loss over `raw`
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
    model = torch.compile(lm) if env.compile else lm  # checkpoints save `raw`, never `model`
    ddp = DDP(model, device_ids=env.device_ids) if env.world > 1 else model
    _, accum = cfg.batch_layout(env.world)  # micro-steps on each rank
    batches = TrainBatches.for_rank(shards.tokens("train"), cfg, env)
    monitor = Monitor(run_dir, cfg, env, state["step"], flops_per_token(raw, cfg.block_size))
    tuning = TrialInfo.read(run_dir) is not None  # a `corpuskit tune` trial: report, maybe prune
    reporter = TrialReporter.for_run(run_dir) if tuning and env.master else None

    def evaluate(split: str, max_batches: int | None) -> dict | None:  # on every rank
        tokens = shards.tokens(split)
        return split_metrics(lm, tokens, cfg.block_size, cfg.batch_size, max_batches, env)

    started, step, stop, pruned = time.perf_counter(), state["step"], False, False
    while step < cfg.max_iters and not stop:
        loss_sum = torch.zeros((), device=env.device)
        for micro in range(accum):
            x = batches.get(step, micro, state["stream"])
            # Gradients are all-reduced on the last micro-step only: no_sync must cover the
            # forward too, or DDP's reducer is armed for a sync it never does.
            last = micro == accum - 1
            with ddp.no_sync() if env.world > 1 and not last else contextlib.nullcontext():
                with env.autocast():
                    loss = ddp(x) / accum  # mean next-token cross-entropy of x
                scaler.scale(loss).backward()
            loss_sum += loss.detach()
        if cfg.grad_clip:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(raw.parameters(), cfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        lr = scheduler.get_last_lr()[0]
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        monitor.train(step, loss_sum, lr)
        if cfg.eval_interval and step % cfg.eval_interval == 0 and step < cfg.max_iters:
            val = evaluate("val", cfg.eval_iters)
            monitor.evaluation(step, {"val": val})
            stop = track_best(state, val, step, cfg, raw, run_dir, env)
            if tuning and prune(reporter, env, step, val):
                stop = pruned = True
        state["step"] = step
        if cfg.checkpoint_interval and step % cfg.checkpoint_interval == 0:
            save_checkpoint(run_dir, state, raw, optimizer, scheduler, scaler, env, cfg)
    seconds = time.perf_counter() - started
    if pruned:  # the search needs no final evaluation of a pruned trial
        monitor.close()
        summary = finish_pruned(run_dir, env, state, seconds)
        del ddp, model
        teardown(env)
        return summary
    final = {split: evaluate(split, cfg.final_eval_iters) for split in ("val", "test")}
    monitor.evaluation(step, final, final=True)
    monitor.close()
    settle_best(state, final["val"], step, cfg, raw, run_dir, env, shards)
    summary = finish(cfg, run_dir, env, raw, tok, state, final, seconds, stop, data)
    # The DDP reducer holds the process group: dropped after teardown, its destructor
    # joined gloo's worker thread while holding the GIL the thread waited for (a rank hung
    # at exit in the DDP test). Dropping it while the group is alive avoids that.
    del ddp, model
    teardown(env)
    return summary


def prune(reporter: TrialReporter | None, env: DistEnv, step: int, val: dict | None) -> bool:
    """Rank 0 reports the validation loss to the study; every rank learns the verdict."""
    flag = torch.zeros((), device=env.device)
    if reporter is not None and val is not None and reporter.report(step, val["loss"]):
        flag += 1
    return bool(env.all_reduce(flag).item())


def settle_best(
    state: dict,
    val: dict | None,
    step: int,
    cfg: GPTConfig,
    raw: Any,
    run_dir: Path,
    env: DistEnv,
    shards: TokenShards,
) -> None:
    """The final model competes for best/: scored on the same windows as the kept best.

    Periodic validations use `eval_iters` batches, the final one `final_eval_iters`; the
    kept best/ is scored again on the final windows so that both compare on equal terms.
    """
    if val is None:
        return
    best_dir = run_dir / "best"
    env.barrier()  # rank 0 wrote best/
    kept = None
    if state["best_step"] is not None and state["best_step"] != step and best_dir.exists():
        from corpuskit_gpt.model import GPT2LMHeadModel

        model = GPT2LMHeadModel.from_pretrained(best_dir, dtype=torch.float32).to(env.device)
        kept = split_metrics(
            CausalLM(model),
            shards.tokens("val"),
            cfg.block_size,
            cfg.batch_size,
            cfg.final_eval_iters,
            env,
        )
        del model
    if kept is None or val["loss"] <= kept["loss"]:
        state.update(best_val=val["loss"], best_step=step)
        if cfg.save_best and env.master:
            save_model(raw, run_dir, best_dir)
    else:
        state["best_val"] = kept["loss"]
    env.barrier()


def track_best(
    state: dict,
    val: dict | None,
    step: int,
    cfg: GPTConfig,
    raw: Any,
    run_dir: Path,
    env: DistEnv,
) -> bool:
    """Record an improvement (saving best/), count evaluations without one; True = stop."""
    if val is None:
        return False
    best = state["best_val"]
    if best is None or val["loss"] < best - cfg.early_stopping_min_delta:
        state.update(best_val=val["loss"], best_step=step, bad_evals=0)
        if cfg.save_best and env.master:
            save_model(raw, run_dir, run_dir / "best")
        return False
    state["bad_evals"] += 1
    patience = cfg.early_stopping_patience
    return patience is not None and state["bad_evals"] >= patience


def continuation_summary(
    raw: Any, tok: Any, data: CorpusData, cfg: GPTConfig, env: DistEnv, final: dict
) -> dict[str, Any]:
    """BLEU and chrF of greedy continuations of held-out documents (test, else val)."""
    split = "test" if final.get("test") is not None else "val"
    scores = continuation_scores(
        raw, tok, data.texts(split), cfg.bleu_docs, cfg.block_size, env.device
    )
    if not scores:
        return {}
    return {
        f"{split}_bleu": round(scores["bleu"], 3),
        f"{split}_chrf": round(scores["chrf"], 3),
        f"{split}_bleu_docs": scores["bleu_docs"],
    }


def save_model(raw: Any, run_dir: Path, folder: Path) -> None:
    """Weights (safetensors) and tokenizer: AutoModelForCausalLM / AutoTokenizer load it."""
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    raw.save_pretrained(tmp)
    copy_tokenizer(run_dir, tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def finish_pruned(run_dir: Path, env: DistEnv, state: dict, seconds: float) -> dict[str, Any]:
    """Rank 0: summary.json of a trial the search pruned (no final evaluation, no model)."""
    summary = {
        "steps": state["step"],
        "pruned": True,
        "best_val_loss": state["best_val"],
        "best_step": state["best_step"],
        "seconds": round(seconds, 2),
    }
    if env.master:
        plot_losses(run_dir)
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    env.barrier()
    return summary


def finish(
    cfg: GPTConfig,
    run_dir: Path,
    env: DistEnv,
    raw: Any,
    tok: Any,
    state: dict,
    final: dict,
    seconds: float,
    stopped: bool,
    data: CorpusData | None,
) -> dict[str, Any]:
    """Rank 0: the final model, test BLEU/chrF, samples, loss curve and summary.json."""
    summary: dict[str, Any] = {
        "steps": state["step"],
        "stopped_early": stopped,
        "best_val_loss": round(state["best_val"], 5) if state["best_val"] is not None else None,
        "best_step": state["best_step"],
        "seconds": round(seconds, 2),
        "model": str(run_dir / "model"),
        "best": str(run_dir / "best") if cfg.save_best else None,
    }
    for split, m in final.items():
        if m is not None:
            summary[f"{split}_loss"] = round(m["loss"], 5)
            summary[f"{split}_ppl"] = round(m["ppl"], 4)
            summary[f"{split}_acc"] = round(m["acc"], 5)
    if env.master:
        if cfg.bleu_docs and data is not None:
            summary.update(continuation_summary(raw, tok, data, cfg, env, final))
        save_model(raw, run_dir, run_dir / "model")
        if cfg.sample_tokens:
            samples = sample_texts(
                raw,
                tok,
                "",
                2,
                cfg.sample_tokens,
                cfg.block_size,
                cfg.temperature,
                cfg.top_k,
                env.device,
                cfg.seed,
            )
            text = "\n\n=====\n\n".join(samples)
            (run_dir / "samples.txt").write_text(text + "\n", encoding="utf-8")
            print(f"--- sample ---\n{samples[0]}\n--------------", flush=True)
        plot_losses(run_dir)
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    env.barrier()
    return summary
