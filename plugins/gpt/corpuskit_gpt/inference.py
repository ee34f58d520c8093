"""Serving the GPT: a key/value cache per slot and continuous batching (TextGenerator).

Each of `slots` sequences owns a row of the cache (n_layer x heads x context x head
size, keys and values). A step prefills the sequences added since the last one (their
prompts padded on the right, causal attention) and decodes one token for the others (the
new token's query against its row of the cache), then samples every sequence with its
own temperature, top-p, top-k and seed. Sampling goes through the Utf8Guard, so text is
emitted only at character boundaries, and held back while it could still become a stop
sequence. The attention runs over the model's own modules (as CausalLM's lean forward),
so its logits are transformers' (tests/test_serving.py checks them against `generate`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from corpuskit.serving.generator import Delta, SamplingParams, TextGenerator
from corpuskit_gpt.chat import IM_END, IM_START, as_messages, render
from corpuskit_gpt.model import GPT2LMHeadModel
from corpuskit_gpt.tokenizer import EOT, Utf8Guard, load_tokenizer


@dataclass
class _Seq:
    seq: int
    slot: int
    ids: list[int]
    prompt_len: int
    budget: int
    params: SamplingParams
    rng: random.Random
    state: int = 0  # UTF-8 decoder state of the generated tokens
    pending: list[int] = field(default_factory=list)  # tokens not yet turned into text
    held: str = ""  # text that may be the start of a stop sequence
    tail: str = ""  # the last emitted characters (stop sequences across deltas)
    prefilled: bool = False

    @property
    def generated(self) -> int:
        return len(self.ids) - self.prompt_len


class GPTGenerator(TextGenerator):
    """A saved GPT (model folder) behind the TextGenerator interface."""

    def __init__(
        self,
        model: GPT2LMHeadModel,
        tok: Tokenizer,
        name: str,
        slots: int = 8,
        chat_template: str | None = None,
    ) -> None:
        self.name = name
        self.slots = slots
        self.model = model.eval()
        p = next(model.parameters())
        self.device, dtype = p.device, p.dtype
        c = model.config
        if c.scale_attn_by_inverse_layer_idx or c.reorder_and_upcast_attn:
            raise ValueError(f"{name}: attention options this decoder does not implement")
        self.tok = tok
        self.vocab = self.tok.get_vocab_size()
        self.context_length = c.n_positions
        self.n_head, self.head_dim = c.n_head, c.n_embd // c.n_head
        self.template = chat_template
        self.stop_ids = {
            i for t in (EOT, IM_END, IM_START) if (i := self.tok.token_to_id(t)) is not None
        }
        self.guard = Utf8Guard(self.tok, self.vocab)
        self.table = self.guard.tensors(self.device)[:, : self.vocab]
        shape = (c.n_layer, slots, c.n_head, self.context_length, self.head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=self.device)
        self.v = torch.zeros(shape, dtype=dtype, device=self.device)
        self.free = list(range(slots - 1, -1, -1))
        self.seqs: dict[int, _Seq] = {}

    @classmethod
    def from_folder(
        cls,
        folder: Path,
        name: str,
        slots: int = 8,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> GPTGenerator:
        """A saved model folder (model/, best/, a checkpoint) on `device`."""
        model = GPT2LMHeadModel.from_pretrained(folder, dtype=dtype, attn_implementation="sdpa")
        model = model.to(torch.device(device))
        return cls(model, load_tokenizer(folder), name, slots, chat_template(folder))

    # --- prompts -------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    @property
    def has_chat_template(self) -> bool:
        return self.template is not None

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        if self.template is None:
            raise ValueError(
                f"model {self.name!r} has no chat template (a base model: use the "
                "completions API, or fine-tune it on conversations first)"
            )
        text, _ = render(as_messages(list(messages), "messages"), add_generation_prompt=True)
        return self.encode(text)

    # --- sequences -----------------------------------------------------------------
    def add(self, seq: int, prompt: list[int], params: SamplingParams) -> None:
        if not self.free:
            raise RuntimeError(f"all {self.slots} slots are busy")
        if not prompt:
            prompt = [self.tok.token_to_id(EOT)]
        budget = self.room(prompt, params.max_tokens)
        seed = params.seed if params.seed is not None else random.getrandbits(64)
        self.seqs[seq] = _Seq(
            seq, self.free.pop(), list(prompt), len(prompt), budget, params, random.Random(seed)
        )

    def remove(self, seq: int) -> None:
        s = self.seqs.pop(seq, None)
        if s is not None:
            self.free.append(s.slot)

    @torch.inference_mode()
    def step(self) -> list[Delta]:
        new = [s for s in self.seqs.values() if not s.prefilled]
        old = [s for s in self.seqs.values() if s.prefilled]
        batches = []
        if new:
            batches.append((new, self._prefill(new)))
        if old:
            batches.append((old, self._decode(old)))
        out = []
        for group, logits in batches:
            tokens = self._sample(group, logits)
            for s, t in zip(group, tokens, strict=True):
                out.append(self._advance(s, t))
        for d in out:
            if d.finish is not None:
                self.remove(d.seq)
        return out

    # --- the model -----------------------------------------------------------------
    def _qkv(self, block, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Queries, keys, values of `h` (B, T, C) as (B, heads, T, head size)."""
        B, T, C = h.shape
        q, k, v = block.attn.c_attn(block.ln_1(h)).split(C, dim=2)
        return tuple(x.view(B, T, self.n_head, self.head_dim).transpose(1, 2) for x in (q, k, v))

    def _finish_block(self, block, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        B, _, T, _ = y.shape
        h = h + block.attn.c_proj(y.transpose(1, 2).reshape(B, T, -1))
        return h + block.mlp(block.ln_2(h))

    def _prefill(self, group: list[_Seq]) -> torch.Tensor:
        """Run the prompts (right-padded), fill their cache rows; last-position logits."""
        tr = self.model.transformer
        lengths = [len(s.ids) for s in group]
        T = max(lengths)
        x = torch.zeros(len(group), T, dtype=torch.long)
        for i, s in enumerate(group):
            x[i, : len(s.ids)] = torch.tensor(s.ids)
        x = x.to(self.device)
        slots = torch.tensor([s.slot for s in group], device=self.device)
        h = tr.wte(x) + tr.wpe(torch.arange(T, device=self.device))
        for layer, block in enumerate(tr.h):
            q, k, v = self._qkv(block, h)
            self.k[layer, slots, :, :T] = k
            self.v[layer, slots, :, :T] = v
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            h = self._finish_block(block, h, y)
        last = torch.tensor([n - 1 for n in lengths], device=self.device)
        h = h[torch.arange(len(group), device=self.device), last]
        for s in group:
            s.prefilled = True
        return self.model.lm_head(tr.ln_f(h)).float()

    def _decode(self, group: list[_Seq]) -> torch.Tensor:
        """One token per sequence against its cache row; logits of the next token."""
        tr = self.model.transformer
        x = torch.tensor([[s.ids[-1]] for s in group], device=self.device)
        pos = torch.tensor([len(s.ids) - 1 for s in group], device=self.device)
        slots = torch.tensor([s.slot for s in group], device=self.device)
        span = int(pos.max()) + 1
        visible = torch.arange(span, device=self.device)[None, :] <= pos[:, None]
        mask = visible[:, None, None, :]
        h = tr.wte(x) + tr.wpe(pos)[:, None, :]
        for layer, block in enumerate(tr.h):
            q, k, v = self._qkv(block, h)
            self.k[layer, slots, :, pos] = k[:, :, 0]
            self.v[layer, slots, :, pos] = v[:, :, 0]
            keys = self.k[layer, slots, :, :span]
            values = self.v[layer, slots, :, :span]
            y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
            h = self._finish_block(block, h, y)
        return self.model.lm_head(tr.ln_f(h[:, 0])).float()

    # --- sampling ------------------------------------------------------------------
    def _sample(self, group: list[_Seq], logits: torch.Tensor) -> list[int]:
        logits = logits[:, : self.vocab]
        states = torch.tensor([s.state for s in group], device=logits.device)
        logits = logits.masked_fill(self.table[states] < 0, float("-inf"))
        no_stop = [i for i, s in enumerate(group) if s.params.ignore_eos]
        if no_stop and self.stop_ids:
            rows = torch.tensor(no_stop, device=logits.device)
            cols = torch.tensor(sorted(self.stop_ids), device=logits.device)
            logits[rows[:, None], cols[None, :]] = float("-inf")
        greedy = logits.argmax(-1)
        temps = torch.tensor([s.params.temperature for s in group], device=logits.device)
        if bool((temps == 0).all()):
            return greedy.tolist()
        scaled = logits / temps.clamp(min=1e-5)[:, None]
        ordered, index = scaled.sort(dim=-1, descending=True)
        probs = torch.softmax(ordered, dim=-1)
        before = probs.cumsum(-1) - probs  # mass of the more likely tokens
        top_p = torch.tensor([s.params.top_p for s in group], device=logits.device)
        top_k = torch.tensor([s.params.top_k or self.vocab for s in group], device=logits.device)
        rank = torch.arange(probs.size(-1), device=logits.device)[None, :]
        drop = (before >= top_p[:, None]) | (rank >= top_k[:, None])
        drop[:, 0] = False
        probs = probs.masked_fill(drop, 0.0)
        cdf = probs.cumsum(-1)
        u = torch.tensor([s.rng.random() for s in group], device=logits.device, dtype=cdf.dtype)
        pick = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None]).clamp_(max=probs.size(-1) - 1)
        sampled = index.gather(1, pick)[:, 0]
        return torch.where(temps == 0, greedy, sampled).tolist()

    def _advance(self, s: _Seq, token: int) -> Delta:
        """Add the token; text at a character boundary, stop sequences, the end."""
        s.ids.append(token)
        if token in self.stop_ids and not s.params.ignore_eos:
            return Delta(s.seq, self._flush(s), s.generated, "stop")
        s.state = max(0, int(self.guard.table[s.state, token]))
        s.pending.append(token)
        text = ""
        if s.state == 0:
            s.held += self.tok.decode(s.pending, skip_special_tokens=False)
            s.pending.clear()
            text, stopped = self._release(s)
            if stopped:
                return Delta(s.seq, text, s.generated, "stop")
        if s.generated >= s.budget or len(s.ids) >= self.context_length:
            return Delta(s.seq, text + self._flush(s), s.generated, "length")
        return Delta(s.seq, text, s.generated)

    def _release(self, s: _Seq) -> tuple[str, bool]:
        """Held text up to a stop sequence (True) or up to what may begin one."""
        stops = s.params.stop
        if not stops:
            out, s.held = s.held, ""
            return out, False
        window = s.tail + s.held
        hits = [(window.find(x), x) for x in stops if x and x in window]
        if hits:
            at = min(hits)[0] - len(s.tail)
            out = s.held[: max(0, at)]
            s.held = ""
            return out, True
        keep = 0
        for x in stops:
            for n in range(min(len(x) - 1, len(window)), 0, -1):
                if window.endswith(x[:n]):
                    keep = max(keep, n)
                    break
        keep = min(keep, len(s.held))
        out = s.held[: len(s.held) - keep]
        s.held = s.held[len(s.held) - keep :]
        longest = max(len(x) for x in stops)
        s.tail = (s.tail + out)[-longest:]
        return out, False

    def _flush(self, s: _Seq) -> str:
        """Whatever is held back when a sequence ends (whole characters only)."""
        text = s.held + self.guard.decode(self.tok, s.pending)
        s.held, s.pending = "", []
        return text


def chat_template(folder: Path) -> str | None:
    """The `chat_template` of a model folder's tokenizer_config.json, if any."""
    path = folder / "tokenizer_config.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("chat_template")
