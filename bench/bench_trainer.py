"""The GPT trainer's model against nanoGPT's, and its loop against a hand-written one.

    python bench/bench_trainer.py --threads 1 2          # model vs nanoGPT, CPU config
    python bench/bench_trainer.py --preset gpt2          # GPU: GPT-2 124M, bf16, compile
    python bench/bench_trainer.py --compare loop         # plugin loop vs hand loop

`--compare model` (default): the plugin's model (transformers' GPT2LMHeadModel trained
through corpuskit_gpt.model.CausalLM) against nanoGPT's `model.py`, imported from
../shared/peers/nanogpt: same architecture (biases, tied embeddings, no dropout) and
parameter count (checked), random token batches, forward + backward + gradient clipping
+ each side's own AdamW setup, in one process, alternating short blocks of steps
(the order flips every round) so that load on a shared machine hits both sides alike.
Prints the median tokens/s of each, the ratio plugin / nanoGPT and the load average,
for every thread count given.

`--compare loop`: both sides train the same transformers GPT-2 on the same token shard
(Tiny Shakespeare from ../shared/corpora, prepared by recipes/shakespeare.yaml) with
the same batch, in the same process and thread count, in alternating rounds:

- plugin: `corpuskit train` in-process (the `gpt` trainer: its batches, schedule,
  gradient clipping, logging, progress and TensorBoard), timed by its own log records
  between step `--warmup` and the last step;
- hand loop: random windows from the memory-mapped shard, forward with labels, backward,
  clip, AdamW step; nothing else.

Prints tokens/s of each (best round), the ratio plugin / hand loop and, on a GPU, MFU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpuskit_gpt.model import CausalLM, build_model, flops_per_token, make_optimizer, peak_flops
from corpuskit_gpt.monitor import read_metrics
from corpuskit_gpt.shards import TokenShards
from harness import DEFAULT_CORPORA, ROOT, table

from corpuskit.engine.run import run_recipe
from corpuskit.recipe import load_recipe
from corpuskit.training.base import validate_config
from corpuskit.training.launch import LaunchOptions, cpu_cores, run_training

PRESETS = {
    # nanoGPT's Shakespeare configuration for a CPU (README: "baby GPT" on a MacBook).
    "cpu": {
        "tokenizer": "char", "n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64,
        "batch_size": 12, "device": "cpu", "compile": "false", "dtype": "float32",
    },
    # GPT-2 small (124M parameters with a 50304 vocabulary), bf16 autocast, compiled.
    "gpt2": {
        "tokenizer": "bpe", "vocab_size": 50257, "model_vocab_size": 50304, "n_layer": 12,
        "n_head": 12, "n_embd": 768, "block_size": 1024, "batch_size": 16, "device": "cuda",
        "compile": "true", "dtype": "bfloat16",
    },
}  # fmt: skip


def prepare_corpus(corpora: Path, out: Path) -> Path:
    """Tiny Shakespeare through recipes/shakespeare.yaml (once; reused afterwards)."""
    source = corpora / "tinyshakespeare" / "input.txt"
    if not source.exists():
        sys.exit(f"{source} is missing: the benchmark needs ../shared/corpora")
    recipe = load_recipe(
        ROOT / "recipes" / "shakespeare.yaml", {"input": [str(source)], "output": str(out)}
    )
    run_recipe(recipe)
    return out


def plugin_round(data: Path, run_dir: Path, settings: dict, steps: int, warmup: int) -> float:
    """tokens/s of the plugin's loop between step `warmup` and `warmup + steps`."""
    cfg = validate_config({
        "trainer": "gpt", "data": str(data), "run_dir": str(run_dir), **settings,
        "max_iters": warmup + steps, "warmup_iters": 10, "log_interval": 10,
        "eval_interval": 0, "final_eval_iters": 1, "checkpoint_interval": 0,
        "sample_tokens": 0, "resume": "false", "progress": "false",
    })  # fmt: skip
    run_training(cfg, LaunchOptions())
    times = {r["step"]: r["time"] for r in read_metrics(run_dir) if "time" in r}
    tokens = settings["batch_size"] * settings["block_size"] * steps
    return tokens / (times[warmup + steps] - times[warmup])


