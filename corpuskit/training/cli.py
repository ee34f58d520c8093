"""`corpuskit train | tune | eval | generate | trainers`: the trainer side of the command line.

Importing this module is cheap (no torch): trainers import their heavy dependencies
only when they run.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

console = Console()


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("overrides", nargs=-1)
@click.option("--data", help="corpuskit output folder to train on, replacing the config's.")
@click.option("--run-dir", help="Run folder (default: the config's run_dir, else runs/<name>).")
@click.option(
    "--nproc",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Training processes on this machine (torchrun; one per GPU, or CPU ranks).",
)
@click.option(
    "--nnodes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Machines in the job (torchrun --nnodes).",
)
@click.option(
    "--node-rank",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="This machine's index (torchrun --node-rank).",
)
@click.option("--master-addr", help="Address of node 0 (torchrun --master-addr).")
@click.option("--master-port", type=int, help="Port on node 0 (torchrun --master-port).")
@click.option("--rdzv-endpoint", help="host:port of a c10d rendezvous (elastic multi-node).")
@click.option("--rdzv-id", help="Job id for the rendezvous (default: the run folder name).")
def train(
    config: Path,
    overrides: tuple[str, ...],
    data: str | None,
    run_dir: str | None,
    nproc: int,
    nnodes: int,
    node_rank: int,
    master_addr: str | None,
    master_port: int | None,
    rdzv_endpoint: str | None,
    rdzv_id: str | None,
) -> None:
    """Train on a corpuskit output folder as CONFIG says; OVERRIDES are key=value.

    \b
    corpuskit train recipes/shakespeare-char-gpt.yaml
    corpuskit train recipes/news-gpt.yaml --data out/news --nproc 2 max_iters=200
    An interrupted run continues from its last checkpoint (resume: auto). The global
    batch (batch_size x gradient_accumulation_steps) is the same for any --nproc.
    """
    from corpuskit.training.base import load_train_config
    from corpuskit.training.config import parse_overrides
    from corpuskit.training.launch import LaunchOptions, run_training

    extra = parse_overrides(overrides)
    if data:
        extra["data"] = data
    if run_dir:
        extra["run_dir"] = run_dir
    cfg = load_train_config(config, extra)
    opts = LaunchOptions(nproc, nnodes, node_rank, master_addr, master_port, rdzv_endpoint, rdzv_id)
    summary = run_training(cfg, opts)
    if summary:
        click.echo(json.dumps(summary, ensure_ascii=False))


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("overrides", nargs=-1)
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Trials in the study in all (a continued search runs the missing ones).",
)
@click.option(
    "--timeout", type=click.FloatRange(min=0), help="Seconds after which no trial starts."
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Trials at once, each a process with its share of the cores.",
)
@click.option(
    "--nproc",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="DDP processes per trial (torchrun).",
)
@click.option(
    "--pruner",
    type=click.Choice(["median", "halving", "none"]),
    default="median",
    show_default=True,
    help="Stop poor trials at a validation: median or successive halving.",
)
@click.option("--sampler", type=click.Choice(["tpe", "random"]), default="tpe", show_default=True)
@click.option(
    "--budget",
    type=click.FloatRange(min=0, min_open=True),
    help="Compute cap in full training runs (trained steps / max_iters).",
)
@click.option(
    "--metric", default="val_loss", show_default=True, help="summary.json key to minimize."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampler seed.")
@click.option(
    "--report",
    "report_only",
    is_flag=True,
    help="Only write best.yaml, trials.csv, tune.json and plots of the study as it stands.",
)
@click.option("--data", help="corpuskit output folder to train on, replacing the config's.")
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Search folder (default: the config's run_dir + '-tune').",
)
def tune(
    config: Path,
    overrides: tuple[str, ...],
    trials: int,
    timeout: float | None,
    jobs: int,
    nproc: int,
    pruner: str,
    sampler: str,
    budget: float | None,
    metric: str,
    seed: int,
    report_only: bool,
    data: str | None,
    run_dir: Path | None,
) -> None:
    """Search the hyper-parameters declared in CONFIG's `search:` block (Optuna).

    \b
    corpuskit tune recipes/shakespeare-char-tune.yaml --trials 24 --budget 12 --jobs 2
    Run it again to continue the same search (TUNE_DIR/study.db); at the end:
    TUNE_DIR/best.yaml, trials.csv, tune.json and plots/.
    """
    from corpuskit.training.config import parse_overrides
    from corpuskit.training.tune import TuneOptions, require_optuna, run_tune

    require_optuna()
    extra = parse_overrides(overrides)
    if data:
        extra["data"] = data
    opts = TuneOptions(
        trials=trials, timeout=timeout, jobs=jobs, nproc=nproc, pruner=pruner, sampler=sampler,
        budget=budget, metric=metric, seed=seed, tune_dir=run_dir, report_only=report_only,
    )  # fmt: skip
    result = run_tune(config, extra, opts, log=lambda m: console.print(f"[dim]{m}[/dim]"))
    show_trials(Path(result["study"]).parent / "trials.csv")
    click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))


def show_trials(path: Path) -> None:
    """trials.csv as a table."""
    import csv

    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    table = Table(*rows[0].keys(), title=str(path), title_justify="left")
    for row in rows:
        table.add_row(*(v[:10] if v else "" for v in row.values()))
    console.print(table)


# Option names whose flag is not the name itself.
FLAGS = {"bleu_docs": "--bleu"}


def _flag(option: str) -> str:
    return FLAGS.get(option, "--" + option.replace("_", "-"))


def trainer_options(trainer: object, declared: frozenset[str], given: dict) -> dict:
    """The options a user set, refused with a clear message where the trainer lacks one."""
    options = {k: v for k, v in given.items() if v is not None}
    unknown = sorted(set(options) - declared)
    if unknown:
        name = getattr(getattr(trainer, "config", None), "trainer", type(trainer).__name__)
        flags = ", ".join(map(_flag, unknown))
        takes = ", ".join(sorted(map(_flag, declared))) or "none"
        raise click.UsageError(f"trainer {name!r} does not take {flags} (it takes: {takes})")
    return options


@click.command(name="eval")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--data", help="Corpus to evaluate on (default: the run's own).")
@click.option(
    "--split",
    "splits",
    multiple=True,
    type=click.Choice(["train", "val", "test"]),
    help="Split(s) to evaluate (default: val and test).",
)
@click.option(
    "--checkpoint",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A checkpoint folder instead of the run's final model.",
)
@click.option(
    "--bleu",
    "bleu_docs",
    type=click.IntRange(min=0),
    help="Score N held-out documents with BLEU and chrF: greedy continuations of their "
    "start (a language model), or translations of their source (sequence-to-sequence). "
    "Default: the config's bleu_docs (the trainer's), 0 = off.",
)
@click.option(
    "--num-beams",
    type=click.IntRange(min=1),
    help="Beam width for the generated outputs (default: the trainer's).",
)
@click.option(
    "--samples",
    type=click.IntRange(min=0),
    help="Generation samples to show (default: the trainer's).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate(
    run_dir: Path,
    data: str | None,
    splits: tuple[str, ...],
    checkpoint: Path | None,
    bleu_docs: int | None,
    num_beams: int | None,
    samples: int | None,
    as_json: bool,
) -> None:
    """Evaluate the model of RUN_DIR on held-out splits: the trainer's metrics and samples.

    \b
    corpuskit eval runs/news-gpt --bleu 50          # loss, perplexity, accuracy, BLEU/chrF
    corpuskit eval runs/cmn_eng --num-beams 4       # BLEU/chrF of greedy and beam translations
    """
    from corpuskit.training.launch import load_run

    trainer, corpus = load_run(run_dir, data)
    if corpus is None:
        raise click.ClickException(
            f"the run's corpus {trainer.config.data!r} is gone; pass --data OUTPUT_DIR"
        )
    options = trainer_options(
        trainer,
        trainer.evaluate_options,
        {
            "checkpoint": checkpoint,
            "bleu_docs": bleu_docs,
            "num_beams": num_beams,
            "samples": samples,
        },
    )
    metrics = trainer.evaluate(corpus, run_dir, splits or ("val", "test"), **options)
    if as_json:
        click.echo(json.dumps(metrics, ensure_ascii=False, indent=2))
        return
    table = Table("metric", "value", title=f"{run_dir}", title_justify="left")
    for key, value in metrics.items():
        if key == "samples":
            continue
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    for i, text in enumerate(metrics.get("samples", [])):
        console.print(f"[bold]sample {i + 1}[/bold]")
        click.echo(text)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--prompt",
    default="",
    help="The model's input: text to continue (a language model; empty starts a new "
    "document), or the text to translate or summarize (sequence-to-sequence).",
)
@click.option("--max-new-tokens", type=click.IntRange(min=1), help="Tokens to generate at most.")
@click.option(
    "--temperature",
    type=click.FloatRange(min=0),
    help="Sampling temperature; 0 = greedy.",
)
@click.option(
    "--top-k",
    type=click.IntRange(min=0),
    help="Sample among the k most likely tokens (0 = all).",
)
@click.option("--num-beams", type=click.IntRange(min=1), help="Beam search with this width.")
@click.option("--num-samples", type=click.IntRange(min=1), help="Outputs to generate.")
@click.option("--seed", type=int, help="Seed of the sampling.")
@click.option(
    "--checkpoint",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A checkpoint folder instead of the run's final model.",
)
def generate(
    run_dir: Path,
    prompt: str,
    max_new_tokens: int | None,
    temperature: float | None,
    top_k: int | None,
    num_beams: int | None,
    num_samples: int | None,
    seed: int | None,
    checkpoint: Path | None,
) -> None:
    """Generate from the model of RUN_DIR: continue PROMPT, or translate or summarize it.

    Unset options take the trainer's defaults (`corpuskit trainers NAME` lists its keys).
    """
    from corpuskit.training.launch import load_run

    trainer, _ = load_run(run_dir)
    options = trainer_options(
        trainer,
        trainer.generate_options,
        {
            "max_new_tokens": max_new_tokens,
            "temperature": temperature,
            "top_k": top_k,
            "num_beams": num_beams,
            "num_samples": num_samples,
            "seed": seed,
            "checkpoint": checkpoint,
        },
    )
    texts = trainer.generate(run_dir, prompt, **options)
    for i, text in enumerate(texts):
        if len(texts) > 1:
            console.print(f"[bold]--- sample {i + 1}[/bold]")
        click.echo(text)


@click.command()
@click.argument("name", required=False)
def trainers(name: str | None) -> None:
    """List the registered trainers; with NAME, that trainer's config keys."""
    from corpuskit import registry

    found = registry.discover("trainers")
    if name:
        from corpuskit.training.base import get_trainer

        cls = get_trainer(name)
        table = Table(
            "key", "type", "default", "meaning", title=f"trainer {name}", title_justify="left"
        )
        for key, field in cls.Config.model_fields.items():
            default = (
                "required"
                if field.is_required()
                else repr(field.get_default(call_default_factory=True))
            )
            table.add_row(key, _type_name(field.annotation), default, field.description or "")
        console.print(table)
        return
    table = Table("trainer", "package", "distributed", "summary")
    for trainer_name, cls in sorted(found.loaded.items()):
        table.add_row(
            trainer_name,
            found.providers.get(trainer_name, "?"),
            "yes" if getattr(cls, "distributed", False) else "no",
            cls.summary() if hasattr(cls, "summary") else "",
        )
    for trainer_name, err in sorted(found.errors.items()):
        table.add_row(
            f"[red]{trainer_name}[/red]",
            found.providers.get(trainer_name, "?"),
            "",
            f"[red]failed to load:[/red] {err}",
        )
    if not found.loaded and not found.errors:
        console.print("no trainers installed; `pip install -e plugins/gpt` adds `gpt`")
        return
    console.print(table)


def _type_name(annotation: object) -> str:
    """`int | None`, `auto|true|false` for a Literal, else the class name."""
    import typing

    if typing.get_origin(annotation) is typing.Literal:
        return "|".join(str(a) for a in typing.get_args(annotation))
    name = getattr(annotation, "__name__", None)
    return name if name and not typing.get_args(annotation) else str(annotation)


COMMANDS = (train, tune, evaluate, generate, trainers)
