"""The `corpuskit` command line."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import click
import polars as pl
from rich.table import Table

from corpuskit import __version__, registry
from corpuskit.progress import make_console
from corpuskit.recipe import RecipeError, load_recipe

console = make_console()
err_console = make_console(stderr=True)


class CorpuskitGroup(click.Group):
    """Turns every failure into a one-line cause and a non-zero exit (--verbose: traceback)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            err_console.print("[red]interrupted[/red]; run the same command again to resume")
            sys.exit(130)
        except Exception as e:
            if ctx.obj and ctx.obj.get("verbose"):
                traceback.print_exc()
            err_console.print(f"[red]error:[/red] {_escape(str(e))}", highlight=False)
            sys.exit(2 if isinstance(e, RecipeError) else 1)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@click.group(cls=CorpuskitGroup)
@click.version_option(__version__, prog_name="corpuskit")
@click.option("--verbose", is_flag=True, help="Print tracebacks on failure.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Prepare text corpora: collect, clean, filter, deduplicate, label, write Parquet."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--input", "inputs", multiple=True, help="Input glob(s), replacing the recipe's.")
@click.option("--output", help="Output folder, replacing the recipe's.")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes.")
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    help="Where to run, replacing the recipe's executor kind (ray: pip install 'corpuskit[ray]').",
)
@click.option(
    "--ray-address",
    help="Ray cluster: auto, local, ray://HOST:10001 or HOST:6379 (implies --executor ray).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Read at most N input records.")
@click.option("--overwrite", is_flag=True, help="Discard a previous or interrupted run's output.")
@click.option("--quiet", is_flag=True, help="No progress bars or summary.")
@click.option(
    "--fail-share",
    type=click.FloatRange(0, 1, min_open=True),
    default=1.0,
    show_default=True,
    help="Exit non-zero when reading, or one step, rejected at least this share of the "
    "records read (1: all of them).",
)
@click.option(
    "--analyze",
    is_flag=True,
    help="Compute every filter's signals and would-be decisions, dropping nothing "
    "(see them with `corpuskit report`).",
)
def run(
    recipe: Path,
    inputs: tuple[str, ...],
    output: str | None,
    workers: int | None,
    executor: str | None,
    ray_address: str | None,
    limit: int | None,
    overwrite: bool,
    quiet: bool,
    fail_share: float,
    analyze: bool,
) -> None:
    """Run RECIPE; an interrupted run of the same recipe resumes where it stopped."""
    from corpuskit import jit
    from corpuskit.engine.checks import rejection_failure
    from corpuskit.engine.run import run_recipe
    from corpuskit.progress import Progress

    if ray_address and executor == "local":
        raise click.UsageError("--ray-address is for --executor ray")
    overrides = {
        "input": list(inputs),
        "output": output,
        "workers": workers,
        "executor": executor or ("ray" if ray_address else None),
        "ray_address": ray_address,
        "analyze": analyze,
    }
    r = load_recipe(recipe, overrides)
    progress = Progress(enabled=not quiet, console=err_console)
    jit.warm_kernels(progress.note)
    outcome = run_recipe(
        r, limit=limit, overwrite=overwrite, progress=progress, recipe_path=str(recipe)
    )
    if outcome.status == "complete" and not quiet:
        err_console.print(
            f"{r.output.path} is already complete for this recipe and input "
            "(--overwrite to run again)"
        )
    progress.summary(outcome.manifest)
    t = outcome.manifest["totals"]
    click.echo(f"{r.output.path}: read {t['read']} kept {t['kept']} rejected {t['rejected']}")
    failure = rejection_failure(outcome.manifest, fail_share)
    if failure is not None:
        err_console.print(
            f"[red]error:[/red] {_escape(failure)} (the output is in {r.output.path}; "
            f"`corpuskit report {r.output.path}` shows why; --fail-share sets the limit)",
            highlight=False,
        )
        sys.exit(3)


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
def validate(recipe: Path) -> None:
    """Check RECIPE (keys, types, steps, inputs) and the first records of each input."""
    from corpuskit.engine.checks import PEEK_RECORDS, peek_inputs
    from corpuskit.engine.stages import build_steps

    r = load_recipe(recipe)
    entries = build_steps(r)
    resolved = r.resolve_inputs()
    files = sum(len(f) for _, f in resolved)
    problems = peek_inputs(r, PEEK_RECORDS)
    if problems:
        for p in problems:
            err_console.print(f"[red]error:[/red] {recipe}: {_escape(p)}", highlight=False)
        sys.exit(2)
    click.echo(f"{recipe}: ok ({len(resolved)} input(s), {files} file(s), {len(entries)} step(s))")


