"""The `gpt` trainer: what corpuskit calls. Heavy imports (torch) happen inside methods."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from corpuskit.training import CorpusData, TrainConfigError, Trainer
from corpuskit_gpt.checkpoint import CHECKPOINTS, latest_checkpoint, resume_point
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
        from corpuskit_gpt.chat import CHATML_TEMPLATE, with_chat_tokens
        from corpuskit_gpt.chat_data import ensure_chat_shards
        from corpuskit_gpt.shards import ensure_shards
        from corpuskit_gpt.tokenizer import copy_tokenizer, load_tokenizer, save_tokenizer

        cfg = self.config
        try:
            console.print(f"[dim]{cfg.describe_layout(world_size)}[/dim]")
        except ValueError as e:
            raise TrainConfigError(str(e)) from None
        checkpoint = resume_point(
            run_dir, cfg.resume, world_size, cfg.drop_data_position, RUN_OUTPUTS
        )
        if checkpoint is not None:
            console.print(f"[dim]resuming from {checkpoint}[/dim]")
            copy_tokenizer(checkpoint, run_dir)
        elif cfg.init_folder:
            source = Path(cfg.init_folder)
            if not (source / "config.json").exists():
                raise TrainConfigError(
                    f"init_from: {cfg.init_from} is not a saved model folder or a run folder "
                    "with model/"
                )
            if cfg.chat:  # the base model's tokenizer plus ChatML's tokens and template
                tok = with_chat_tokens(load_tokenizer(source))
                save_tokenizer(tok, run_dir, cfg.block_size, CHATML_TEMPLATE)
            else:
                copy_tokenizer(source, run_dir)
        elif cfg.chat:
            tok = with_chat_tokens(self._tokenizer(data, run_dir))
            save_tokenizer(tok, run_dir, cfg.block_size, CHATML_TEMPLATE)
        else:
            save_tokenizer(self._tokenizer(data, run_dir), run_dir, cfg.block_size)
        tok = load_tokenizer(run_dir)
        if cfg.chat:
            shards, built = ensure_chat_shards(data, tok, cfg, self.cache_dir(run_dir))
            self._report_chat(shards.meta)
        else:
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

    @staticmethod
    def _report_chat(meta: dict) -> None:
        skipped = meta.get("skipped") or {}
        if skipped:
            console.print(
                f"[yellow]skipped {sum(skipped.values()):,} conversations[/yellow]: "
                + "; ".join(meta["skipped_examples"].values())
            )
        if meta.get("longer_than_block"):
            console.print(
                f"[yellow]{meta['longer_than_block']:,} conversations are longer than "
                "block_size: only their first block_size tokens are learnt[/yellow]"
            )

    def _training_texts(self, data: CorpusData) -> Any:
        """A factory of the training split's texts: documents, or rendered conversations."""
        if not self.config.chat:
            return lambda: data.texts("train")
        from corpuskit_gpt.chat import BadConversation, render
        from corpuskit_gpt.chat_data import read_conversations, to_messages

        def rendered():
            for split, ids, raw in read_conversations(data, self.config):
                if split != "train":
                    continue
                out = []
                for doc_id, value in zip(ids, raw, strict=True):
                    try:
                        out.append(render(to_messages(value, doc_id, None))[0])
                    except BadConversation:
                        continue
                yield out

        return rendered

    def _tokenizer(self, data: CorpusData, run_dir: Path) -> Any:
        """Train the tokenizer on the training split, or reuse the cached one of same inputs."""
        from tokenizers import Tokenizer

        from corpuskit_gpt.tokenizer import build_char, train_bpe, train_byte_bpe

        cfg = self.config
        key = hashlib.sha256(
            f"{data.fingerprint()}|{cfg.tokenizer}|{cfg.vocab_size}|{cfg.min_frequency}|"
            f"{cfg.character_coverage}|{cfg.chat}|v2".encode()
        ).hexdigest()[:24]
        cache = self.cache_dir(run_dir)
        path = cache / f"tokenizer-{key}.json"
        if path.exists():
            return Tokenizer.from_file(str(path))
        texts = self._training_texts(data)
        if cfg.tokenizer == "char":
            tok = build_char(texts())
        elif cfg.tokenizer == "byte_bpe":
            tok = train_byte_bpe(texts(), cfg.vocab_size, cfg.min_frequency)
        else:  # reads the training split twice: the alphabet, then the merges
            tok = train_bpe(
                texts,
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

    def _model_folder(self, run_dir: Path, checkpoint: Path | None) -> Path:
        """The checkpoint given, else the run's final model, else its latest checkpoint."""
        folder = checkpoint
        if folder is None and (run_dir / "model").exists():
            folder = run_dir / "model"
        if folder is None:
            folder = latest_checkpoint(run_dir)
        if folder is None:
            raise TrainConfigError(f"{run_dir} holds no model yet (model/ or checkpoints/)")
        return folder

    def generator(
        self,
        run_dir: Path,
        checkpoint: Path | None = None,
        slots: int = 8,
        device: str | None = None,
        threads: int | None = None,
        name: str | None = None,
        **_: Any,
    ) -> Any:
        """The run's model with a key/value cache of `slots` sequences (corpuskit_gpt.inference)."""
        import torch

        from corpuskit_gpt.dist import pick_device
        from corpuskit_gpt.inference import GPTGenerator

        folder = self._model_folder(run_dir, checkpoint)
        cfg = self.config.model_copy(update={"device": device}) if device else self.config
        where = pick_device(cfg, 0)
        if where.type == "cpu":
            torch.set_num_threads(threads or cfg.threads or torch.get_num_threads())
        bf16 = where.type == "cuda" and torch.cuda.is_bf16_supported()
        dtype = torch.bfloat16 if bf16 and cfg.dtype in ("auto", "bfloat16") else torch.float32
        return GPTGenerator.from_folder(
            folder, name or Path(run_dir).name, slots, str(where), dtype
        )

    def _load(self, run_dir: Path, checkpoint: Path | None) -> tuple[Any, Any, Any]:
        """(model, tokenizer, single-process env) of a run's final model or a checkpoint."""
        import torch

        from corpuskit_gpt.dist import setup
        from corpuskit_gpt.model import CausalLM, GPT2LMHeadModel  # (quiets progress bars)
        from corpuskit_gpt.tokenizer import load_tokenizer

        folder = self._model_folder(run_dir, checkpoint)
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
        from corpuskit_gpt.chat_data import ensure_chat_shards, held_out_conversations
        from corpuskit_gpt.evaluate import continuation_scores, reply_checks, sample_texts
        from corpuskit_gpt.shards import ensure_shards

        cfg = self.config
        model, tok, env = self._load(run_dir, checkpoint)
        if cfg.chat:
            shards, _ = ensure_chat_shards(data, tok, cfg, self.cache_dir(run_dir))
        else:
            shards, _ = ensure_shards(data, tok, self.cache_dir(run_dir))
        out: dict[str, Any] = {}
        for split in splits:
            m = shards.metrics(
                model, split, cfg.block_size, cfg.batch_size, cfg.final_eval_iters, env
            )
            if m is not None:
                out.update({f"{split}_{k}": v for k, v in m.items()})
        bleu_docs = cfg.bleu_docs if bleu_docs is None else bleu_docs
        if cfg.chat:
            held_out = "test" if shards.meta["documents"]["test"] else "val"
            conversations = held_out_conversations(data, cfg, held_out, cfg.reply_checks)
            if conversations:
                checks = reply_checks(model, tok, conversations)
                out[f"{held_out}_end_of_turn_share"] = checks["end_of_turn_share"]
                out[f"{held_out}_exact_match"] = checks["exact_match"]
                out["samples"] = [
                    f"{e['prompt']}\n--- reply: {e['reply']}" for e in checks["examples"][:samples]
                ]
        elif bleu_docs:
            held_out = "test" if shards.meta["documents"]["test"] else "val"
            scores = continuation_scores(
                model, tok, data.texts(held_out), bleu_docs, cfg.block_size, env.device
            )
            out.update(scores or {})
        if samples and not cfg.chat:
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
