"""Held-out metrics (loss, perplexity, next-token accuracy), sampling, and BLEU/chrF."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from corpuskit_gpt.batches import eval_windows
from corpuskit_gpt.dist import DistEnv
from corpuskit_gpt.model import CausalLM
from corpuskit_gpt.tokenizer import Utf8Guard, eot_id


def logits_of(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Logits of a CausalLM (its lean forward) or of a transformers model."""
    if isinstance(model, CausalLM):
        return model.logits(x)
    return model(input_ids=x, use_cache=False).logits


@torch.no_grad()
def split_metrics(
    model: torch.nn.Module,
    tokens: np.ndarray,
    block_size: int,
    batch_size: int,
    max_batches: int | None,
    env: DistEnv,
) -> dict[str, float] | None:
    """Mean loss, perplexity and accuracy of next-token prediction over a split's windows.

    Every rank scores its share of the windows; the sums are all-reduced, so every rank
    returns the same numbers (and none waits on the others at a barrier).
    """
    limit = None if max_batches is None else max_batches * batch_size
    starts, block = eval_windows(len(tokens), block_size, limit)
    if len(starts) == 0:
        return None
    mine = starts[env.rank :: env.world]
    offsets = np.arange(block)
    sums = torch.zeros(3, dtype=torch.float64, device=env.device)
    was_training = model.training
    model.eval()
    for i in range(0, len(mine), batch_size):
        idx = mine[i : i + batch_size]
        x = torch.from_numpy(tokens[idx[:, None] + offsets].astype(np.int64)).to(env.device)
        with env.autocast():
            logits = logits_of(model, x)
        logits, y = logits[:, :-1].float(), x[:, 1:]
        sums[0] += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").double()
        sums[1] += (logits.argmax(-1) == y).sum()
        sums[2] += y.numel()
    env.all_reduce(sums)
    model.train(was_training)
    loss = (sums[0] / sums[2]).item()
    return {
        "loss": loss,
        "ppl": math.exp(min(loss, 700.0)),
        "acc": (sums[1] / sums[2]).item(),
        "tokens": int(sums[2].item()),
    }


@torch.no_grad()
def generate_ids(
    model: torch.nn.Module,
    ids: torch.Tensor,
    max_new_tokens: int,
    block_size: int,
    vocab_size: int,
    temperature: float = 0.8,
    top_k: int = 0,
    generator: torch.Generator | None = None,
    guard: Utf8Guard | None = None,
) -> torch.Tensor:
    """Extend each row of `ids` by `max_new_tokens`, cropping the context to `block_size`.

    temperature 0 is greedy; top_k > 0 samples among the k most likely tokens. Logits of
    padding rows of the embedding (beyond the tokenizer's vocabulary) are never chosen.
    With a `guard`, only tokens that keep each row valid UTF-8 are candidates (no split
    characters).
    """
    was_training = model.training
    model.eval()
    table = guard.tensors(ids.device)[:, :vocab_size] if guard is not None else None
    states = torch.tensor(
        [guard.state_after(row) if guard else 0 for row in ids.tolist()], device=ids.device
    )
    for _ in range(max_new_tokens):
        logits = logits_of(model, ids[:, -block_size:])[:, -1, :vocab_size].float()
        if table is not None:
            logits = logits.masked_fill(table[states] < 0, float("-inf"))
        if temperature == 0:
            nxt = logits.argmax(-1, keepdim=True)
        else:
            logits = logits / temperature
            if top_k:
                kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = torch.softmax(logits, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=generator)
        if table is not None:
            states = table[states, nxt[:, 0]].clamp_(min=0)
        ids = torch.cat([ids, nxt], dim=1)
    model.train(was_training)
    return ids


def sample_texts(
    model: torch.nn.Module,
    tok: Tokenizer,
    prompt: str,
    n: int,
    max_new_tokens: int,
    block_size: int,
    temperature: float,
    top_k: int,
    device: torch.device,
    seed: int = 1337,
) -> list[str]:
    """`n` continuations of `prompt` (an empty prompt starts a new document), whole characters."""
    start = tok.encode(prompt, add_special_tokens=False).ids if prompt else [eot_id(tok)]
    ids = torch.tensor([start] * n, dtype=torch.long, device=device)
    gen = torch.Generator(device=device).manual_seed(seed)
    guard = Utf8Guard(tok)
    out = generate_ids(
        model, ids, max_new_tokens, block_size, tok.get_vocab_size(), temperature, top_k, gen, guard
    )
    return [prompt + guard.decode(tok, row[len(start) :].tolist()) for row in out]


def continuation_scores(
    model: torch.nn.Module,
    tok: Tokenizer,
    texts: Iterator[list[str]],
    n_docs: int,
    block_size: int,
    device: torch.device,
    batch_size: int = 16,
) -> dict[str, float] | None:
    """BLEU and chrF (sacrebleu) of greedy continuations against the documents' own text.

    Each of the first `n_docs` held-out documents long enough gives a prompt (its first
    P tokens) and a reference (the next C tokens), P and C half the context each (<= 32).
    """
    import sacrebleu

    prompt_len = min(32, block_size // 2)
    cont_len = min(32, block_size - prompt_len)
    prompts, refs = [], []
    for batch in texts:
        for enc in tok.encode_batch_fast(batch, add_special_tokens=False):
            if len(enc.ids) >= prompt_len + cont_len:
                prompts.append(enc.ids[:prompt_len])
                refs.append(tok.decode(enc.ids[prompt_len : prompt_len + cont_len]))
            if len(prompts) >= n_docs:
                break
        if len(prompts) >= n_docs:
            break
    if not prompts:
        return None
    hyps: list[str] = []
    guard = Utf8Guard(tok)
    vocab = tok.get_vocab_size()
    for i in range(0, len(prompts), batch_size):
        ids = torch.tensor(prompts[i : i + batch_size], dtype=torch.long, device=device)
        out = generate_ids(model, ids, cont_len, block_size, vocab, temperature=0, guard=guard)
        hyps += [guard.decode(tok, row[prompt_len:].tolist()) for row in out]
    return {
        "bleu": sacrebleu.corpus_bleu(hyps, [refs]).score,
        "chrf": sacrebleu.corpus_chrf(hyps, [refs]).score,
        "bleu_docs": len(prompts),
    }
