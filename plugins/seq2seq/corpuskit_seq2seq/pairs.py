"""Pair shards: every split's (source, target) token ids as two ragged arrays on disk.

Pairs are tokenized in batches (the Rust tokenizer spreads a batch over the cores); a
source becomes the model's input as `model_inputs` says (task prefix, memory match). A
pair with an empty side cannot be learned from and is skipped, and counted in meta.json
with the split sizes and how many sides are longer than the model keeps. Shards are
cached under a key of the corpus (manifest, shards, split, fields), the tokenizer, the
inputs and the lengths, and reused while none changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from corpuskit.training import SPLITS, CorpusData
from corpuskit.training.collate import Ragged
from corpuskit_seq2seq.memory import TranslationMemory
from corpuskit_seq2seq.tokenizer import encode

META = "meta.json"


@dataclass(frozen=True)
class PairShards:
    """A finished shard folder: `<split>.source` / `<split>.target` ragged arrays, meta."""

    folder: Path
    meta: dict

    def sides(self, split: str) -> tuple[Ragged, Ragged]:
        """(sources, targets) of a split, memory-mapped; empty for an empty split."""
        if not self.meta["pairs"][split]:
            empty = Ragged(np.zeros(0, dtype=np.uint32), np.zeros(1, dtype=np.int64))
            return empty, empty
        return Ragged.load(self.folder / f"{split}.source"), Ragged.load(
            self.folder / f"{split}.target"
        )

    @classmethod
    def open(cls, folder: Path) -> PairShards:
        return cls(folder, json.loads((folder / META).read_text(encoding="utf-8")))


def model_inputs(
    sources: list[str],
    prefix: str = "",
    memory: TranslationMemory | None = None,
    targets: list[str] | None = None,
) -> list[str]:
    """What the encoder reads: the prefix, the source and, with a memory, `<sep>` and the
    target of its nearest memory pair (never itself: pass `targets` for training pairs)."""
    if memory is not None:
        sources = memory.augment(sources, targets)
    return [prefix + s for s in sources]


def shard_key(
    data: CorpusData,
    tok: Tokenizer,
    prefix: str,
    limits: tuple[int, int],
    memory: TranslationMemory | None = None,
) -> str:
    tok_hash = hashlib.sha256(tok.to_str().encode()).hexdigest()
    tm = memory.fingerprint() if memory is not None else ""
    h = hashlib.sha256(f"{data.fingerprint()}\n{tok_hash}\n{prefix}\n{limits}\n{tm}\nv1".encode())
    return h.hexdigest()[:24]


def build_pairs(
    data: CorpusData,
    tok: Tokenizer,
    folder: Path,
    prefix: str,
    limits: tuple[int, int],
    memory: TranslationMemory | None = None,
) -> PairShards:
    """Tokenize every pair into `folder` (written under a temporary name, then renamed)."""
    dtype = np.uint16 if tok.get_vocab_size() <= 1 << 16 else np.uint32
    parts: dict[str, dict[str, list[Ragged]]] = {s: {"source": [], "target": []} for s in SPLITS}
    counts = {k: dict.fromkeys(SPLITS, 0) for k in ("pairs", "skipped_empty", "tokens")}
    cut = {side: dict.fromkeys(SPLITS, 0) for side in ("source", "target")}
    started = time.perf_counter()
    for frame in data.batches():
        usable = (frame["source"].str.strip_chars() != "") & (
            frame["target"].str.strip_chars() != ""
        )
        for split in SPLITS:
            mine = frame["split"] == split
            kept = frame.filter(mine & usable)
            counts["skipped_empty"][split] += int((mine & ~usable).sum())
            if not kept.height:
                continue
            targets = kept["target"].to_list()
            own = targets if split == "train" else None  # training pairs are in the memory
            sides = {
                "source": model_inputs(kept["source"].to_list(), prefix, memory, own),
                "target": targets,
            }
            for (side, texts), limit in zip(sides.items(), limits, strict=True):
                ragged = Ragged.from_lists(encode(tok, texts), dtype)
                parts[split][side].append(ragged)
                cut[side][split] += int((ragged.lengths >= limit).sum())  # </s> takes one place
                counts["tokens"][split] += int(ragged.offsets[-1])
            counts["pairs"][split] += kept.height
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for split in SPLITS:
        for side in ("source", "target"):
            if parts[split][side]:
                Ragged.concat(parts[split][side]).save(tmp / f"{split}.{side}")
    meta = {
        **counts,
        "truncated_source": cut["source"],
        "truncated_target": cut["target"],
        "vocab_size": tok.get_vocab_size(),
        "prefix": prefix,
        "memory": memory.fingerprint() if memory is not None else None,
        "seconds": round(time.perf_counter() - started, 3),
        "corpus": str(data.root),
    }
    (tmp / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    if folder.exists():  # another process finished the same key first: same content
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(folder)
    return PairShards.open(folder)


def ensure_pairs(
    data: CorpusData,
    tok: Tokenizer,
    cache_dir: Path,
    prefix: str,
    limits: tuple[int, int],
    memory: TranslationMemory | None = None,
) -> tuple[PairShards, bool]:
    """The cached pair shards of this corpus, tokenizer, inputs and lengths; (shards, built)."""
    folder = cache_dir / f"pairs-{shard_key(data, tok, prefix, limits, memory)}"
    if (folder / META).exists():
        return PairShards.open(folder), False
    cache_dir.mkdir(parents=True, exist_ok=True)
    return build_pairs(data, tok, folder, prefix, limits, memory), True


def held_out(data: CorpusData, split: str, limit: int | None) -> tuple[list[str], list[str]]:
    """(sources, references) of `limit` usable pairs of a split (None: all of them).

    Evenly spread over the split in corpus order (not its first rows: an input sorted by
    length would give only the shortest). Both are the corpus text itself: the model's
    inputs come from `model_inputs`, and references are never a tokenizer round trip.
    """
    sources: list[str] = []
    targets: list[str] = []
    if limit == 0:
        return sources, targets
    for frame in data.batches(split):
        usable = frame.filter(
            (frame["source"].str.strip_chars() != "") & (frame["target"].str.strip_chars() != "")
        )
        sources += usable["source"].to_list()
        targets += usable["target"].to_list()
    if limit is not None and len(sources) > limit:
        picked = np.unique(np.linspace(0, len(sources) - 1, limit).round().astype(np.int64))
        sources, targets = [sources[i] for i in picked], [targets[i] for i in picked]
    return sources, targets