@main.command()
def steps() -> None:
    """List every registered step: name, kind, providing package, summary."""
    found = registry.discover("steps")
    table = Table("step", "kind", "package", "summary")
    for name, cls in sorted(found.loaded.items()):
        table.add_row(
            name,
            getattr(cls, "kind", "?"),
            found.providers.get(name, "?"),
            cls.summary() if hasattr(cls, "summary") else "",
        )
    for name, err in sorted(found.errors.items()):
        table.add_row(
            f"[red]{name}[/red]",
            "broken",
            found.providers.get(name, "?"),
            f"[red]failed to load:[/red] {_escape(err)}",
        )
    console.print(table)
    readers = registry.discover("readers")
    console.print("input formats: " + ", ".join(sorted(readers.loaded)))
    for name, err in sorted(readers.errors.items()):
        console.print(f"[red]reader {name} failed to load:[/red] {_escape(err)}")


@main.command()
@click.argument("output", type=click.Path(file_okay=False, path_type=Path))
@click.option("--rows", default=3, show_default=True, help="Sample rows to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def inspect(output: Path, rows: int, as_json: bool) -> None:
    """Show a finished run: ledger, schema, sample rows, rejected samples per reason."""
    from corpuskit.output.layout import read_manifest
    from corpuskit.progress import summary_table

    manifest = read_manifest(output)
    if as_json:
        click.echo(json.dumps(manifest, ensure_ascii=False, indent=2))
        return
    console.print(summary_table(manifest))
    schema = Table("column", "type", title="schema", title_justify="left")
    for k, v in manifest["schema"].items():
        schema.add_row(k, v)
    console.print(schema)
    pl.Config.set_fmt_str_lengths(80)
    pl.Config.set_tbl_rows(rows + 2)
    data = [output / s["file"] for s in manifest["shards"]]
    if data:
        console.print(f"[bold]sample of kept documents[/bold] ({len(data)} shards)")
        sample = pl.read_parquet(data[0], n_rows=rows).select("id", "source", "text")
        click.echo(sample)
    rejected = [output / s["file"] for s in manifest["rejected_shards"]]
    if rejected:
        frame = pl.read_parquet(rejected, columns=["id", "reason", "detail", "text"])
        console.print("[bold]rejected samples by reason[/bold]")
        for (reason,), group in sorted(frame.group_by("reason"), key=lambda g: g[0][0] or ""):
            console.print(f"[yellow]{reason}[/yellow] ({group.height:,})")
            click.echo(group.head(rows).select("id", "detail", "text"))


@main.command()
@click.argument("output", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--to",
    "to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML file to write (default: OUTPUT/report.html).",
)
@click.option(
    "--against",
    type=click.Path(file_okay=False, path_type=Path),
    help="Another run on the same input: show which documents changed fate, and why.",
)
@click.option(
    "--sample",
    default=200,
    show_default=True,
    type=click.IntRange(min=0),
    help="Input documents replayed for the cleaning before/after samples (0: none).",
)
def report(output: Path, to: Path | None, against: Path | None, sample: int) -> None:
    """Write one self-contained HTML report of the finished run in OUTPUT."""
    from corpuskit.report import build_report

    path = build_report(output, to, against, sample=sample)
    click.echo(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)")


@main.command()
@click.argument("output", type=click.Path(file_okay=False, path_type=Path))
@click.option("--to", "to", type=click.Choice(["jsonl", "hf"]), required=True, help="The format.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(output: Path, to: str, directory: Path) -> None:
    """Write the kept documents of OUTPUT to DIRECTORY as JSON Lines (jsonl) or as a
    Hugging Face `datasets` folder (hf: datasets.load_dataset(DIRECTORY))."""
    from corpuskit.output.export import export_run

    files = export_run(output, to, directory)
    click.echo(f"{directory}: {len(files)} file(s) written")


# Training: train, eval, generate, trainers (corpuskit/training/cli.py; torch loads only on use).
from corpuskit.training.cli import COMMANDS as _TRAINING_COMMANDS  # noqa: E402

for _command in _TRAINING_COMMANDS:
    main.add_command(_command)


# Using a model: chat, serve (corpuskit/serving/cli.py; torch and the HTTP stack load on use).
from corpuskit.serving.cli import COMMANDS as _SERVING_COMMANDS  # noqa: E402

for _command in _SERVING_COMMANDS:
    main.add_command(_command)


# `label train` / `label eval`; the module imports only click (spaCy loads when they run).
from corpuskit.labelling.cli import label  # noqa: E402

main.add_command(label)


if __name__ == "__main__":
    main()
