"""Token shards: every split's documents as one flat uint16/uint32 array on disk.

Documents are tokenized in batches (the Rust tokenizer spreads a batch over all cores),
each followed by `<|endoftext|>`, and appended to train.bin / val.bin / test.bin.
Training memory-maps the files, so each rank reads only the windows it samples.
Shards are cached under a key of the corpus (manifest, shard sizes and mtimes, split)
and the tokenizer, and reused while neither changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from corpuskit.training import SPLITS, CorpusData
from corpuskit_gpt.tokenizer import eot_id, tokenizer_hash

META = "meta.json"


@dataclass(frozen=True)
class TokenShards:
    """A finished shard folder: one .bin per split and meta.json (dtype, counts)."""

    folder: Path
    meta: dict

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.meta["dtype"])

    def tokens(self, split: str) -> np.ndarray:
        """The split's tokens, memory-mapped (an empty array for an empty split)."""
        n = self.meta["tokens"][split]
        if n == 0:
            return np.zeros(0, dtype=self.dtype)
        return np.memmap(self.folder / f"{split}.bin", dtype=self.dtype, mode="r", shape=(n,))

    def metrics(
        self, model: Any, split: str, block_size: int, batch_size: int, limit: int | None, env: Any
    ) -> dict[str, float] | None:
        """Loss, perplexity and next-token accuracy over the split's windows."""
        from corpuskit_gpt.evaluate import split_metrics

        return split_metrics(model, self.tokens(split), block_size, batch_size, limit, env)

    @classmethod
    def open(cls, folder: Path) -> Any:
        return cls(folder, json.loads((folder / META).read_text(encoding="utf-8")))


def open_shards(folder: Path) -> Any:
    """Token shards, or conversation shards (meta kind: chat)."""
    meta = json.loads((folder / META).read_text(encoding="utf-8"))
    if meta.get("kind") == "chat":
        from corpuskit_gpt.chat_data import ChatShards

        return ChatShards(folder, meta)
    return TokenShards(folder, meta)


def shard_key(data: CorpusData, tok: Tokenizer) -> str:
    h = hashlib.sha256(f"{data.fingerprint()}\n{tokenizer_hash(tok)}\nv1".encode())
    return h.hexdigest()[:24]


def encode_documents(tok: Tokenizer, texts: list[str], eot: int, dtype: np.dtype) -> np.ndarray:
    """`texts` tokenized and concatenated, each followed by the end-of-text token."""
    if not texts:
        return np.zeros(0, dtype=dtype)
    ids = [e.ids for e in tok.encode_batch_fast(texts, add_special_tokens=False)]
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(chain.from_iterable(ids), dtype=dtype, count=int(lengths.sum()))
    out = np.empty(len(flat) + len(ids), dtype=dtype)
    ends = np.cumsum(lengths + 1) - 1
    keep = np.ones(len(out), dtype=bool)
    keep[ends] = False
    out[ends] = eot
    out[keep] = flat
    return out


def begin_shards(tok: Tokenizer, folder: Path) -> tuple[np.dtype, int, Path]:
    """(token dtype, end-of-text id, empty temporary folder) to write `folder`'s shards in."""
    dtype = np.dtype(np.uint16 if tok.get_vocab_size() <= 1 << 16 else np.uint32)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return dtype, eot_id(tok), tmp


def build_shards(data: CorpusData, tok: Tokenizer, folder: Path) -> TokenShards:
    """Tokenize the whole corpus into `folder` (written under a temporary name, then renamed)."""
    dtype, eot, tmp = begin_shards(tok, folder)
    counts = dict.fromkeys(SPLITS, 0)
    docs = dict.fromkeys(SPLITS, 0)
    started = time.perf_counter()
    files = {s: open(tmp / f"{s}.bin", "wb") for s in SPLITS}  # noqa: SIM115
    try:
        for frame in data.batches():
            for split in SPLITS:
                texts = frame.filter(frame["split"] == split)["text"].to_list()
                arr = encode_documents(tok, texts, eot, dtype)
                files[split].write(arr.tobytes())
                counts[split] += len(arr)
                docs[split] += len(texts)
    finally:
        for f in files.values():
            f.close()
    meta = {
        "dtype": dtype.name,
        "eot": eot,
        "vocab_size": tok.get_vocab_size(),
        "tokens": counts,
        "documents": docs,
        "seconds": round(time.perf_counter() - started, 3),
        "corpus": str(data.root),
    }
    (tmp / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    if folder.exists():  # another process finished the same key first: same content
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(folder)
    return TokenShards.open(folder)


def ensure_shards(data: CorpusData, tok: Tokenizer, cache_dir: Path) -> tuple[TokenShards, bool]:
    """The cached shards of this corpus and tokenizer, built first if missing; (shards, built)."""
    folder = cache_dir / f"shards-{shard_key(data, tok)}"
    if (folder / META).exists():
        return TokenShards.open(folder), False
    cache_dir.mkdir(parents=True, exist_ok=True)
    return build_shards(data, tok, folder), True
