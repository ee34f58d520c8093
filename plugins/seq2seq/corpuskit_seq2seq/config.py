"""The seq2seq trainer's config: plain data, validated before anything runs.

The system, checkpoint and optimisation keys have the GPT plugin's names and meaning
(its rank setup, checkpoints and schedule are shared); the rest describes the pairs,
the encoder-decoder and how translations are scored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from corpuskit.training import PairedConfig


class Seq2SeqConfig(PairedConfig):
    """Every key of a `trainer: seq2seq` config (see `corpuskit trainers seq2seq`)."""

    # tokenizer: one vocabulary for both sides (shared embeddings)
    vocab_size: int = Field(
        8000, ge=300, description="BPE target size, source and target together (with bytes)"
    )
    min_frequency: int = Field(2, ge=1, description="BPE: merges seen fewer times are not made")
    cache_dir: str | None = Field(
        None, description="tokenizer and pair-shard cache (default: <run_dir>/cache)"
    )
    # model
    architecture: Literal["t5", "bart"] = Field(
        "t5", description="t5: relative positions, pre-norm; bart: learned positions, post-norm"
    )
    init_from: str | None = Field(
        None, description="fine-tune from this local checkpoint folder (save_pretrained format)"
    )
    d_model: int = Field(256, ge=8, description="embedding width")
    encoder_layers: int = Field(3, ge=1)
    decoder_layers: int = Field(3, ge=1)
    n_head: int = Field(4, ge=1, description="attention heads per layer")
    d_ff: int = Field(1024, ge=8, description="feed-forward width")
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    translation_memory: bool = Field(
        False,
        description="join each source with the target of its most similar training pair "
        "(neural fuzzy repair): the model learns to copy or repair it",
    )
    max_source_length: int = Field(64, ge=2, description="source tokens kept (with </s>)")
    max_target_length: int = Field(64, ge=2, description="target tokens kept (with </s>)")
    # optimisation
    batch_size: int = Field(64, ge=1, description="pairs per micro-batch on each rank")
    gradient_accumulation_steps: int = Field(
        1,
        ge=1,
        description="micro-batches per step; the global batch is kept for any --nproc",
    )
    max_iters: int = Field(3000, ge=0, description="optimizer steps")
    learning_rate: float = Field(1e-3, gt=0.0, description="peak, after warmup")
    min_lr: float = Field(1e-4, ge=0.0, description="cosine decay ends here")
    warmup_iters: int = Field(200, ge=0, description="linear warmup steps")
    lr_decay_iters: int | None = Field(None, ge=1, description="default: max_iters")
    lr_schedule: Literal["cosine", "inverse_sqrt"] = Field(
        "cosine",
        description="after warmup: cosine to min_lr at lr_decay_iters, or inverse_sqrt "
        "(learning_rate * sqrt(warmup_iters / step), at least min_lr; needs no end step, "
        "so it suits max_minutes)",
    )
    weight_decay: float = Field(0.01, ge=0.0, description="AdamW, on weight matrices only")
    beta1: float = Field(0.9, gt=0.0, lt=1.0)
    beta2: float = Field(0.98, gt=0.0, lt=1.0)
    grad_clip: float = Field(1.0, ge=0.0, description="max gradient norm; 0 = off")
    label_smoothing: float = Field(0.1, ge=0.0, lt=1.0)
    length_pool: int = Field(
        50,
        ge=1,
        description="global batches sorted by source, then target length together (less "
        "padding; at least steps per epoch: one sort of the whole epoch)",
    )
    # evaluation, early stopping, generation
    eval_interval: int = Field(500, ge=0, description="steps between validation; 0 = only at end")
    eval_batches: int = Field(20, ge=1, description="batches of validation loss per evaluation")
    eval_bleu_docs: int = Field(
        200, ge=0, description="validation pairs translated (greedy) per evaluation; 0 = none"
    )
    final_bleu_docs: int | None = Field(
        1000, ge=1, description="held-out pairs scored at the end, per split (null = all)"
    )
    num_beams: int = Field(4, ge=1, description="beam width of the beam-search scores and generate")
    length_penalty: float = Field(
        1.0,
        description="beam search ranks finished outputs by log-probability / length ** "
        "length_penalty (transformers' default 1.0); above 1 favours longer outputs",
    )
    max_new_tokens: int | None = Field(
        None, ge=1, description="generated tokens at most (default: max_target_length)"
    )
    bleu_tokenize: Literal["auto", "zh", "13a", "intl", "char", "none"] = Field(
        "auto", description="sacrebleu tokenizer; auto: zh for Chinese targets, else 13a"
    )
    best_metric: Literal["loss", "bleu", "chrf"] = Field(
        "loss", description="what picks best/ and early stopping (bleu/chrf: eval_bleu_docs > 0)"
    )
    early_stopping_patience: int | None = Field(
        None, ge=1, description="stop after this many validations without improvement"
    )
    early_stopping_min_delta: float = Field(0.0, ge=0.0, description="smaller gains count as none")
    max_minutes: float | None = Field(
        None,
        gt=0.0,
        description="stop the training loop after this many wall-clock minutes (rank 0's "
        "clock), then evaluate and save as at the end; the LR schedule still follows max_iters",
    )
    save_best: bool = Field(True, description="keep the weights of the best validation in best/")
    samples: int = Field(4, ge=0, description="validation translations written at the end")
    # checkpoints
    checkpoint_interval: int = Field(500, ge=0, description="steps between checkpoints; 0 = off")
    keep_checkpoints: int = Field(2, ge=1, description="newest checkpoints kept")
    average_checkpoints: int = Field(
        1,
        ge=1,
        description="final model = mean weights of the end and the newest "
        "average_checkpoints - 1 checkpoints before it (1 = the end weights; needs "
        "keep_checkpoints >= average_checkpoints)",
    )
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
        "false", description="torch.compile (variable shapes recompile: off by default)"
    )
    backend: Literal["auto", "gloo", "nccl"] = Field("auto", description="auto: nccl on GPU")
    threads: int | None = Field(
        None, ge=1, description="torch threads per rank (default: cores / ranks here)"
    )
    log_interval: int = Field(50, ge=1, description="steps between log lines")
    progress: Literal["auto", "true", "false"] = Field(
        "auto", description="progress bar; auto: when stderr is a terminal"
    )
    tensorboard: bool = Field(True, description="TensorBoard logs in <run_dir>/tb")

    @field_validator("resume", "compile", "progress", mode="before")
    @classmethod
    def _yaml_bool(cls, v: object) -> object:
        """YAML reads `resume: true` as a boolean; the three-way keys take it as 'true'."""
        return str(v).lower() if isinstance(v, bool) else v

    @model_validator(mode="after")
    def _consistent(self) -> Seq2SeqConfig:
        if self.d_model % self.n_head:
            raise ValueError(
                f"d_model ({self.d_model}) must be a multiple of n_head ({self.n_head})"
            )
        if self.min_lr > self.learning_rate:
            raise ValueError(f"min_lr ({self.min_lr}) exceeds learning_rate ({self.learning_rate})")
        if self.average_checkpoints > 1 and (
            not self.checkpoint_interval or self.keep_checkpoints < self.average_checkpoints
        ):  # the end step's own checkpoint may take one of the kept places
            raise ValueError(
                f"average_checkpoints {self.average_checkpoints} needs checkpoint_interval > 0 "
                f"and keep_checkpoints >= {self.average_checkpoints}"
            )
        if self.best_metric != "loss" and not self.eval_bleu_docs:
            raise ValueError(f"best_metric {self.best_metric} needs eval_bleu_docs > 0")
        return self

    @property
    def decay_iters(self) -> int:
        return self.lr_decay_iters or max(1, self.max_iters)

    @property
    def generation_length(self) -> int:
        return self.max_new_tokens or self.max_target_length
