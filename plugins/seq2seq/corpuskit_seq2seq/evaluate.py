"""Held-out metrics: teacher-forced loss, perplexity and token accuracy; translations
(greedy, beam or sampled) and their BLEU and chrF (sacrebleu)."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import torch
from corpuskit_gpt.dist import DistEnv
from tokenizers import Tokenizer

from corpuskit.training.collate import Ragged
from corpuskit_seq2seq.batches import collate
from corpuskit_seq2seq.config import Seq2SeqConfig
from corpuskit_seq2seq.model import pair_loss
from corpuskit_seq2seq.tokenizer import decode, encode, special_ids

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@torch.no_grad()
def split_metrics(
    model: Any,
    sources: Ragged,
    targets: Ragged,
    cfg: Seq2SeqConfig,
    max_batches: int | None,
    env: DistEnv,
) -> dict[str, float] | None:
    """Loss (plain NLL), perplexity and next-token accuracy over a split's target tokens.

    At most `max_batches` batches, evenly spread over the split; every rank scores its
    share and the sums are all-reduced, so every rank returns the same numbers.
    """
    n = len(sources)
    if n == 0:
        return None
    rows = np.arange(n)
    if max_batches is not None and n > max_batches * cfg.batch_size:
        rows = np.linspace(0, n - 1, max_batches * cfg.batch_size).round().astype(np.int64)
    rows = rows[np.argsort(sources.lengths[rows], kind="stable")]  # less padding
    batches = [rows[i : i + cfg.batch_size] for i in range(0, len(rows), cfg.batch_size)]
    sums = torch.zeros(3, dtype=torch.float64, device=env.device)
    was_training = model.training
    model.eval()
    for batch_rows in batches[env.rank :: env.world]:
        batch = collate(sources, targets, batch_rows, cfg, env.device)
        with env.autocast():
            _, nll, correct = pair_loss(model, batch)
        sums += torch.stack(
            [nll.double(), correct.double(), (batch["labels"] != -100).sum().double()]
        )
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
def translate(
    model: Any,
    tok: Tokenizer,
    sources: list[str],
    cfg: Seq2SeqConfig,
    device: torch.device,
    num_beams: int = 1,
    temperature: float = 0.0,
    top_k: int = 0,
    num_return: int = 1,
    seed: int | None = None,
    batch_size: int | None = None,
) -> list[str]:
    """Outputs for `sources` (prefix included), `num_return` per source, in input order.

    temperature 0 is greedy (num_beams 1) or beam search; above 0 it samples among the
    `top_k` likeliest tokens (0 = all). Sources are batched by length.
    """
    if not sources:
        return []
    ids = special_ids()
    batch_size = batch_size or max(1, cfg.batch_size // max(num_beams, num_return))
    ragged = Ragged.from_lists(encode(tok, sources), np.int64)
    order = np.argsort(ragged.lengths, kind="stable")
    out: list[list[str]] = [[] for _ in sources]
    was_training = model.training
    model.eval()
    generator_seed = seed if seed is not None else cfg.seed
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        x, mask = ragged.pad(rows, ids["pad"], cfg.max_source_length, append=ids["eos"])
        kwargs: dict[str, Any] = {
            "max_new_tokens": cfg.generation_length,
            "num_return_sequences": num_return,
        }
        if temperature > 0:
            torch.manual_seed(generator_seed + start)
            kwargs.update(do_sample=True, temperature=temperature, top_k=top_k or None)
            kwargs["num_beams"] = 1
        else:
            kwargs.update(do_sample=False, num_beams=max(num_beams, num_return))
            if kwargs["num_beams"] > 1:
                kwargs.update(early_stopping=True, length_penalty=cfg.length_penalty)
        generated = model.generate(
            input_ids=torch.from_numpy(x).to(device),
            attention_mask=torch.from_numpy(mask).to(device),
            **kwargs,
        )
        texts = decode(tok, generated.tolist())
        for j, row in enumerate(rows):
            out[row] = texts[j * num_return : (j + 1) * num_return]
    model.train(was_training)
    return [t for group in out for t in group]


def bleu_tokenizer(setting: str, references: list[str]) -> str:
    """sacrebleu's tokenizer: the configured one, or `zh` when most references are CJK."""
    if setting != "auto":
        return setting
    text = "".join(references[:500])
    letters = sum(c.isalpha() for c in text)
    return "zh" if letters and len(CJK.findall(text)) > 0.3 * letters else "13a"


def scores(hypotheses: list[str], references: list[str], tokenize: str) -> dict[str, float]:
    """Corpus BLEU (sacrebleu, `tokenize`) and chrF of hypotheses against one reference each."""
    import sacrebleu

    return {
        "bleu": sacrebleu.corpus_bleu(hypotheses, [references], tokenize=tokenize).score,
        "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score,
    }


def distributed_translate(
    model: Any,
    tok: Tokenizer,
    sources: list[str],
    cfg: Seq2SeqConfig,
    env: DistEnv,
    num_beams: int = 1,
) -> list[str]:
    """`translate` with the sources shared among the ranks; every rank gets all outputs."""
    mine = translate(model, tok, sources[env.rank :: env.world], cfg, env.device, num_beams)
    parts = env.gather(mine)
    out: list[str] = [""] * len(sources)
    for rank, part in enumerate(parts):
        out[rank :: env.world] = part
    return out
