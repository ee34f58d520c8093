"""`corpuskit label train` and `corpuskit label eval`.

Imports only click at module level: `corpuskit --help` and the other commands must not pay
for spaCy (seconds to import). The commands import what they need when they run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

FORMATS_HELP = "Input format (csv, tsv, jsonl, parquet, labelled_text...); default: from the name."


def _data_options(fn: Any) -> Any:
    """Options shared by train and eval that say how to read the labelled data."""
    options = [
        click.option(
            "--text-field",
            "text_fields",
            multiple=True,
            help="Field with the text (default: text). Repeat, or separate with commas, to "
            "join several fields with a newline, e.g. --text-field title,description.",
        ),
        click.option("--format", "fmt", help=FORMATS_HELP),
        click.option(
            "--columns",
            help="Comma-separated column names for CSV/TSV files without a header row.",
        ),
        click.option("--seed", type=int, help="Seed of the train/held-out split (default 0)."),
        click.option(
            "--dev-fraction",
            type=click.FloatRange(0.0, 1.0, max_open=True),
            help="Share of each class held out for evaluation (default 0.2).",
        ),
        click.option(
            "--label-names",
            help="Names for label codes: a file (JSON object; code<TAB>name, code=name or "
            "code,name lines; or one name a line, numbered 1.. like ag_news' classes.txt, 0.. "
            "when the codes start at 0), or inline: 0=negative,1=positive.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _tuning_options(fn: Any) -> Any:
    """`label train` options named like the TrainSettings fields they set."""
    options: list[tuple[str, dict[str, Any]]] = [
        (
            "--tune-threshold",
            {
                "is_flag": True,
                "help": "Two classes: decide by a cut on the smaller class's probability chosen "
                "for the best macro-F1 on the validation slice of the training part (saved in "
                "the model; label eval and classify use it), instead of the highest probability.",
            },
        ),
        ("--learn-rate", {"type": click.FloatRange(min=0, min_open=True), "default": 0.001}),
        ("--dropout", {"type": click.FloatRange(0.0, 1.0, max_open=True), "default": 0.1}),
        (
            "--l2",
            {"type": click.FloatRange(min=0), "default": 0.01, "help": "Adam's weight decay."},
        ),
        ("--use-averages", {"is_flag": True, "help": "Keep Adam's moving average of the weights."}),
        ("--width", {"type": click.IntRange(min=8), "default": 64, "help": "CNN width."}),
        (
            "--embed-rows",
            {
                "type": click.IntRange(min=100),
                "default": 2000,
                "help": "Hashed rows of the CNN's word embedding (prefix, suffix, shape scale).",
            },
        ),
    ]
    for name, kwargs in reversed(options):
        fn = click.option(name, show_default=not kwargs.get("is_flag"), **kwargs)(fn)
    return fn


def _split_list(values: tuple[str, ...] | str | None) -> tuple[str, ...]:
    if not values:
        return ()
    if isinstance(values, str):
        values = (values,)
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


@click.group()
def label() -> None:
    """Train and evaluate spaCy text classifiers for the spacy_label step."""


@label.command()
@click.option("--data", required=True, help="Labelled documents (file, glob or folder).")
@click.option("--label-field", required=True, help="Field holding each document's class.")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for the trained spaCy pipeline (spacy_label loads it by path).",
)
@_data_options
@click.option(
    "--lang",
    default="auto",
    show_default=True,
    help="spaCy language of the tokenizer (en, zh, ...); auto: zh for mostly-Han text, else en.",
)
@click.option(
    "--arch",
    type=click.Choice(["bow", "ensemble", "cnn"]),
    default="bow",
    show_default=True,
    help="textcat architecture: bag of words (seconds), BOW + CNN ensemble or CNN (minutes).",
)
@click.option("--max-epochs", type=click.IntRange(min=1), default=5, show_default=True)
@click.option(
    "--ngrams",
    type=click.IntRange(1, 4),
    default=2,
    show_default=True,
    help="Bag-of-words features: token n-grams up to this length (bow, ensemble).",
)
@click.option(
    "--segmenter",
    type=click.Choice(["jieba", "char"]),
    default="jieba",
    show_default=True,
    help="Chinese tokens: jieba words, or characters (char n-grams with --ngrams 3).",
)
@click.option(
    "--balance",
    is_flag=True,
    help="Oversample smaller classes of the training part to the size of the largest.",
)
@_tuning_options
@click.option("--quiet", is_flag=True, help="No spaCy training table.")
def train(
    data: str,
    label_field: str,
    out: Path,
    text_fields: tuple[str, ...],
    fmt: str | None,
    columns: str | None,
    seed: int | None,
    dev_fraction: float | None,
    label_names: str | None,
    lang: str,
    arch: str,
    max_epochs: int,
    ngrams: int,
    segmenter: str,
    balance: bool,
    quiet: bool,
    **tuning: Any,
) -> None:
    """Train a text classifier (spaCy textcat, exclusive classes) on labelled documents.

    The data is split per class into a training part and a held-out part (--dev-fraction)
    by a seeded hash of each text; `label eval` recomputes the same split. spaCy's own
    training loop picks the best of --max-epochs on a slice of the training part.
    """
    from corpuskit.labelling.data import LabelledData
    from corpuskit.labelling.train import TrainSettings, train_classifier

    source = LabelledData(
        # absolute, so that `label eval --model DIR` finds the data from any folder
        path=os.path.abspath(os.path.expanduser(data)),
        label_field=label_field,
        text_fields=_split_list(text_fields) or ("text",),
        format=fmt,
        columns=_split_list(columns) or None,
    )
    settings = TrainSettings(
        lang=lang,
        arch=arch,  # type: ignore[arg-type]
        seed=0 if seed is None else seed,
        dev_fraction=0.2 if dev_fraction is None else dev_fraction,
        max_epochs=max_epochs,
        ngram_size=ngrams,
        segmenter=segmenter,  # type: ignore[arg-type]
        balance=balance,
        **tuning,
    )
    outcome = train_classifier(
        source, out, settings, log=click.echo, quiet=quiet, label_names=label_names
    )
    best = outcome.best_validation_macro_f1
    click.echo(
        f"{out}: {len(outcome.labels)} classes, language {outcome.lang}, trained on "
        f"{outcome.train_docs} documents in {outcome.seconds:.1f} s"
        + (f", validation macro-F1 {best:.4f}" if best is not None else "")
    )
    click.echo(
        f"score the {outcome.heldout_docs} held-out documents: corpuskit label eval --model {out}"
    )


@label.command(name="eval")
@click.option(
    "--model",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A pipeline folder made by `label train`.",
)
@click.option("--data", help="Labelled documents (default: the data the model was trained on).")
@click.option("--label-field", help="Field holding each document's class (default: as trained).")
@_data_options
@click.option(
    "--all",
    "use_all",
    is_flag=True,
    help="Score every document, not the held-out split (the default for data other than "
    "the training data: a cross-domain evaluation).",
)
@click.option(
    "--domain",
    type=click.Choice(["in", "cross"]),
    help="How the report names the data: in-domain (default for the training data) or "
    "cross-domain (default for other data); e.g. --domain in for an official test split.",
)
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the scores."
)
def evaluate(
    model: Path,
    data: str | None,
    label_field: str | None,
    text_fields: tuple[str, ...],
    fmt: str | None,
    columns: str | None,
    seed: int | None,
    dev_fraction: float | None,
    label_names: str | None,
    use_all: bool,
    domain: str | None,
    json_path: Path | None,
) -> None:
    """Accuracy, per-class and macro precision/recall/F1, and the confusion matrix.

    Without --data, scores the held-out split of the training data: the same split as
    `label train` made (seed, dev fraction, reading options and label names default to
    those saved in the model folder). With --data naming other data, scores all of it
    and reports it as cross-domain.
    """
    from corpuskit.labelling.data import LabelledData
    from corpuskit.labelling.evaluate import evaluate_model, model_info
    from corpuskit.recipe import RecipeError

    if not (model / "config.cfg").is_file():
        raise RecipeError(f"{model}: not a spaCy pipeline folder (no config.cfg)")
    info = model_info(model)
    saved = info.get("data", {})
    trained_on = saved.get("path")
    same_data = not data or (
        trained_on is not None and os.path.abspath(os.path.expanduser(data)) == trained_on
    )
    if not same_data:
        saved = {}  # another data set: its own reading options, all of it scored
    data = data or trained_on
    label_field = label_field or saved.get("label_field")
    if not data or not label_field:
        raise RecipeError(
            f"{model} does not record its training data; give --data and --label-field"
        )
    source = LabelledData(
        path=data,
        label_field=label_field,
        text_fields=_split_list(text_fields) or tuple(saved.get("text_fields") or ("text",)),
        format=fmt or saved.get("format"),
        columns=_split_list(columns) or (tuple(saved["columns"]) if saved.get("columns") else None),
        label_names=None if label_names else saved.get("label_names"),
    )
    report = evaluate_model(
        model,
        source,
        dev_fraction=dev_fraction if dev_fraction is not None else info.get("dev_fraction", 0.2),
        seed=seed if seed is not None else info.get("seed", 0),
        split="all" if use_all or not same_data else "heldout",
        label_names=label_names,
    )
    domain = domain or ("in" if same_data else "cross")
    report.extra["domain"] = f"{domain}-domain"
    report.extra["trained_on"] = trained_on
    _print_report(report)
    if json_path is not None:
        payload = {**report.to_dict(), "model": str(model), "data": data}
        json_path.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
        click.echo(f"wrote {json_path}")


def _print_report(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"{report.documents} documents ({report.extra.get('split')}, "
        f"{report.extra.get('domain', 'in-domain')}): "
        f"accuracy {report.accuracy:.4f}, macro precision {report.macro_precision:.4f}, "
        f"macro recall {report.macro_recall:.4f}, macro F1 {report.macro_f1:.4f}"
    )
    per_class = Table("class", "precision", "recall", "F1", "support")
    for name, m in report.per_class.items():
        per_class.add_row(
            name, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", str(m["support"])
        )
    console.print(per_class)
    confusion = Table("true \\ predicted", *report.labels, title="confusion matrix")
    for name, row in zip(report.labels, report.confusion, strict=True):
        confusion.add_row(name, *(str(v) for v in row))
    console.print(confusion)
    unknown = report.extra.get("unknown_labels")
    if unknown:
        console.print(f"[yellow]classes the model does not know:[/yellow] {', '.join(unknown)}")
