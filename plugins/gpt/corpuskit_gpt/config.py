"""The GPT trainer's config: plain data, nanoGPT's names, validated before anything runs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from corpuskit.training import TrainerConfig
from corpuskit.training.config import batch_layout


class GPTConfig(TrainerConfig):
    """Every key of a `trainer: gpt` config (see `corpuskit trainers gpt`)."""

    # tokenizer
    tokenizer: Literal["bpe", "byte_bpe", "char"] = Field(
        "bpe",
        description="bpe: BPE over the characters of the training split with byte fallback; "
        "byte_bpe: GPT-2's byte-level BPE; char: one token per character",
    )
    vocab_size: int = Field(
        8192, ge=257, description="BPE target size (the trained vocabulary can be smaller)"
    )
    min_frequency: int = Field(2, ge=1, description="BPE: merges seen fewer times are not made")
    character_coverage: float = Field(
        0.9995,
        gt=0.0,
        le=1.0,
        description="bpe: the most frequent characters covering this share of the training "
        "text are whole tokens; rarer ones are spelt in UTF-8 byte tokens",
    )
    cache_dir: str | None = Field(
        None,
        description="tokenizer and token-shard cache, keyed by the corpus fingerprint "
        "(default: <run_dir>/tokens)",
    )
    # chat fine-tuning (supervised, on conversations)
    messages_field: str | None = Field(
        None,
        description="chat: column (or meta key) of conversations, lists of {role, content} "
        "(system, user, assistant); the loss is on the assistant's tokens",
    )
    prompt_field: str | None = Field(
        None, description="chat: column (or meta key) of prompts, with completion_field"
    )
    completion_field: str | None = Field(
        None, description="chat: column (or meta key) of the completions of prompt_field"
    )
    system_prompt: str | None = Field(
        None, description="chat: system message put before conversations that have none"
    )
    reply_checks: int = Field(
        50,
        ge=0,
        description="chat: greedy replies to N held-out prompts at the end; the share that "
        "ends with the end-of-turn token is reported",
    )
    # model (GPT-2 architecture, transformers.GPT2Config)
    init_from: str | None = Field(
        None,
        description="fine-tune from this local model folder (save_pretrained format) or run "
        "folder (its model/)",
    )
    n_layer: int = Field(4, ge=1, description="transformer blocks")
    n_head: int = Field(4, ge=1, description="attention heads per block")
    n_embd: int = Field(128, ge=8, description="embedding width")
    block_size: int = Field(64, ge=2, description="context length in tokens")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="embedding, attention, residual")
    activation: Literal["gelu", "gelu_new", "gelu_pytorch_tanh"] = Field(
        "gelu", description="MLP activation: exact GELU (nanoGPT), or GPT-2's tanh forms"
    )
    model_vocab_size: int | None = Field(
        None, description="pad the embedding to this size (>= the tokenizer's), e.g. 50304"
    )
    # optimisation
    batch_size: int = Field(12, ge=1, description="sequences per micro-batch on each rank")
    gradient_accumulation_steps: int = Field(
        1,
        ge=1,
        description="micro-batches per step: the global batch is batch_size x this, "
        "whatever the number of processes (see `batch_layout`)",
    )
    max_iters: int = Field(2000, ge=0, description="optimizer steps")
    learning_rate: float = Field(1e-3, gt=0.0, description="peak, after warmup")
    min_lr: float = Field(1e-4, ge=0.0, description="cosine decay ends here")
    warmup_iters: int = Field(100, ge=0, description="linear warmup steps")
    lr_decay_iters: int | None = Field(None, ge=1, description="default: max_iters")
    weight_decay: float = Field(
        0.1, ge=0.0, description="AdamW (L2), on weight matrices and embeddings; not biases, norms"
    )
    label_smoothing: float = Field(
        0.0, ge=0.0, lt=1.0, description="training loss only; evaluation is plain cross-entropy"
    )
    beta1: float = Field(0.9, gt=0.0, lt=1.0)
    beta2: float = Field(0.99, gt=0.0, lt=1.0)
    grad_clip: float = Field(1.0, ge=0.0, description="max gradient norm; 0 = off")
    # evaluation and early stopping
    eval_interval: int = Field(250, ge=0, description="steps between validation; 0 = only at end")
    eval_iters: int = Field(20, ge=1, description="batches per periodic validation")
    final_eval_iters: int | None = Field(
        500, ge=1, description="batches per split for the final evaluation (null = all)"
    )
    early_stopping_patience: int | None = Field(
        None, ge=1, description="stop after this many validations without improvement"
    )
    early_stopping_min_delta: float = Field(0.0, ge=0.0, description="smaller gains count as none")
    save_best: bool = Field(True, description="keep the weights of the best validation in best/")
    bleu_docs: int = Field(
        20, ge=0, description="final evaluation: BLEU/chrF of greedy continuations of N test docs"
    )
    sample_tokens: int = Field(200, ge=0, description="length of the samples written at the end")
    temperature: float = Field(0.8, ge=0.0, description="sampling; 0 = greedy")
    top_k: int = Field(200, ge=0, description="sample among the k likeliest; 0 = all")
    # checkpoints
    checkpoint_interval: int = Field(500, ge=0, description="steps between checkpoints; 0 = off")
    keep_checkpoints: int = Field(2, ge=1, description="newest checkpoints kept")
    resume: Literal["auto", "true", "false"] = Field(
        "auto", description="auto: continue from the last checkpoint if any; false: start afresh"
    )
    drop_data_position: bool = Field(
        False, description="allow resuming with another world size (the data order restarts)"
    )
    # system
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N | mps")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="autocast dtype; auto: bfloat16 on a GPU that has it, else float32"
    )
    compile: Literal["auto", "true", "false"] = Field(
        "auto", description="torch.compile; auto: on for CUDA"
    )
    backend: Literal["auto", "gloo", "nccl"] = Field("auto", description="auto: nccl on GPU")
    threads: int | None = Field(
        None, ge=1, description="torch threads per rank (default: cores / ranks here)"
    )
    log_interval: int = Field(10, ge=1, description="steps between log lines")
    progress: Literal["auto", "true", "false"] = Field(
        "auto", description="progress bar; auto: when stderr is a terminal"
    )
    tensorboard: bool = Field(True, description="TensorBoard logs in <run_dir>/tb")
    peak_flops: float | None = Field(
        None, gt=0, description="peak FLOP/s of one device for MFU (default: known GPUs)"
    )

    @field_validator("resume", "compile", "progress", mode="before")
    @classmethod
    def _yaml_bool(cls, v: object) -> object:
        """YAML reads `resume: true` as a boolean; the three-way keys take it as 'true'."""
        return str(v).lower() if isinstance(v, bool) else v

    @model_validator(mode="after")
    def _consistent(self) -> GPTConfig:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        if self.min_lr > self.learning_rate:
            raise ValueError(f"min_lr ({self.min_lr}) exceeds learning_rate ({self.learning_rate})")
        if self.model_vocab_size is not None and self.model_vocab_size > 2**32 - 1:
            raise ValueError("model_vocab_size must fit in uint32")
        if (self.prompt_field is None) != (self.completion_field is None):
            raise ValueError("prompt_field and completion_field go together")
        if self.messages_field and self.prompt_field:
            raise ValueError("messages_field or prompt_field/completion_field, not both")
        return self

    @property
    def chat(self) -> bool:
        """Whether the run learns from conversations (supervised chat fine-tuning)."""
        return bool(self.messages_field or self.prompt_field)

    @property
    def init_folder(self) -> str | None:
        """init_from as a model folder: a run folder stands for its final model."""
        from pathlib import Path

        if not self.init_from:
            return None
        path = Path(self.init_from)
        if not (path / "config.json").exists() and (path / "model" / "config.json").exists():
            return str(path / "model")
        return self.init_from

    @property
    def decay_iters(self) -> int:
        return self.lr_decay_iters or max(1, self.max_iters)

    @property
    def global_batch(self) -> int:
        """Sequences per optimizer step, over all processes."""
        return self.batch_size * self.gradient_accumulation_steps

    def batch_layout(self, world: int) -> tuple[int, int]:
        """(micro-batch, accumulation steps) of each of `world` processes (global batch kept)."""
        return batch_layout(self.batch_size, self.gradient_accumulation_steps, world)

    def describe_layout(self, world: int) -> str:
        """The batch rule, printed at the start of a run."""
        micro, accum = self.batch_layout(world)
        return (
            f"global batch {self.global_batch} sequences x {self.block_size} tokens = "
            f"{world} process(es) x {accum} micro-step(s) x {micro} sequences "
            f"(batch_size {self.batch_size} x gradient_accumulation_steps "
            f"{self.gradient_accumulation_steps}, kept for any --nproc)"
        )
