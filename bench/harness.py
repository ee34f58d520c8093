"""Shared bench helpers: run a command, time it, sample the peak RSS of its whole process tree."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPORA = ROOT.parent / "shared" / "corpora"


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str


def measure(name: str, cmd: list[str], interval: float = 0.05) -> Measurement:
    """Wall time and the peak of the summed RSS of the process and all its children."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not stop.is_set():
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        total += p.memory_info().rss
            except psutil.NoSuchProcess:
                break
            peak = max(peak, total)
            time.sleep(interval)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, _ = proc.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    t.join()
    return Measurement(name, seconds, peak / 2**20, proc.returncode, out)


def python() -> str:
    return sys.executable


def generated_corpus(docs: int, corpora: Path, data: Path | None = None) -> Path:
    """The generated JSONL of `docs` documents, made by generate_corpus.py on first use."""
    data = data or ROOT / "bench" / "data" / f"gen-{docs}.jsonl"
    if not data.exists():
        script = ROOT / "bench" / "generate_corpus.py"
        cmd = [python(), str(script), "--docs", str(docs), "--out", str(data)]
        gen = measure("generate", [*cmd, "--corpora", str(corpora)])
        if gen.returncode != 0:
            sys.exit(f"generating {data} failed:\n{gen.output}")
    return data


def table(rows: list[dict]) -> str:
    cols = list(rows[0])
    widths = [max(len(str(c)), *(len(str(r[c])) for r in rows)) for c in cols]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines.append("-|-".join("-" * w for w in widths))
    lines += [
        " | ".join(str(r[c]).ljust(w) for c, w in zip(cols, widths, strict=True)) for r in rows
    ]
    return "\n".join(lines)
