"""The model (transformers' GPT-2, built locally), its optimizer, schedule and FLOP count."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.utils import logging as hf_logging

from corpuskit_gpt.config import GPTConfig

hf_logging.disable_progress_bar()

# Dense bf16 tensor-core peaks (FLOP/s) by device-name fragment, for the MFU estimate.
PEAK_FLOPS = {
    "H200": 989e12,
    "H100 PCIe": 756e12,
    "H100": 989e12,
    "A100": 312e12,
    "L40S": 362e12,
    "A10G": 125e12,
    "A10": 125e12,
    "L4": 121e12,
    "4090": 165e12,
    "V100": 125e12,
    "T4": 65e12,
}


def build_model(
    cfg: GPTConfig, vocab_size: int, eot: int, source: Path | None = None
) -> GPT2LMHeadModel:
    """A fresh GPT-2 sized by `cfg`, or the float32 weights of a local checkpoint `source`."""
    dropout = {"resid_pdrop": cfg.dropout, "embd_pdrop": cfg.dropout, "attn_pdrop": cfg.dropout}
    if source is not None:
        model = GPT2LMHeadModel.from_pretrained(
            source, dtype=torch.float32, attn_implementation="sdpa", **dropout
        )
        if cfg.block_size > model.config.n_positions:
            raise ValueError(
                f"block_size {cfg.block_size} exceeds the checkpoint's context "
                f"({model.config.n_positions}) in {source}"
            )
        model.loss_type = "ForCausalLM"
        if model.config.vocab_size < vocab_size:
            raise ValueError(f"{source}: vocabulary {model.config.vocab_size} < tokenizer's")
        return model
    config = GPT2Config(
        vocab_size=max(vocab_size, cfg.model_vocab_size or 0),
        n_positions=cfg.block_size,
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        bos_token_id=eot,
        eos_token_id=eot,
        tie_word_embeddings=True,
        # exact GELU (nanoGPT's nn.GELU): on CPU torch's erf kernel ran 4.8x faster than
        # GPT-2's tanh form (gelu_new: 5 elementwise ops, 40% of a step in the profile).
        activation_function=cfg.activation,
        **dropout,
    )
    torch.manual_seed(cfg.seed)
    model = GPT2LMHeadModel._from_config(config, attn_implementation="sdpa", dtype=torch.float32)
    model.loss_type = "ForCausalLM"  # the shifted cross-entropy it uses anyway, named (no warning)
    return model


class CausalLM(torch.nn.Module):
    """The training view of a GPT2LMHeadModel: a lean forward over its own modules.

    transformers' forward spends a fixed Python cost per call on masks, cache and output
    objects; for small models on a CPU that is a large share of a step. This forward
    runs the same modules (so the same parameters, `save_pretrained` and `from_pretrained`)
    in nanoGPT's order of operations, and returns the mean next-token cross-entropy
    (with optional label smoothing) of `x`. Its logits equal transformers' exactly
    (tests/test_gpt_plugin.py); configurations it does not cover fall back to
    transformers' forward.
    """

    def __init__(self, model: GPT2LMHeadModel, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.model = model
        self.label_smoothing = label_smoothing
        c = model.config
        self.lean = (
            c.scale_attn_weights
            and not c.scale_attn_by_inverse_layer_idx
            and not c.reorder_and_upcast_attn
            and not getattr(c, "add_cross_attention", False)
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        if not self.lean:
            return self.model(input_ids=x, use_cache=False).logits
        tr = self.model.transformer
        B, T = x.shape
        h = tr.drop(tr.wte(x) + tr.wpe(torch.arange(T, device=x.device)))
        for block in tr.h:
            attn = block.attn
            C, H = attn.embed_dim, attn.num_heads
            q, k, v = attn.c_attn(block.ln_1(h)).split(C, dim=2)
            q = q.view(B, T, H, C // H).transpose(1, 2)
            k = k.view(B, T, H, C // H).transpose(1, 2)
            v = v.view(B, T, H, C // H).transpose(1, 2)
            p = attn.attn_dropout.p if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
            h = h + attn.resid_dropout(attn.c_proj(y.transpose(1, 2).reshape(B, T, C)))
            h = h + block.mlp(block.ln_2(h))
        return self.model.lm_head(tr.ln_f(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of predicting x[:, 1:] from x[:, :-1]."""
        logits = self.logits(x)[:, :-1]
        return F.cross_entropy(
            logits.reshape(-1, logits.size(-1)).float(),
            x[:, 1:].reshape(-1),
            label_smoothing=self.label_smoothing if self.training else 0.0,
        )


def make_optimizer(model: torch.nn.Module, cfg: GPTConfig, device_type: str) -> torch.optim.AdamW:
    """AdamW with decoupled weight decay on weight matrices (and embeddings) only.

    Biases and LayerNorm gains (1-d tensors) are not decayed.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2), fused=fused_adamw(device_type)
    )


def fused_adamw(device_type: str) -> bool:
    """The fused AdamW kernel: on CUDA, and on the CPU from torch 2.4 (one kernel for all
    tensors: 8.7 ms a step against 40.7 ms for the foreach one, 0.8M parameters, 1 thread)."""
    if device_type == "cuda":
        return True
    major, minor = (int(x) for x in torch.__version__.split(".")[:2])
    return device_type == "cpu" and (major, minor) >= (2, 4)


def lr_at(step: int, cfg: GPTConfig) -> float:
    """Linear warmup to `learning_rate`, then cosine decay to `min_lr` at `decay_iters`."""
    if step < cfg.warmup_iters:
        return cfg.learning_rate * (step + 1) / (cfg.warmup_iters + 1)
    if step >= cfg.decay_iters:
        return cfg.min_lr
    ratio = (step - cfg.warmup_iters) / max(1, cfg.decay_iters - cfg.warmup_iters)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (cfg.learning_rate - cfg.min_lr)


def make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: GPTConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_at(step, cfg) / cfg.learning_rate
    )


def flops_per_token(model: GPT2LMHeadModel, block_size: int) -> float:
    """Training FLOPs per token (PaLM appendix B, as nanoGPT): 6N + 12 L H Q T."""
    c = model.config
    n = sum(p.numel() for p in model.parameters()) - model.transformer.wpe.weight.numel()
    return 6 * n + 12 * c.n_layer * c.n_head * (c.n_embd // c.n_head) * block_size


def peak_flops(device: torch.device, override: float | None) -> float | None:
    """Peak FLOP/s of one device: the configured value, else a known GPU's bf16 peak."""
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_FLOPS.items() if k in name), None)
