"""Tokenizers trained on the training split: character BPE with byte fallback (`bpe`),
GPT-2's byte-level BPE (`byte_bpe`), or one token per character (`char`).

All are Hugging Face `tokenizers` objects saved as tokenizer.json with a
tokenizer_config.json beside it, so `transformers.AutoTokenizer.from_pretrained(folder)`
loads them (as PreTrainedTokenizerFast). Token 0 is `<|endoftext|>`, written between
documents.

`bpe` (the default) is the SentencePiece/Llama layout in `tokenizers` form: ids 1-256 are
the byte tokens `<0x00>`..`<0xFF>`; then the whole characters that cover
`character_coverage` of the training text (a Chinese character is one symbol, never three
byte symbols that a sample could split); then the merges. A character outside that
alphabet is spelt in its UTF-8 byte tokens, so any string round-trips exactly.
Special tokens (e.g. ChatML's `<|im_start|>`) can be added later with
`add_special_tokens`; they take the next free ids.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    pre_tokenizers,
    processors,
    trainers,
)

EOT = "<|endoftext|>"
UNK = "<unk>"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]
# GPT-4's split (cl100k) on raw text: words with one leading mark, up to 3 digits, runs of
# punctuation, newlines, other whitespace. A run of Chinese characters is one "word".
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def character_alphabet(texts: Iterable[list[str]], coverage: float) -> tuple[int, int]:
    """(characters covering `coverage` of the text, distinct characters seen)."""
    counts: Counter[str] = Counter()
    for batch in texts:
        for text in batch:
            counts.update(text)
    counts.pop("\ufffd", None)  # a replacement character in the data is spelt in bytes
    total, kept, covered = sum(counts.values()), 0, 0
    for _, n in counts.most_common():
        if total and covered >= coverage * total:
            break
        covered += n
        kept += 1
    return kept, len(counts)


def train_bpe(
    texts: Callable[[], Iterable[list[str]]],
    vocab_size: int,
    min_frequency: int,
    character_coverage: float = 0.9995,
) -> Tokenizer:
    """BPE over whole characters with UTF-8 byte fallback; `texts()` is read twice.

    The vocabulary is `<|endoftext|>`, the 256 byte tokens, the alphabet (the most
    frequent characters covering `character_coverage` of the text, at most what
    `vocab_size` leaves room for), then merges up to `vocab_size`.
    """
    alphabet, _ = character_alphabet(texts(), character_coverage)
    room = vocab_size - 1 - len(BYTE_TOKENS)
    if room < 1:
        raise ValueError(f"vocab_size {vocab_size} leaves no room beside the 257 fixed tokens")
    trainer = trainers.BpeTrainer(
        vocab_size=room + 1,
        min_frequency=min_frequency,
        special_tokens=[EOT],
        limit_alphabet=max(1, min(alphabet, room)),
        show_progress=False,
    )
    base = Tokenizer(models.BPE())
    base.pre_tokenizer = pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated")
    base.train_from_iterator((t for batch in texts() for t in batch), trainer)
    trained = json.loads(base.to_str())["model"]
    vocab = {EOT: 0, **{b: i + 1 for i, b in enumerate(BYTE_TOKENS)}}
    for token, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(token, len(vocab))
    merges = [m if isinstance(m, list) else m.split(" ", 1) for m in trained["merges"]]
    merges = [(a, b) for a, b in merges]
    tok = Tokenizer(models.BPE(vocab, merges, byte_fallback=True, fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated")
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])
    tok.add_special_tokens([AddedToken(EOT, special=True, normalized=False)])
    return tok


def train_byte_bpe(texts: Iterator[list[str]], vocab_size: int, min_frequency: int) -> Tokenizer:
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


# --- whole characters in generation -------------------------------------------------

# UTF-8 decoder states: 0 is a character boundary; the others wait for continuation
# bytes, (bytes still needed, lowest and highest allowed next byte) - RFC 3629 Table 3,
# so overlong forms and surrogates are refused as Python's decoder refuses them.
_STATES = [None, (1, 0x80, 0xBF), (2, 0x80, 0xBF), (2, 0xA0, 0xBF), (2, 0x80, 0x9F),
           (3, 0x80, 0xBF), (3, 0x90, 0xBF), (3, 0x80, 0x8F)]  # fmt: skip
_LEADS = {0xE0: 3, 0xED: 4, 0xF0: 6, 0xF4: 7}


def _utf8_step(state: int, byte: int) -> int:
    """The decoder state after `byte`, or -1 if the byte makes the text invalid."""
    if state == 0:
        if byte < 0x80:
            return 0
        if 0xC2 <= byte <= 0xDF:
            return 1
        if 0xE0 <= byte <= 0xEF:
            return _LEADS.get(byte, 2)
        if 0xF0 <= byte <= 0xF4:
            return _LEADS.get(byte, 5)
        return -1
    need, lo, hi = _STATES[state]
    if not lo <= byte <= hi:
        return -1
    return 0 if need == 1 else (1 if need == 2 else 2)


def byte_level_alphabet() -> dict[int, str]:
    """GPT-2's byte-to-character table (the ByteLevel pre-tokenizer's): printable bytes stand
    for themselves, the others for the characters from U+0100 on, in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table, extra = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(0x100 + extra)
            extra += 1
    return table


