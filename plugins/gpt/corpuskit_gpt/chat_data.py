"""Conversation shards: every split's conversations as tokens, a loss mask and start offsets.

    chat-<key>/train.bin        the conversations' tokens, one after the other (uint16/32)
    chat-<key>/train.mask.bin   1 where the token is the assistant's (the loss is taken there)
    chat-<key>/train.starts.npy where each conversation starts (int64)
    chat-<key>/meta.json        counts, the conversations skipped and why

Conversations come from a column of messages (a list of {role, content}, or its JSON in a
`meta` key) or from a prompt and a completion column. A training window starts at a
conversation (the position the model sees at inference) and runs on into the next ones
(packing); the tail is padded with end-of-text tokens outside the mask so every window
is whole. Cached like the token shards, by corpus, tokenizer and the chat keys.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq
from tokenizers import Tokenizer

from corpuskit.training import SPLITS, CorpusData, TrainConfigError, assign_split
from corpuskit_gpt.chat import BadConversation, as_messages, encode_conversations, pair_messages
from corpuskit_gpt.shards import META, TokenShards, begin_shards
from corpuskit_gpt.tokenizer import tokenizer_hash


@dataclass(frozen=True)
class ChatShards(TokenShards):
    """A finished conversation shard folder: the token files, plus masks and starts."""

    def mask(self, split: str) -> np.ndarray:
        n = self.meta["tokens"][split]
        if n == 0:
            return np.zeros(0, dtype=np.uint8)
        return np.memmap(self.folder / f"{split}.mask.bin", dtype=np.uint8, mode="r", shape=(n,))

    def starts(self, split: str) -> np.ndarray:
        return np.load(self.folder / f"{split}.starts.npy")

    def metrics(
        self, model: Any, split: str, block_size: int, batch_size: int, limit: int | None, env: Any
    ) -> dict[str, float] | None:
        """Loss, perplexity and accuracy on the assistant's tokens of the split."""
        from corpuskit_gpt.evaluate import chat_metrics

        return chat_metrics(
            model,
            self.tokens(split),
            self.mask(split),
            self.starts(split),
            block_size,
            batch_size,
            limit,
            env,
            self.meta.get("end_of_turn"),
        )


def conversation_fields(cfg: Any) -> dict[str, str]:
    """role -> column or meta key: {messages} or {prompt, completion}."""
    if cfg.messages_field:
        return {"messages": cfg.messages_field}
    return {"prompt": cfg.prompt_field, "completion": cfg.completion_field}


def read_conversations(
    data: CorpusData, cfg: Any, batch_rows: int = 8192
) -> Iterator[tuple[str, list[str], list[Any]]]:
    """(split, ids, raw conversations) batches: a messages value, or (prompt, completion)."""
    fields = conversation_fields(cfg)
    for path in data.files:
        reader = pq.ParquetFile(path)
        names = reader.schema_arrow.names
        missing = [f for f in fields.values() if f not in names and "meta" not in names]
        if missing:
            raise TrainConfigError(f"data: {path} has no column {missing[0]!r} (columns: {names})")
        columns = list(
            dict.fromkeys(["id", *(f if f in names else "meta" for f in fields.values())])
        )
        for batch in reader.iter_batches(batch_size=batch_rows, columns=columns):
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            ids = frame["id"].cast(pl.String)
            values = {
                role: (
                    frame[name].to_list()
                    if name in names
                    else frame["meta"].str.json_path_match(f"$['{name}']").to_list()
                )
                for role, name in fields.items()
            }
            split = assign_split(ids, data.split)
            for name in SPLITS:
                keep = (split == name).to_list()
                if not any(keep):
                    continue
                rows = [i for i, k in enumerate(keep) if k]
                chosen = [ids[i] for i in rows]
                if "messages" in values:
                    raw = [values["messages"][i] for i in rows]
                else:
                    raw = [(values["prompt"][i], values["completion"][i]) for i in rows]
                yield name, chosen, raw


def to_messages(raw: Any, doc_id: str, system: str | None) -> list[dict[str, str]]:
    """One raw value as a validated conversation (BadConversation says why not)."""
    origin = f"document {doc_id}"
    if isinstance(raw, tuple):
        prompt, completion = raw
        if not isinstance(prompt, str) or not isinstance(completion, str):
            raise BadConversation(f"{origin}: prompt and completion must both be text")
        return pair_messages(prompt, completion, system)
    messages = as_messages(raw, origin)
    if system and messages[0]["role"] != "system":
        messages = [{"role": "system", "content": system}, *messages]
    if not any(m["role"] == "assistant" for m in messages):
        raise BadConversation(f"{origin}: no assistant message, nothing to learn")
    return messages


