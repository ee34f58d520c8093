"""corpuskit-gpt: the reference corpuskit trainer (`trainer: gpt`).

A GPT-2 model from transformers' GPT2Config (built locally, no download), a byte-level
BPE or character tokenizer trained on the corpus' training split, token shards, and a
nanoGPT-style training loop under torch DDP. Importing this package does not import
torch; training, evaluation and generation do.
"""

from corpuskit_gpt.config import GPTConfig
from corpuskit_gpt.trainer import GPTTrainer

__all__ = ["GPTConfig", "GPTTrainer"]