def token_bytes(tok: Tokenizer) -> list[bytes | None]:
    """The UTF-8 bytes each token id stands for; None for special and added tokens."""
    spec = json.loads(tok.to_str())
    byte_level = "ByteLevel" in json.dumps(spec.get("decoder"))
    unicode_to_byte = {c: b for b, c in byte_level_alphabet().items()} if byte_level else {}
    added = {t["id"] for t in spec.get("added_tokens", [])}
    out: list[bytes | None] = [None] * tok.get_vocab_size()
    for token, i in tok.get_vocab().items():
        if i in added:
            continue
        if byte_level:
            out[i] = bytes(unicode_to_byte[c] for c in token)
        elif len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
            out[i] = bytes([int(token[3:5], 16)])
        elif token == UNK:
            continue
        else:
            out[i] = token.encode("utf-8")
    return out


class Utf8Guard:
    """Sampling that never splits a character: only tokens that keep the UTF-8 valid.

    `next_state[s, t]` is the decoder state after token t from state s (-1: invalid). A
    token that is a whole string of characters is allowed at a boundary only; byte
    tokens (byte fallback, byte-level BPE) are allowed where they continue or start a
    character properly; special tokens only at a boundary. `allowed(states)` masks the
    logits of each row, `advance` moves the rows on after a token is chosen.
    """

    def __init__(self, tok: Tokenizer, vocab_size: int | None = None) -> None:
        import numpy as np

        pieces = token_bytes(tok)
        n = max(vocab_size or 0, len(pieces))
        table = np.full((len(_STATES), n), -1, dtype=np.int8)
        for t, piece in enumerate(pieces):
            if piece is None or _complete(piece):
                table[0, t] = 0
                continue
            for s in range(len(_STATES)):
                state = s
                for b in piece:
                    state = _utf8_step(state, b)
                    if state < 0:
                        break
                table[s, t] = state
        self.table = table
        self.pieces = pieces

    def tensors(self, device: object) -> object:
        import torch

        return torch.from_numpy(self.table.astype("int64")).to(device)

    def state_after(self, ids: list[int]) -> int:
        """The decoder state after `ids` (0: at a character boundary)."""
        state = 0
        for t in ids:
            state = max(0, int(self.table[state, t])) if t < self.table.shape[1] else 0
        return state

    def decode(self, tok: Tokenizer, ids: list[int]) -> str:
        """`ids` as text, dropping the bytes of an unfinished last character."""
        state, cut = 0, 0
        table = self.table
        for k, t in enumerate(ids):
            state = int(table[state, t]) if t < table.shape[1] else 0
            if state <= 0:
                state, cut = max(state, 0), k + 1
        return tok.decode(ids[:cut], skip_special_tokens=False)


def _complete(piece: bytes) -> bool:
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