def chat_key(data: CorpusData, tok: Tokenizer, cfg: Any) -> str:
    keys = json.dumps([conversation_fields(cfg), cfg.system_prompt, cfg.block_size])
    h = hashlib.sha256(f"{data.fingerprint()}\n{tokenizer_hash(tok)}\n{keys}\nchat-v1".encode())
    return h.hexdigest()[:24]


def build_chat_shards(data: CorpusData, tok: Tokenizer, cfg: Any, folder: Path) -> ChatShards:
    """Tokenize every conversation of the corpus into `folder` (temporary name, then renamed)."""
    dtype, eot, tmp = begin_shards(tok, folder)
    tokens = dict.fromkeys(SPLITS, 0)
    conversations = dict.fromkeys(SPLITS, 0)
    starts: dict[str, list[int]] = {s: [] for s in SPLITS}
    skipped: Counter[str] = Counter()
    examples: dict[str, str] = {}
    truncated = 0
    files = {s: open(tmp / f"{s}.bin", "wb") for s in SPLITS}  # noqa: SIM115
    masks = {s: open(tmp / f"{s}.mask.bin", "wb") for s in SPLITS}  # noqa: SIM115
    try:
        for split, ids, raw in read_conversations(data, cfg):
            good = []
            for doc_id, value in zip(ids, raw, strict=True):
                try:
                    good.append(to_messages(value, doc_id, cfg.system_prompt))
                except BadConversation as e:
                    reason = str(e).split(": ", 1)[1].split(" (")[0][:60]
                    skipped[reason] += 1
                    examples.setdefault(reason, str(e))
            for ids_, mask in encode_conversations(tok, good):
                if not any(mask):
                    skipped["no assistant tokens"] += 1
                    continue
                truncated += len(ids_) > cfg.block_size
                starts[split].append(tokens[split])
                files[split].write(np.asarray(ids_, dtype=dtype).tobytes())
                masks[split].write(np.asarray(mask, dtype=np.uint8).tobytes())
                tokens[split] += len(ids_)
                conversations[split] += 1
        for split in SPLITS:  # windows that start at the last conversations stay whole
            if tokens[split]:
                files[split].write(np.full(cfg.block_size, eot, dtype=dtype).tobytes())
                masks[split].write(np.zeros(cfg.block_size, dtype=np.uint8).tobytes())
                tokens[split] += cfg.block_size
    finally:
        for f in (*files.values(), *masks.values()):
            f.close()
    for split in SPLITS:
        np.save(tmp / f"{split}.starts.npy", np.asarray(starts[split], dtype=np.int64))
    meta = {
        "kind": "chat",
        "dtype": dtype.name,
        "eot": eot,
        "end_of_turn": tok.token_to_id("<|im_end|>"),
        "vocab_size": tok.get_vocab_size(),
        "tokens": tokens,
        "documents": conversations,
        "skipped": dict(skipped),
        "skipped_examples": examples,
        "longer_than_block": truncated,
        "corpus": str(data.root),
    }
    (tmp / META).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    if folder.exists():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(folder)
    return ChatShards.open(folder)


def ensure_chat_shards(
    data: CorpusData, tok: Tokenizer, cfg: Any, cache_dir: Path
) -> tuple[ChatShards, bool]:
    folder = cache_dir / f"chat-{chat_key(data, tok, cfg)}"
    if (folder / META).exists():
        return ChatShards.open(folder), False
    cache_dir.mkdir(parents=True, exist_ok=True)
    shards = build_chat_shards(data, tok, cfg, folder)
    if not shards.meta["documents"]["train"]:
        raise TrainConfigError(
            f"data: {data.root}: no usable conversation in the training split "
            f"(skipped: {shards.meta['skipped_examples'] or shards.meta['skipped']})"
        )
    return shards, True


def held_out_conversations(
    data: CorpusData, cfg: Any, split: str, n: int
) -> list[list[dict[str, str]]]:
    """The first `n` valid conversations of a held-out split (for reply checks)."""
    out: list[list[dict[str, str]]] = []
    for name, ids, raw in read_conversations(data, cfg):
        if name != split:
            continue
        for doc_id, value in zip(ids, raw, strict=True):
            try:
                out.append(to_messages(value, doc_id, cfg.system_prompt))
            except BadConversation:
                continue
            if len(out) >= n:
                return out
    return out
