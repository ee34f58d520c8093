"""One BPE vocabulary for both sides, with whole characters and byte fallback.

Every Han character is a token of its own (Chinese targets are scored per character,
and merges across them would only spread a small corpus over more types); other scripts
get BPE pieces on a SentencePiece-style `▁` word boundary. Every character seen in the
training pairs is in the vocabulary, so generated Chinese never splits a character into
bytes; one never seen falls back to byte tokens (`<0xE4>`...) instead of `<unk>`.

Saved as tokenizer.json + tokenizer_config.json: `AutoTokenizer.from_pretrained(folder)`
loads it and appends `</s>` to each text, as training does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from tokenizers import (
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

PAD, EOS, UNK, BOS, SEP = "<pad>", "</s>", "<unk>", "<s>", "<sep>"
SPECIALS = (PAD, EOS, UNK, BOS, SEP)  # ids 0-4; <sep> joins a source and its memory match
BYTES = tuple(f"<0x{i:02X}>" for i in range(256))
# Characters that are tokens by themselves: Han, kana, Hangul syllables, CJK punctuation.
CJK = r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\u3000-\u303f\uff00-\uffef]"


def special_ids() -> dict[str, int]:
    return {"pad": 0, "eos": 1, "unk": 2, "bos": 3, "sep": 4}


def _pipeline(tok: Tokenizer) -> Tokenizer:
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(prepend_scheme="never"),
            pre_tokenizers.Split(Regex(CJK), behavior="isolated"),
            pre_tokenizers.Punctuation(behavior="isolated"),
            pre_tokenizers.Digits(individual_digits=True),
        ]
    )
    tok.decoder = decoders.Sequence(
        [decoders.ByteFallback(), decoders.Fuse(), decoders.Metaspace(prepend_scheme="never")]
    )
    tok.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}", pair=f"$A {EOS} $B {EOS}", special_tokens=[(EOS, 1)]
    )
    return tok


def train_tokenizer(texts: Iterator[str], vocab_size: int, min_frequency: int) -> Tokenizer:
    """BPE over the training pairs' sources and targets (one iterator of strings)."""
    tok = _pipeline(Tokenizer(models.BPE(unk_token=UNK, byte_fallback=True)))
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[*SPECIALS, *BYTES],
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    # The byte tokens must be ordinary vocabulary entries (byte fallback looks them up
    # there), not special tokens that decoding with skip_special_tokens would drop.
    spec = json.loads(tok.to_str())
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] in SPECIALS]
    return Tokenizer.from_str(json.dumps(spec))


def save_tokenizer(tok: Tokenizer, folder: Path, max_length: int) -> None:
    """tokenizer.json plus the tokenizer_config.json that AutoTokenizer reads."""
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "pad_token": PAD,
        "eos_token": EOS,
        "unk_token": UNK,
        "bos_token": BOS,
        "sep_token": SEP,
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def load_tokenizer(folder: Path) -> Tokenizer:
    return Tokenizer.from_file(str(folder / "tokenizer.json"))


def encode(tok: Tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids without `</s>` (the collator appends it after truncation)."""
    return [e.ids for e in tok.encode_batch_fast(texts, add_special_tokens=False)]


def decode(tok: Tokenizer, rows: list[list[int]]) -> list[str]:
    """Text of generated rows, special tokens dropped."""
    return [t.strip() for t in tok.decode_batch(rows, skip_special_tokens=True)]
