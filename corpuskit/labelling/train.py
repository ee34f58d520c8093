"""Train a spaCy text classifier (textcat, exclusive classes) with spaCy's own training loop.

The config is generated here (`training_config`) and run by `spacy.cli.train.train`, the
same code as `python -m spacy train`: spaCy's corpus readers, batcher, optimizer, evaluation
and best-model selection. The documents are tokenized once, into DocBin files in a temporary
folder; the corpus readers reuse those tokens (`gold_preproc`) instead of running the
tokenizer (jieba for Chinese) again every epoch.

Hygiene: the held-out split (`dev_fraction`, used by `label eval`) is never shown to the
training loop. spaCy's own dev corpus, which picks the best epoch (model-best), is a
further deterministic slice of the training part (`VALIDATION_FRACTION`).

Defaults (`TrainSettings`), chosen on ag_news and cnews_subset (BENCHMARKS.md): 5 epochs,
one evaluation an epoch, batches of about 4,000 tokens (smaller for small sets, so that an
epoch is at least 50 updates), Adam at 0.001, dropout 0.1.

Architectures (`--arch`):
- `bow` (default): spacy.TextCatBOW.v3, a sparse linear model over hashed unigrams and
  bigrams (2^18 rows). Under a minute on one CPU core for thousands of news documents, and
  macro-F1 0.88 on ag_news, 0.93 on cnews_subset.
- `ensemble`: spacy.TextCatEnsemble.v2, the BOW model plus a CNN tok2vec with attention
  (no pretrained vectors exist offline); several times slower, for tasks where word order
  and context matter more than topic words.
- `cnn`: spacy.TextCatReduce.v1, the same CNN tok2vec alone, mean- and max-pooled (spaCy's
  successor of TextCatCNN); no bag-of-words features.

`--tune-threshold` (two classes): after training, the cut on the smaller class's
probability with the best macro-F1 on the validation slice is chosen
(corpuskit.labelling.decision) and saved; `label eval` and `classify` decide with it.

The model folder's meta.json carries, under `corpuskit`, the class names (after
`--label-names`), the architecture, the decision threshold if tuned, and the training
data: its reading options and a SHA-256 fingerprint of the labelled documents
(`data.fingerprint`). Saving and loading are
spaCy's own `to_disk`/`from_disk`: weights and config, no pickled code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import polars as pl

from corpuskit.labelling import data as labelled
from corpuskit.labelling.pipelines import (
    blank_config,
    quiet_jieba,
    spacy_langs,
    tokenizer_config,
)
from corpuskit.recipe import RecipeError

Arch = Literal["bow", "ensemble", "cnn"]
ARCHS = ("bow", "ensemble", "cnn")
AUTO = "auto"
# Share of the training part that spaCy's loop uses as its dev corpus.
VALIDATION_FRACTION = 0.1
# Updates an epoch at least (batches shrink for small sets), and the smallest batch.
MIN_UPDATES = 50
MIN_BATCH_WORDS = 32
# What `label eval` reads back from a trained pipeline folder.
META_FILE = "corpuskit_label.json"

# The CNN tok2vec of `ensemble` and `cnn`: hashed embeddings of word features, no vectors.
_TOK2VEC = """
[components.textcat.model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[components.textcat.model.tok2vec.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = {width}
rows = {rows}
attrs = ["NORM", "LOWER", "PREFIX", "SUFFIX", "SHAPE"]
include_static_vectors = false

[components.textcat.model.tok2vec.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = {width}
window_size = 1
maxout_pieces = 3
depth = 2
"""

_MODELS = {
    "bow": """
[components.textcat.model]
@architectures = "spacy.TextCatBOW.v3"
exclusive_classes = true
length = {bow_length}
ngram_size = {ngram_size}
no_output_layer = false
nO = null
""",
    "ensemble": """
[components.textcat.model]
@architectures = "spacy.TextCatEnsemble.v2"
nO = null

[components.textcat.model.linear_model]
@architectures = "spacy.TextCatBOW.v3"
exclusive_classes = true
length = {bow_length}
ngram_size = {ngram_size}
no_output_layer = false
"""
    + _TOK2VEC,
    "cnn": """
[components.textcat.model]
@architectures = "spacy.TextCatReduce.v1"
exclusive_classes = true
use_reduce_first = false
use_reduce_last = false
use_reduce_max = true
use_reduce_mean = true
nO = null
"""
    + _TOK2VEC,
}

_CONFIG = """
[paths]
train = null
dev = null
vectors = null
init_tok2vec = null

[system]
seed = {seed}
gpu_allocator = null

[nlp]
lang = "{lang}"
pipeline = ["textcat"]
batch_size = 256
disabled = []
before_creation = null
after_creation = null
after_pipeline_creation = null
tokenizer = {tokenizer}

[components]

[components.textcat]
factory = "textcat"
scorer = {{"@scorers":"spacy.textcat_scorer.v2"}}
threshold = 0.0
{model}
[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}
max_length = 0
gold_preproc = true
limit = 0
augmenter = null

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}
max_length = 0
gold_preproc = true
limit = 0
augmenter = null

[training]
dev_corpus = "corpora.dev"
train_corpus = "corpora.train"
seed = ${{system.seed}}
gpu_allocator = ${{system.gpu_allocator}}
dropout = {dropout}
accumulate_gradient = 1
patience = {patience}
max_epochs = {max_epochs}
max_steps = 0
eval_frequency = {eval_frequency}
frozen_components = []
annotating_components = []
before_to_disk = null
before_update = null

[training.batcher]
@batchers = "spacy.batch_by_words.v1"
size = {batch_words}
discard_oversize = false
tolerance = 0.2
get_length = null


[training.logger]
@loggers = "spacy.ConsoleLogger.v3"
progress_bar = null
console_output = {console}
output_file = null

[training.optimizer]
@optimizers = "Adam.v1"
beta1 = 0.9
beta2 = 0.999
L2_is_weight_decay = true
L2 = {l2}
grad_clip = 1.0
use_averages = {use_averages}
eps = 0.00000001
learn_rate = {learn_rate}

[training.score_weights]
cats_score = null
cats_macro_f = 1.0

[pretraining]

[initialize]
vectors = ${{paths.vectors}}
init_tok2vec = ${{paths.init_tok2vec}}
vocab_data = null
lookups = null
before_init = null
after_init = null

[initialize.components]

[initialize.components.textcat]
labels = {labels}

[initialize.tokenizer]
"""


@dataclass(frozen=True)
class TrainSettings:
    """The knobs of `label train`; defaults reach the BENCHMARKS.md figures."""

    lang: str = AUTO  # or a spaCy language code; auto: zh for mostly-Han text, else en
    arch: Arch = "bow"
    seed: int = 0
    dev_fraction: float = 0.2
    max_epochs: int = 5
    patience: int = 0  # evaluations without improvement before stopping; 0 = run every epoch
    dropout: float = 0.1
    learn_rate: float = 0.001
    batch_words: int = 4000  # tokens a batch; smaller for sets under 50 x this
    bow_length: int = 262144  # hashed feature rows of the BOW model
    ngram_size: int = 2  # BOW features: n-grams of tokens up to this length
    segmenter: Literal["jieba", "char"] = "jieba"  # Chinese tokens: jieba words or characters
    balance: bool = False  # oversample smaller classes of the training part to the largest
    l2: float = 0.01  # Adam's weight decay
    width: int = 64  # CNN tok2vec width (ensemble, cnn)
    embed_rows: int = 2000  # hashed rows of the NORM embedding (the others in proportion)
    use_averages: bool = False  # save the moving average of the weights (Polyak averaging)
    # two classes: decide by a cut on the smaller class's probability chosen on the
    # validation slice (corpuskit.labelling.decision), instead of the highest probability
    tune_threshold: bool = False


def training_config(
    settings: TrainSettings,
    lang: str,
    labels: list[str],
    eval_frequency: int,
    batch_words: int,
    console: bool = True,
) -> str:
    """The spaCy config (.cfg text) that `spacy train` would read."""
    tokenizer = json.dumps(tokenizer_config(lang, settings.segmenter))
    return _CONFIG.format(
        seed=settings.seed,
        lang=lang,
        console=str(console).lower(),
        tokenizer=tokenizer,
        model=_MODELS[settings.arch]
        .replace("{bow_length}", str(settings.bow_length))
        .replace("{ngram_size}", str(settings.ngram_size))
        .replace("{width}", str(settings.width))
        .replace("{rows}", json.dumps(_embed_rows(settings.embed_rows))),
        dropout=settings.dropout,
        patience=settings.patience,
        max_epochs=settings.max_epochs,
        eval_frequency=eval_frequency,
        batch_words=batch_words,
        learn_rate=settings.learn_rate,
        l2=settings.l2,
        use_averages=str(settings.use_averages).lower(),
        # Given here, textcat's initialize does not read the whole corpus to find them.
        labels=json.dumps(labels, ensure_ascii=False),
    )


def _embed_rows(norm: int) -> list[int]:
    """Rows of the NORM, LOWER, PREFIX, SUFFIX and SHAPE tables: spaCy's default
    [2000, 2000, 500, 1000, 500] for `norm` = 2000, scaled."""
    return [norm, norm, max(1, norm // 4), max(1, norm // 2), max(1, norm // 4)]


@dataclass
class TrainOutcome:
    out: Path
    lang: str
    labels: list[str]
    train_docs: int
    validation_docs: int
    heldout_docs: int
    seconds: float
    best_validation_macro_f1: float | None


def train_classifier(
    source: labelled.LabelledData,
    out: Path,
    settings: TrainSettings,
    log: Callable[[str], None] | None = None,
    quiet: bool = False,
    label_names: str | None = None,
) -> TrainOutcome:
    """Read, split, train and save a pipeline (tokenizer + textcat) to `out`.

    `out` must not exist, be empty, or hold an earlier `label train` model (replaced).
    spaCy's training table goes to stdout unless `quiet`.
    """
    import spacy
    from spacy.cli.train import train as spacy_train
    from spacy.tokens import DocBin

    say = log or (lambda msg: None)
    started = time.perf_counter()
    cpu_started = time.process_time()
    if settings.lang != AUTO and settings.lang not in spacy_langs():
        raise RecipeError(f"--lang {settings.lang!r}: spaCy has no language with that code")
    _check_out(out)
    found = labelled.read_labelled(source, label_names)
    if found.label_names:
        # Saved resolved, so that `label eval` renames the codes the same way.
        source = dataclasses.replace(source, label_names=found.label_names)
    docs = found.docs
    data_fingerprint = labelled.fingerprint(docs)
    labels = sorted(docs["label"].unique().to_list())
    if len(labels) < 2:
        raise RecipeError(f"{source.path}: a classifier needs at least 2 classes, found {labels}")
    lang = detect_lang(docs) if settings.lang == AUTO else settings.lang
    train_part, heldout = labelled.split(docs, settings.dev_fraction, settings.seed)
    fit, validation = labelled.split(train_part, VALIDATION_FRACTION, settings.seed + 1)
    if validation.height == 0 or fit.height == 0:
        raise RecipeError(
            f"{source.path}: too few documents to train ({docs.height}); each class needs "
            "a few for validation"
        )
    say(
        f"{docs.height} labelled documents, {len(labels)} classes, language {lang}: training on "
        f"{fit.height}, validating on {validation.height}, holding out {heldout.height}"
        + (f"; {found.unlabelled} without a label skipped" if found.unlabelled else "")
    )
    if settings.balance:
        fit = labelled.oversample(fit, settings.seed)
        say(f"balanced by oversampling: {fit.height} training documents")
    quiet_jieba()
    nlp = spacy.blank(lang, config=blank_config(lang, settings.segmenter))
    with tempfile.TemporaryDirectory(prefix="corpuskit-train-") as tmp:
        work = Path(tmp)
        tokens = 0
        for name, part in (("train", fit), ("dev", validation)):
            store, n_tokens = _docbin(nlp, part, labels, DocBin)
            store.to_disk(work / f"{name}.spacy")
            tokens = tokens or n_tokens
        # Small sets get smaller batches, so that an epoch is still MIN_UPDATES updates.
        batch_words = max(MIN_BATCH_WORDS, min(settings.batch_words, tokens // MIN_UPDATES))
        # One evaluation an epoch: the batcher groups about batch_words tokens.
        eval_frequency = max(1, -(-tokens // batch_words))
        config = training_config(
            settings, lang, labels, eval_frequency, batch_words, console=not quiet
        )
        (work / "config.cfg").write_text(config, encoding="utf-8")
        sink = io.StringIO() if quiet else sys.stdout
        with contextlib.redirect_stdout(sink):
            spacy_train(
                work / "config.cfg",
                work / "model",
                overrides={
                    "paths.train": str(work / "train.spacy"),
                    "paths.dev": str(work / "dev.spacy"),
                },
            )
        best = work / "model" / "model-best"
        meta_path = best / "meta.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["name"] = "corpuskit_textcat"
        meta["description"] = (
            f"textcat ({settings.arch}) trained by `corpuskit label train` on {source.path}"
        )
        meta["corpuskit"] = {
            "labels": labels,
            "label_names": found.label_names,
            "arch": settings.arch,
            "data": {**source.to_dict(), "fingerprint": data_fingerprint, "documents": docs.height},
        }
        tuned = None
        if settings.tune_threshold and len(labels) == 2:
            tuned = _tune_threshold(best, validation, train_part)
            meta["corpuskit"]["threshold"] = tuned["threshold"]
            say(
                f"decision threshold P({tuned['threshold']['label']}) >= "
                f"{tuned['threshold']['value']:.4f}: validation macro-F1 "
                f"{tuned['validation_macro_f1']:.4f} (argmax {tuned['argmax_macro_f1']:.4f})"
            )
        meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(best, out)
    seconds = time.perf_counter() - started
    info = {
        "data": source.to_dict(),
        "data_fingerprint": data_fingerprint,
        "seed": settings.seed,
        "dev_fraction": settings.dev_fraction,
        "validation_fraction": VALIDATION_FRACTION,
        "lang": lang,
        "arch": settings.arch,
        "labels": labels,
        "documents": docs.height,
        "train_docs": fit.height,
        "validation_docs": validation.height,
        "heldout_docs": heldout.height,
        "batch_words": batch_words,
        "train_seconds": round(seconds, 1),
        # CPU time of the training process (all threads): what a free machine's wall
        # clock would roughly show when training ran on a shared, loaded one
        "train_cpu_seconds": round(time.process_time() - cpu_started, 1),
        "settings": asdict(settings),
    }
    if tuned is not None:
        info["threshold"] = tuned
    (out / META_FILE).write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
    return TrainOutcome(
        out,
        lang,
        labels,
        fit.height,
        validation.height,
        heldout.height,
        seconds,
        meta.get("performance", {}).get("cats_macro_f"),
    )


def _tune_threshold(
    model: Path, validation: pl.DataFrame, train_part: pl.DataFrame
) -> dict[str, Any]:
    """The cut on the smaller class's probability with the best macro-F1 on the validation
    slice (the data spaCy picked the best epoch on; never the held-out split)."""
    import numpy as np

    from corpuskit.labelling.decision import choose_threshold
    from corpuskit.labelling.pipelines import load_pipeline_dir

    counts = labelled.class_counts(train_part)
    label, other = sorted(counts, key=lambda c: (counts[c], c))
    nlp = load_pipeline_dir(model)
    probs = np.fromiter(
        (doc.cats.get(label, 0.0) for doc in nlp.pipe(validation["text"].to_list())),
        dtype=np.float64,
        count=validation.height,
    )
    threshold, best, argmax = choose_threshold(validation["label"].to_list(), probs, label, other)
    return {
        "threshold": threshold.to_dict(),
        "validation_macro_f1": round(best, 4),
        "argmax_macro_f1": round(argmax, 4),
        "validation_docs": validation.height,
    }


def _check_out(out: Path) -> None:
    """Refuse to replace a folder that is not an earlier model (e.g. `--out .`)."""
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / META_FILE).is_file())
    ):
        raise RecipeError(
            f"{out} exists and is not a model from `corpuskit label train`; "
            "give a new or empty folder"
        )


def detect_lang(docs: pl.DataFrame) -> str:
    """`zh` when Han characters are at least a third of the letters, else `en`."""
    counts = docs.select(
        han=pl.col("text").str.count_matches(r"\p{Han}").sum(),
        letters=pl.col("text").str.count_matches(r"\p{L}").sum(),
    ).row(0)
    han, letters = counts
    return "zh" if letters and han / letters >= 1 / 3 else "en"


def _docbin(nlp: Any, part: pl.DataFrame, labels: list[str], docbin_cls: Any) -> tuple[Any, int]:
    """Tokenized documents with one-hot `cats`, as spaCy's Corpus reader wants them."""
    store = docbin_cls(store_user_data=False)
    tokens = 0
    for doc, label in zip(
        nlp.tokenizer.pipe(part["text"].to_list(), batch_size=256),
        part["label"].to_list(),
        strict=True,
    ):
        doc.cats = {name: float(name == label) for name in labels}
        store.add(doc)
        tokens += len(doc)
    return store, tokens
