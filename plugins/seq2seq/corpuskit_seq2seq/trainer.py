"""The `seq2seq` trainer: what corpuskit calls. Heavy imports (torch) happen inside methods."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from corpuskit_gpt.checkpoint import CHECKPOINTS, latest_checkpoint, resume_point
from rich.console import Console

from corpuskit.training import CorpusData, TrainConfigError, Trainer
from corpuskit.training.config import batch_layout
from corpuskit_seq2seq.config import Seq2SeqConfig

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
    "memory.parquet",
)


class Seq2SeqTrainer(Trainer):
    """Encoder-decoder (T5 or BART, transformers) on source/target pairs, with torch DDP."""

    Config = Seq2SeqConfig
    distributed = True
    config: Seq2SeqConfig
    evaluate_options: ClassVar[frozenset[str]] = frozenset(
        {"checkpoint", "bleu_docs", "samples", "num_beams"}
    )
    generate_options: ClassVar[frozenset[str]] = frozenset(
        {"checkpoint", "max_new_tokens", "temperature", "top_k", "num_beams", "num_samples", "seed"}
    )

    def cache_dir(self, run_dir: Path) -> Path:
        """Tokenizer and pair-shard cache: the config's, else <run_dir>/cache."""
        return Path(self.config.cache_dir) if self.config.cache_dir else run_dir / "cache"

    def limits(self) -> tuple[int, int]:
        return self.config.max_source_length, self.config.max_target_length

    def prepare(self, data: CorpusData, run_dir: Path, world_size: int = 1) -> None:
        """Resume checks, the tokenizer (trained, cached, or the checkpoint's), pair shards."""
        from corpuskit_gpt.tokenizer import copy_tokenizer

        from corpuskit_seq2seq.memory import MEMORY_FILE, TranslationMemory
        from corpuskit_seq2seq.pairs import ensure_pairs, held_out
        from corpuskit_seq2seq.tokenizer import load_tokenizer, save_tokenizer

        cfg = self.config
        micro, accum = batch_layout(cfg.batch_size, cfg.gradient_accumulation_steps, world_size)
        console.print(
            f"[dim]global batch {cfg.batch_size * cfg.gradient_accumulation_steps} pairs = "
            f"{world_size} process(es) x {accum} micro-step(s) x {micro} pairs "
            f"(batch_size x gradient_accumulation_steps, kept for any --nproc)[/dim]"
        )
        checkpoint = resume_point(
            run_dir, cfg.resume, world_size, cfg.drop_data_position, RUN_OUTPUTS
        )
        if checkpoint is not None:
            console.print(f"[dim]resuming from {checkpoint}[/dim]")
            copy_tokenizer(checkpoint, run_dir)
        elif cfg.init_from:
            if not (Path(cfg.init_from) / "config.json").exists():
                raise TrainConfigError(f"init_from: {cfg.init_from} is not a saved model folder")
            copy_tokenizer(Path(cfg.init_from), run_dir)
        else:
            save_tokenizer(self._tokenizer(data, run_dir), run_dir, cfg.max_source_length)
        tok = load_tokenizer(run_dir)
        memory = None
        if cfg.translation_memory:
            memory = TranslationMemory(*held_out(data, "train", None))
            memory.save(run_dir)
        else:
            (run_dir / MEMORY_FILE).unlink(missing_ok=True)
        shards, built = ensure_pairs(
            data, tok, self.cache_dir(run_dir), cfg.source_prefix, self.limits(), memory
        )
        m = shards.meta
        console.print(
            f"[dim]{'wrote' if built else 'reusing'} pair shards {shards.folder}: "
            + ", ".join(
                f"{s} {m['pairs'][s]:,} pairs ({m['skipped_empty'][s]:,} with an empty side "
                f"skipped, {m['truncated_source'][s]:,}/{m['truncated_target'][s]:,} "
                "sources/targets cut)"
                for s in ("train", "val", "test")
            )
            + f"; vocabulary {tok.get_vocab_size():,}[/dim]"
        )
        (run_dir / "pairs.json").write_text(
            json.dumps({"path": str(shards.folder.resolve()), **m}, indent=2), encoding="utf-8"
        )

    def _tokenizer(self, data: CorpusData, run_dir: Path) -> Any:
        """Train the tokenizer on the training pairs, or reuse the cached one of same inputs."""
        from tokenizers import Tokenizer

        from corpuskit_seq2seq.tokenizer import train_tokenizer

        cfg = self.config
        key = hashlib.sha256(
            f"{data.fingerprint()}|{cfg.source_prefix}|{cfg.vocab_size}|{cfg.min_frequency}|v1".encode()
        ).hexdigest()[:24]
        path = self.cache_dir(run_dir) / f"tokenizer-{key}.json"
        if path.exists():
            return Tokenizer.from_file(str(path))
        texts = (
            text
            for frame in data.batches("train")
            for column in ("source", "target")
            for text in frame[column].to_list()
        )
        tok = train_tokenizer(texts, cfg.vocab_size, cfg.min_frequency)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tok.save(str(tmp))
        tmp.replace(path)
        return tok

    def fit(self, data: CorpusData, run_dir: Path) -> dict[str, Any]:
        from corpuskit_seq2seq.train import train

        return train(self.config, run_dir, data)

    def _load(self, run_dir: Path, checkpoint: Path | None) -> tuple[Any, Any, Any, Any]:
        """(model, tokenizer, single-process env, translation memory or None) of a run's
        final model or a checkpoint."""
        import torch
        from corpuskit_gpt.dist import setup

        from corpuskit_seq2seq.model import AutoModelForSeq2SeqLM
        from corpuskit_seq2seq.tokenizer import load_tokenizer

        folder = checkpoint
        if folder is None and (run_dir / "model").exists():
            folder = run_dir / "model"
        if folder is None:
            folder = latest_checkpoint(run_dir)
        if folder is None:
            raise TrainConfigError(f"{run_dir} holds no model yet (model/ or checkpoints/)")
        env = setup(self.config)
        model = AutoModelForSeq2SeqLM.from_pretrained(folder, dtype=torch.float32).to(env.device)
        model.eval()
        memory = None
        if self.config.translation_memory:
            from corpuskit_seq2seq.memory import MEMORY_FILE, TranslationMemory

            memory = TranslationMemory.load(run_dir)
            if memory is None:
                raise TrainConfigError(f"{run_dir} has no {MEMORY_FILE} (translation_memory)")
        return model, load_tokenizer(folder), env, memory

    def inputs(self, sources: list[str], memory: Any) -> list[str]:
        """The model's inputs for raw sources: task prefix and memory match added."""
        from corpuskit_seq2seq.pairs import model_inputs

        return model_inputs(sources, self.config.source_prefix, memory)

    def evaluate(
        self,
        data: CorpusData,
        run_dir: Path,
        splits: Sequence[str] = ("val", "test"),
        checkpoint: Path | None = None,
        bleu_docs: int | None = None,
        samples: int | None = None,
        num_beams: int | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        """Per split: loss, perplexity, token accuracy; BLEU and chrF of greedy and beam
        translations of `bleu_docs` pairs (default final_bleu_docs); sample translations."""
        from corpuskit_seq2seq.evaluate import bleu_tokenizer, scores, split_metrics, translate
        from corpuskit_seq2seq.pairs import ensure_pairs, held_out

        cfg = self.config
        beams = num_beams or cfg.num_beams
        n_docs = cfg.final_bleu_docs if bleu_docs is None else bleu_docs
        n_samples = cfg.samples if samples is None else samples
        model, tok, env, memory = self._load(run_dir, checkpoint)
        shards, _ = ensure_pairs(
            data, tok, self.cache_dir(run_dir), cfg.source_prefix, self.limits(), memory
        )
        out: dict[str, Any] = {}
        shown: list[str] = []
        for split in splits:
            m = split_metrics(model, *shards.sides(split), cfg, None, env)
            if m is None:
                continue
            out.update({f"{split}_{k}": v for k, v in m.items()})
            sources, refs = held_out(data, split, n_docs or 0)
            if not sources:
                continue
            inputs = self.inputs(sources, memory)
            tokenize = bleu_tokenizer(cfg.bleu_tokenize, refs)
            out[f"{split}_bleu_docs"] = len(sources)
            for name, width in (("greedy", 1), (f"beam{beams}", beams)):
                hyps = translate(model, tok, inputs, cfg, env.device, width)
                for metric, value in scores(hyps, refs, tokenize).items():
                    out[f"{split}_{metric}_{name}"] = value
                if width == beams and len(shown) < n_samples:
                    shown += [
                        f"{s}\n  reference: {r}\n  model:     {h}"
                        for s, r, h in zip(sources, refs, hyps, strict=True)
                    ][: n_samples - len(shown)]
            out[f"{split}_bleu_tokenize"] = tokenize
        if shown:
            out["samples"] = shown
        (run_dir / "eval.json").write_text(
            json.dumps(out, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        return out

    def generate(
        self,
        run_dir: Path,
        prompt: str,
        max_new_tokens: int | None = None,
        temperature: float = 0.0,
        top_k: int = 0,
        num_beams: int | None = None,
        num_samples: int = 1,
        seed: int | None = None,
        checkpoint: Path | None = None,
        **_: Any,
    ) -> list[str]:
        """Translations (or summaries) of `prompt`: beam search by default; temperature > 0
        samples instead. The task prefix is added here, as in training."""
        from corpuskit_seq2seq.evaluate import translate

        if not prompt.strip():
            raise TrainConfigError("--prompt: a sequence-to-sequence model needs a source text")
        cfg = self.config
        if max_new_tokens is not None:
            cfg = cfg.model_copy(update={"max_new_tokens": max_new_tokens})
        model, tok, env, memory = self._load(run_dir, checkpoint)
        return translate(
            model,
            tok,
            self.inputs([prompt], memory),
            cfg,
            env.device,
            num_beams=num_beams or cfg.num_beams,
            temperature=temperature,
            top_k=top_k,
            num_return=num_samples,
            seed=seed,
        )
