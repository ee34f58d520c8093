"""Tokenizers: byte-level BPE trained on the training split, or a character vocabulary.

Both are Hugging Face `tokenizers` objects saved as tokenizer.json with a
tokenizer_config.json beside it, so `transformers.AutoTokenizer.from_pretrained(folder)`
loads them (as PreTrainedTokenizerFast). Token 0 is `<|endoftext|>`, written between
documents.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

EOT = "<|endoftext|>"
UNK = "<unk>"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def train_bpe(texts: Iterator[list[str]], vocab_size: int, min_frequency: int) -> Tokenizer:
    """Byte-level BPE over `texts`; the 256 byte symbols are always in the vocabulary.

    Without the full byte alphabet a character absent from the training text would have
    no token and vanish on decode; with it, any string round-trips exactly.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator((t for batch in texts for t in batch), trainer)
    return tok


def build_char(texts: Iterator[list[str]]) -> Tokenizer:
    """One token per character of the training split (code point order); others map to <unk>."""
    chars: set[str] = set()
    for batch in texts:
        chars.update("".join(batch))
    vocab = {EOT: 0, UNK: 1}
    for c in sorted(chars):
        vocab.setdefault(c, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    # "(?m)." is one code point, newlines included (Oniguruma's multiline dot).
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("(?m)."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return tok


def save_tokenizer(tok: Tokenizer, folder: Path, max_length: int) -> None:
    """tokenizer.json plus the tokenizer_config.json that AutoTokenizer reads."""
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": EOT,
        "bos_token": EOT,
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
    }
    if tok.token_to_id(UNK) is not None:
        config["unk_token"] = UNK
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def copy_tokenizer(src: Path, dst: Path) -> None:
    """Copy a saved tokenizer's files from one folder to another."""
    if not (src / "tokenizer.json").exists():
        raise FileNotFoundError(f"{src} holds no tokenizer.json")
    dst.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (src / name).exists() and (src / name).resolve() != (dst / name).resolve():
            shutil.copyfile(src / name, dst / name)


def load_tokenizer(folder: Path) -> Tokenizer:
    return Tokenizer.from_file(str(folder / "tokenizer.json"))


def eot_id(tok: Tokenizer) -> int:
    i = tok.token_to_id(EOT)
    if i is None:
        raise ValueError(f"the tokenizer has no {EOT} token")
    return i


def tokenizer_hash(tok: Tokenizer) -> str:
    return hashlib.sha256(tok.to_str().encode()).hexdigest()
