"""The `corpuskit` command line."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import click
import polars as pl
from rich.console import Console
from rich.table import Table

from corpuskit import __version__, registry
from corpuskit.recipe import RecipeError, load_recipe

console = Console()
err_console = Console(stderr=True)


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
) -> None:
    """Run RECIPE; an interrupted run of the same recipe resumes where it stopped."""
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
    }
    r = load_recipe(recipe, overrides)
    progress = Progress(enabled=not quiet, console=err_console)
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


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
def validate(recipe: Path) -> None:
    """Check RECIPE (keys, types, steps, inputs) without reading any data."""
    from corpuskit.engine.stages import build_steps

    r = load_recipe(recipe)
    entries = build_steps(r)
    resolved = r.resolve_inputs()
    files = sum(len(f) for _, f in resolved)
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


# Training: train, eval, generate, trainers (corpuskit/training/cli.py; torch loads only on use).
from corpuskit.training.cli import COMMANDS as _TRAINING_COMMANDS  # noqa: E402

for _command in _TRAINING_COMMANDS:
    main.add_command(_command)


# `label train` / `label eval`; the module imports only click (spaCy loads when they run).
from corpuskit.labelling.cli import label  # noqa: E402

main.add_command(label)


if __name__ == "__main__":
    main()
