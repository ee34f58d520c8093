"""corpuskit-seq2seq: a corpuskit trainer for translation and summarization (`trainer: seq2seq`).

An encoder-decoder from transformers' T5Config or BartConfig (built locally, no
download), one BPE vocabulary trained on both sides of the training pairs, pair shards,
and a training loop under torch DDP that shares the GPT plugin's ranks, checkpoints and
metric files. Importing this package does not import torch; training, evaluation and
generation do.
"""

from corpuskit_seq2seq.config import Seq2SeqConfig
from corpuskit_seq2seq.trainer import Seq2SeqTrainer

__all__ = ["Seq2SeqConfig", "Seq2SeqTrainer"]
