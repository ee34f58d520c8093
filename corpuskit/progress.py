"""Progress bars per stage (documents and documents/s) and the closing summary table."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

#: Width of a console that is not a terminal (a log file, a pipe): wide enough that no
#: table cell is truncated and no message wraps.
LOG_WIDTH = 10_000


def make_console(stderr: bool = False) -> Console:
    """A rich console; when it is not a terminal, lines are never cut nor wrapped."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=LOG_WIDTH, soft_wrap=True)
    return console


def short_label(name: str) -> str:
    """A stage's bar label: 'stage 0' from 'stage 0: read → fix_unicode → …'."""
    return name.split(":", 1)[0]


class Progress:
    """What the executor reports while it runs; silent when `enabled` is false."""

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.console = console or make_console(stderr=True)
        self.enabled = enabled
        self._bar: RichProgress | None = None
        self._task: Any = None
        self._docs = 0
        self._t0 = 0.0

    def note(self, message: str) -> None:
        if self.enabled:
            self.console.print(f"[dim]{message}[/dim]")

    def start_stage(self, name: str, units: int, done: int) -> None:
        self._docs, self._t0 = 0, time.perf_counter()
        if not self.enabled:
            return
        # One header per stage (the whole step chain, wrapped if it must be); the bar
        # under it is labelled "stage N" so that it fits at 80 columns.
        if done:
            self.console.print(
                f"[bold]{name}[/bold] [dim]({units} units, {done} done: resuming)[/dim]"
            )
        else:
            self.console.print(f"[bold]{name}[/bold] [dim]({units} units)[/dim]")
        if not self.console.is_terminal:
            return
        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("· {task.fields[docs]:,} docs · {task.fields[rate]:,.0f}/s"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task(
            short_label(name), total=units, completed=done, docs=0, rate=0.0
        )

    def advance(self, docs: int) -> None:
        self._docs += docs
        if self._bar is not None:
            elapsed = max(time.perf_counter() - self._t0, 1e-9)
            self._bar.update(self._task, docs=self._docs, rate=self._docs / elapsed)

    def unit_done(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def end_stage(self, docs: int | None = None) -> None:
        """Close the stage's bar; `docs`: the records its units read, which the bar then
        shows (counts sent by worker processes may still be in flight)."""
        if docs is not None:
            self._docs = docs
        if self._bar is not None:
            elapsed = max(time.perf_counter() - self._t0, 1e-9)
            self._bar.update(self._task, docs=self._docs, rate=self._docs / elapsed)
            self._bar.stop()
            self._bar = None
        elif self.enabled:
            elapsed = max(time.perf_counter() - self._t0, 1e-9)
            self.console.print(f"[dim]  {self._docs:,} docs in {elapsed:.1f}s[/dim]")

    def summary(self, manifest: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.console.print(summary_table(manifest))


def summary_table(manifest: dict[str, Any]) -> Table:
    t = manifest["totals"]
    table = Table(
        title=f"read {t['read']:,} · kept {t['kept']:,} · rejected {t['rejected']:,}",
        title_justify="left",
    )
    for col in ("step", "in", "out", "rejected", "seconds", "docs/s", "top reasons"):
        table.add_column(col, justify="left" if col in ("step", "top reasons") else "right")
    for row in manifest["ledger"]:
        reasons = sorted(row["reasons"].items(), key=lambda kv: -kv[1])[:3]
        rate = row["in"] / row["seconds"] if row["seconds"] else 0
        table.add_row(
            row["step"],
            f"{row['in']:,}",
            f"{row['out']:,}",
            f"{row['rejected']:,}",
            f"{row['seconds']:.2f}",
            f"{rate:,.0f}" if rate else "-",
            ", ".join(f"{k} ({v:,})" for k, v in reasons),
        )
    return table
