"""The `gpt` trainer: what corpuskit calls. Heavy imports (torch) happen inside methods."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from corpuskit.training import CorpusData, TrainConfigError, Trainer
from corpuskit_gpt.checkpoint import CHECKPOINTS, check_world_size, latest_checkpoint
from corpuskit_gpt.config import GPTConfig

console = Console(stderr=True, soft_wrap=True)
# What `resume: false` clears from a run folder before starting afresh.
RUN_OUTPUTS = (
    CHECKPOINTS,
    "tb",
    "model",
    "best",
    "metrics.jsonl",
    "summary.json",
    "samples.txt",
    "loss.png",
    "eval.json",
)


class GPTTrainer(Trainer):
    """GPT-2 (transformers) with a BPE or character tokenizer, trained with torch DDP."""

    Config = GPTConfig
    distributed = True
    config: GPTConfig

    def cache_dir(self, run_dir: Path) -> Path:
        """Tokenizer and shard cache: the config's (shared, e.g. by tune's trials), else
        <run_dir>/tokens. Entries are keyed by the corpus fingerprint and the tokenizer, so
        a shared cache never serves stale shards; the data folder is never written."""
        if self.config.cache_dir:
            return Path(self.config.cache_dir)
        return run_dir / "tokens"

    def prepare(self, data: CorpusData, run_dir: Path, world_size: int = 1) -> None:
        """Resume checks, the tokenizer (trained, cached, or the checkpoint's), token shards."""
        from corpuskit_gpt.shards import ensure_shards
        from corpuskit_gpt.tokenizer import copy_tokenizer, load_tokenizer, save_tokenizer

        cfg = self.config
        try:
            console.print(f"[dim]{cfg.describe_layout(world_size)}[/dim]")
        except ValueError as e:
            raise TrainConfigError(str(e)) from None
        run_dir.mkdir(parents=True, exist_ok=True)
        checkpoint = latest_checkpoint(run_dir) if cfg.resume != "false" else None
        if cfg.resume == "true" and checkpoint is None:
            raise TrainConfigError(f"resume: true, but {run_dir / CHECKPOINTS} holds no checkpoint")
        if cfg.resume == "false":
            for name in RUN_OUTPUTS:
                path = run_dir / name
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        if checkpoint is not None:
            try:
                check_world_size(checkpoint, world_size, cfg.drop_data_position)
            except ValueError as e:
                raise TrainConfigError(str(e)) from None
            console.print(f"[dim]resuming from {checkpoint}[/dim]")
            copy_tokenizer(checkpoint, run_dir)
        elif cfg.init_from:
            if not (Path(cfg.init_from) / "config.json").exists():
                raise TrainConfigError(f"init_from: {cfg.init_from} is not a saved model folder")
            copy_tokenizer(Path(cfg.init_from), run_dir)
        else:
            save_tokenizer(self._tokenizer(data, run_dir), run_dir, cfg.block_size)
        tok = load_tokenizer(run_dir)
        shards, built = ensure_shards(data, tok, self.cache_dir(run_dir))
        m = shards.meta
        console.print(
            f"[dim]{'wrote' if built else 'reusing'} token shards {shards.folder}: "
            + ", ".join(
                f"{s} {m['tokens'][s]:,} tokens / {m['documents'][s]:,} docs"
                for s in ("train", "val", "test")
            )
            + f"; vocabulary {tok.get_vocab_size():,}[/dim]"
        )
        (run_dir / "tokens.json").write_text(
            json.dumps({"path": str(shards.folder.resolve()), **m}, indent=2), encoding="utf-8"
        )

    def _tokenizer(self, data: CorpusData, run_dir: Path) -> Any:
        """Train the tokenizer on the training split, or reuse the cached one of same inputs."""
        from tokenizers import Tokenizer

        from corpuskit_gpt.tokenizer import build_char, train_bpe, train_byte_bpe

        cfg = self.config
        key = hashlib.sha256(
            f"{data.fingerprint()}|{cfg.tokenizer}|{cfg.vocab_size}|{cfg.min_frequency}|"
            f"{cfg.character_coverage}|v2".encode()
        ).hexdigest()[:24]
        cache = self.cache_dir(run_dir)
        path = cache / f"tokenizer-{key}.json"
        if path.exists():
            return Tokenizer.from_file(str(path))
        if cfg.tokenizer == "char":
            tok = build_char(data.texts("train"))
        elif cfg.tokenizer == "byte_bpe":
            tok = train_byte_bpe(data.texts("train"), cfg.vocab_size, cfg.min_frequency)
        else:  # reads the training split twice: the alphabet, then the merges
            tok = train_bpe(
                lambda: data.texts("train"),
                cfg.vocab_size,
                cfg.min_frequency,
                cfg.character_coverage,
            )
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tok.save(str(tmp))
        tmp.replace(path)
        return tok

    def fit(self, data: CorpusData, run_dir: Path) -> dict[str, Any]:
        from corpuskit_gpt.train import train

        return train(self.config, run_dir, data)

    def _load(self, run_dir: Path, checkpoint: Path | None) -> tuple[Any, Any, Any]:
        """(model, tokenizer, single-process env) of a run's final model or a checkpoint."""
        import torch

        from corpuskit_gpt.dist import setup
        from corpuskit_gpt.model import CausalLM, GPT2LMHeadModel  # (quiets progress bars)
        from corpuskit_gpt.tokenizer import load_tokenizer

        folder = checkpoint
        if folder is None and (run_dir / "model").exists():
            folder = run_dir / "model"
        if folder is None:
            folder = latest_checkpoint(run_dir)
        if folder is None:
            raise TrainConfigError(f"{run_dir} holds no model yet (model/ or checkpoints/)")
        env = setup(self.config)
        model = GPT2LMHeadModel.from_pretrained(folder, dtype=torch.float32).to(env.device)
        return CausalLM(model).eval(), load_tokenizer(folder), env

    def evaluate(
        self,
        data: CorpusData,
        run_dir: Path,
        splits: Sequence[str] = ("val", "test"),
        checkpoint: Path | None = None,
        bleu_docs: int | None = None,
        samples: int = 2,
        **_: Any,
    ) -> dict[str, Any]:
        """Loss, perplexity and accuracy per split; samples; BLEU/chrF of `bleu_docs`
        continuations (default: the config's)."""
        from corpuskit_gpt.evaluate import continuation_scores, sample_texts, split_metrics
        from corpuskit_gpt.shards import ensure_shards

        cfg = self.config
        model, tok, env = self._load(run_dir, checkpoint)
        shards, _ = ensure_shards(data, tok, self.cache_dir(run_dir))
        out: dict[str, Any] = {}
        for split in splits:
            m = split_metrics(
                model,
                shards.tokens(split),
                cfg.block_size,
                cfg.batch_size,
                cfg.final_eval_iters,
                env,
            )
            if m is not None:
                out.update({f"{split}_{k}": v for k, v in m.items()})
        bleu_docs = cfg.bleu_docs if bleu_docs is None else bleu_docs
        if bleu_docs:
            held_out = "test" if shards.meta["documents"]["test"] else "val"
            scores = continuation_scores(
                model, tok, data.texts(held_out), bleu_docs, cfg.block_size, env.device
            )
            out.update(scores or {})
        if samples:
            out["samples"] = sample_texts(
                model,
                tok,
                "",
                samples,
                cfg.sample_tokens or 200,
                cfg.block_size,
                cfg.temperature,
                cfg.top_k,
                env.device,
                cfg.seed,
            )
        (run_dir / "eval.json").write_text(
            json.dumps(out, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        return out

    def generate(
        self,
        run_dir: Path,
        prompt: str,
        max_new_tokens: int = 200,
        temperature: float = 0.8,
        top_k: int = 200,
        num_samples: int = 1,
        seed: int = 1337,
        checkpoint: Path | None = None,
        **_: Any,
    ) -> list[str]:
        from corpuskit_gpt.evaluate import sample_texts

        model, tok, env = self._load(run_dir, checkpoint)
        return sample_texts(
            model,
            tok,
            prompt,
            num_samples,
            max_new_tokens,
            self.config.block_size,
            temperature,
            top_k,
            env.device,
            seed,
        )