def hand_round(tokens: np.ndarray, settings: dict, vocab: int, steps: int, warmup: int) -> float:
    """tokens/s of the minimal loop: same model, batch shape, optimizer and clipping."""
    cfg = validate_config({"trainer": "gpt", **settings})
    device = torch.device("cuda" if settings["device"] == "cuda" else "cpu")
    model = build_model(cfg, vocab, 0).to(device).train()
    opt = torch.optim.AdamW(
        model.parameters(),
        lr=1e-3,
        betas=(0.9, 0.99),
        weight_decay=0.1,
        fused=device.type == "cuda",
    )
    fwd = torch.compile(model) if settings["compile"] == "true" else model
    dtype = getattr(torch, settings["dtype"])
    B, T = settings["batch_size"], settings["block_size"]
    offsets = np.arange(T)
    started = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        starts = np.random.randint(0, len(tokens) - T, B)
        x = torch.from_numpy(tokens[starts[:, None] + offsets].astype(np.int64)).to(device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = fwd(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    loss.item()  # waits for the GPU
    return B * T * steps / (time.perf_counter() - started)


NANOGPT = ROOT.parent / "shared" / "peers" / "nanogpt"


def nanogpt_module(path: Path) -> object:
    """nanoGPT's model.py, imported from the peers folder (never copied into the repo)."""
    if not (path / "model.py").exists():
        sys.exit(f"{path}/model.py is missing: the comparison needs ../shared/peers/nanogpt")
    import importlib.util

    spec = importlib.util.spec_from_file_location("nanogpt_model", path / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_sides(settings: dict, vocab: int, nano: object, device: torch.device) -> dict:
    """{name: (module, optimizer, step function)} of the plugin's model and nanoGPT's."""
    cfg = validate_config({"trainer": "gpt", **settings, "dropout": 0.0})
    ours = CausalLM(build_model(cfg, vocab, 0)).to(device).train()
    ours_opt = make_optimizer(ours.model, cfg, device.type)
    theirs = nano.GPT(
        nano.GPTConfig(
            block_size=cfg.block_size, vocab_size=vocab, n_layer=cfg.n_layer,
            n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=0.0, bias=True,
        )
    ).to(device).train()  # fmt: skip
    theirs_opt = theirs.configure_optimizers(
        cfg.weight_decay, cfg.learning_rate, (cfg.beta1, cfg.beta2), device.type
    )
    n_ours = sum(p.numel() for p in ours.parameters())
    n_theirs = sum(p.numel() for p in theirs.parameters())
    if n_ours != n_theirs:
        sys.exit(f"parameter counts differ: plugin {n_ours:,}, nanoGPT {n_theirs:,}")
    compile_ = settings["compile"] == "true"
    f_ours = torch.compile(ours) if compile_ else ours
    f_theirs = torch.compile(theirs) if compile_ else theirs
    dtype = getattr(torch, settings["dtype"])

    def step(fwd, module, opt, batch: torch.Tensor) -> torch.Tensor:
        x = batch[:, :-1]  # T tokens; each side runs T positions
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = fwd(x) if module is ours else fwd(x, batch[:, 1:].contiguous())[1]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    return {
        "corpuskit gpt (transformers GPT-2)": lambda b: step(f_ours, ours, ours_opt, b),
        "nanoGPT model.py": lambda b: step(f_theirs, theirs, theirs_opt, b),
        "_params": n_ours,
    }


def compare_models(args: argparse.Namespace, settings: dict) -> dict:
    """Median tokens/s of each model per thread count, alternating blocks of steps."""
    nano = nanogpt_module(args.nanogpt)
    device = torch.device("cuda" if settings["device"] == "cuda" else "cpu")
    vocab = 65 if args.preset == "cpu" else 50304
    B, T = settings["batch_size"], settings["block_size"]
    out = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        sides = model_sides(settings, vocab, nano, device)
        params = sides.pop("_params")
        gen = torch.Generator().manual_seed(0)
        rates: dict[str, list[float]] = {name: [] for name in sides}
        load_before = os.getloadavg()
        for r in range(args.rounds + 1):
            order = list(sides) if r % 2 == 0 else list(sides)[::-1]
            for name in order:
                batches = [
                    torch.randint(0, vocab, (B, T + 1), generator=gen).to(device)
                    for _ in range(args.block)
                ]
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                for b in batches:
                    loss = sides[name](b)
                loss.item()
                if r:  # round 0 warms up (allocator, compile)
                    rates[name].append(B * T * args.block / (time.perf_counter() - t0))
        load_after = os.getloadavg()
        names = list(rates)
        med = {n: statistics.median(v) for n, v in rates.items()}
        ratio = med[names[0]] / med[names[1]]
        rows = [
            {
                "side": n,
                "tokens/s (median)": f"{med[n]:,.0f}",
                "tokens/s (best)": f"{max(v):,.0f}",
                "rounds": len(v),
            }
            for n, v in rates.items()
        ]
        where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        print(
            f"\n{args.preset}: {params:,} parameters each, batch {B} x {T} tokens, "
            f"{args.rounds} rounds x {args.block} steps a side, {where}, {threads} thread(s); "
            f"load average {load_before[0]:.2f} -> {load_after[0]:.2f}"
        )
        print(table(rows))
        print(f"ratio plugin / nanoGPT (median tokens/s): {ratio:.3f} (target >= 1.0)", flush=True)
        out[threads] = {
            "median": med, "rates": rates, "ratio": ratio, "params": params,
            "load": [load_before, load_after], "device": where,
        }  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compare", choices=["model", "loop"], default="model")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    ap.add_argument("--steps", type=int, default=200, help="loop: timed steps per round")
    ap.add_argument("--warmup", type=int, default=20, help="loop: untimed steps first")
    ap.add_argument("--rounds", type=int, default=None, help="rounds (model: 20, loop: 3)")
    ap.add_argument("--block", type=int, default=10, help="model: steps a side per round")
    ap.add_argument(
        "--threads", type=int, nargs="+", default=[cpu_cores()], help="torch threads (CPU)"
    )
    ap.add_argument("--nanogpt", type=Path, default=NANOGPT, help="folder of nanoGPT's model.py")
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "data" / "trainer")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if args.preset == "gpt2" and not torch.cuda.is_available():
        sys.exit("--preset gpt2 needs a CUDA GPU")
    if args.compare == "model":
        args.rounds = args.rounds or 20
        settings = {**PRESETS[args.preset], "threads": args.threads[0]}
        results = compare_models(args, settings)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=str))
        return
    args.rounds = args.rounds or 3
    args.threads = args.threads[0]
    if args.steps % 10 or args.warmup % 10:
        sys.exit("--steps and --warmup must be multiples of 10 (the plugin logs every 10 steps)")
    settings = {**PRESETS[args.preset], "threads": args.threads}
    torch.set_num_threads(args.threads)
    data = prepare_corpus(args.corpora, args.work / "shakespeare")
    run_dir = args.work / f"run-{args.preset}"
    shutil.rmtree(run_dir, ignore_errors=True)

    plugin, hand = [], []
    for r in range(args.rounds):
        plugin.append(plugin_round(data, run_dir, settings, args.steps, args.warmup))
        shards = TokenShards.open(Path(json.loads((run_dir / "tokens.json").read_text())["path"]))
        vocab = shards.meta["vocab_size"]
        hand.append(hand_round(shards.tokens("train"), settings, vocab, args.steps, args.warmup))
        print(
            f"round {r + 1}: plugin {plugin[-1]:,.0f} tok/s, hand loop {hand[-1]:,.0f} tok/s",
            flush=True,
        )

    cfg = validate_config({"trainer": "gpt", **settings})
    with torch.device("meta"):
        model = build_model(cfg, vocab, 0)
    fpt = flops_per_token(model, settings["block_size"])
    device = torch.device("cuda" if settings["device"] == "cuda" else "cpu")
    peak = peak_flops(device, None)
    rows = []
    for name, runs in (("corpuskit gpt trainer", plugin), ("hand-written torch loop", hand)):
        best = max(runs)
        row = {
            "side": name,
            "tokens/s (best)": f"{best:,.0f}",
            "tokens/s (median)": f"{float(np.median(runs)):,.0f}",
            "TFLOP/s": f"{best * fpt / 1e12:.3f}",
        }
        if peak:
            row["MFU"] = f"{100 * best * fpt / peak:.1f}%"
        rows.append(row)
    params = sum(p.numel() for p in model.parameters())
    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {args.threads} thread(s)"
    )
    print(
        f"\n{args.preset}: {params / 1e6:.1f}M parameters, batch {settings['batch_size']} x "
        f"{settings['block_size']} tokens, {args.steps} timed steps x {args.rounds} rounds, "
        f"{where}"
    )
    print(table(rows))
    ratio = max(plugin) / max(hand)
    print(f"\nratio plugin / hand loop: {ratio:.3f} (target >= 0.95)")
    if args.json:
        args.json.write_text(json.dumps({
            "preset": args.preset, "plugin": plugin, "hand": hand, "ratio": ratio,
            "flops_per_token": fpt, "peak_flops": peak, "device": where,
        }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
