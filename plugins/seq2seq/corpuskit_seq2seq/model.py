"""The encoder-decoder (transformers' T5 or BART, built locally) and its loss.

Built from a config (no download) with one embedding shared by encoder, decoder and
output layer, or loaded from a local save_pretrained folder for fine-tuning. Either way
`AutoModelForSeq2SeqLM.from_pretrained(run_dir / "model")` loads the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import (
    AutoModelForSeq2SeqLM,
    BartConfig,
    BartForConditionalGeneration,
    T5Config,
    T5ForConditionalGeneration,
)
from transformers.utils import logging as hf_logging

from corpuskit_seq2seq.config import Seq2SeqConfig
from corpuskit_seq2seq.tokenizer import special_ids

hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()


def model_config(cfg: Seq2SeqConfig, vocab_size: int) -> Any:
    ids = special_ids()
    tokens = {"pad_token_id": ids["pad"], "eos_token_id": ids["eos"]}
    if cfg.architecture == "t5":
        return T5Config(
            vocab_size=vocab_size,
            d_model=cfg.d_model,
            d_kv=cfg.d_model // cfg.n_head,
            d_ff=cfg.d_ff,
            num_layers=cfg.encoder_layers,
            num_decoder_layers=cfg.decoder_layers,
            num_heads=cfg.n_head,
            dropout_rate=cfg.dropout,
            feed_forward_proj="relu",
            decoder_start_token_id=ids["pad"],  # T5's convention
            tie_word_embeddings=True,
            **tokens,
        )
    return BartConfig(
        vocab_size=vocab_size,
        d_model=cfg.d_model,
        encoder_layers=cfg.encoder_layers,
        decoder_layers=cfg.decoder_layers,
        encoder_attention_heads=cfg.n_head,
        decoder_attention_heads=cfg.n_head,
        encoder_ffn_dim=cfg.d_ff,
        decoder_ffn_dim=cfg.d_ff,
        dropout=cfg.dropout,
        max_position_embeddings=max(cfg.max_source_length, cfg.max_target_length),
        bos_token_id=ids["bos"],
        decoder_start_token_id=ids["bos"],
        forced_eos_token_id=ids["eos"],
        scale_embedding=True,
        tie_word_embeddings=True,
        **tokens,
    )


def build_model(cfg: Seq2SeqConfig, vocab_size: int, source: Path | None = None) -> Any:
    """A fresh model sized by `cfg`, or the float32 weights of a local checkpoint `source`."""
    if source is not None:
        model = AutoModelForSeq2SeqLM.from_pretrained(source, dtype=torch.float32)
        if model.config.vocab_size < vocab_size:
            raise ValueError(f"{source}: vocabulary {model.config.vocab_size} < tokenizer's")
        return model
    config = model_config(cfg, vocab_size)
    torch.manual_seed(cfg.seed)
    cls = T5ForConditionalGeneration if cfg.architecture == "t5" else BartForConditionalGeneration
    return cls._from_config(config, dtype=torch.float32)


def pair_loss(
    model: Any, batch: dict[str, torch.Tensor], label_smoothing: float = 0.0, stats: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """(mean loss, summed plain NLL, correct argmax tokens) over the batch's target tokens.

    The decoder reads the labels shifted right (the model's own rule); the loss is
    cross-entropy with label smoothing, the NLL beside it is what perplexity reports.
    `stats=False` (training steps) skips the NLL and accuracy: two more passes over the
    logits, which are the largest tensor of a small model's step.
    """
    labels = batch["labels"]
    raw = model.module if hasattr(model, "module") else model
    decoder_input_ids = raw.prepare_decoder_input_ids_from_labels(labels=labels)
    logits = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        decoder_input_ids=decoder_input_ids,
    ).logits.float()
    flat, target = logits.flatten(0, 1), labels.flatten()
    loss = F.cross_entropy(flat, target, ignore_index=-100, label_smoothing=label_smoothing)
    if not stats:
        return loss, None, None
    with torch.no_grad():
        nll = F.cross_entropy(flat, target, ignore_index=-100, reduction="sum")
        correct = ((flat.argmax(-1) == target) & (target != -100)).sum()
    return loss, nll, correct


def parameter_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())
