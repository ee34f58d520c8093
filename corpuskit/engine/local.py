"""The local backend: units in a pool of worker processes, fits in the driver with threads."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import queue
import signal
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from corpuskit.corpus import Corpus
from corpuskit.engine.worker import UnitTask, fit_and_save, forget_stage, process_unit
from corpuskit.progress import Progress
from corpuskit.steps.base import GlobalStep

_progress_queue: Any = None


class LocalBackend:
    """`workers` processes per stage (spawned, so each imports corpuskit once and keeps the
    stage's steps set up for all its units); one worker or one unit runs in the driver."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1

    def session(self, progress: Progress) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def run_fit(
        self, step: GlobalStep, files: list[Path], workdir: Path, path: Path, progress: Progress
    ) -> dict[str, Any]:
        progress.note(f"fitting {step.name} over {len(files)} shards")
        fit_and_save(step, Corpus(files, workdir, self.workers), path)
        return {}

    def run_units(self, tasks: list[UnitTask], progress: Progress) -> Iterator[dict[str, Any]]:
        if not tasks:
            return
        if self.workers == 1 or len(tasks) == 1:
            try:
                for t in tasks:
                    result = process_unit(t, progress.advance)
                    progress.unit_done()
                    yield result
            finally:
                forget_stage()  # the driver keeps no step of a finished stage
            return
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        env_before = os.environ.get("POLARS_MAX_THREADS")
        os.environ["POLARS_MAX_THREADS"] = str(max(1, (os.cpu_count() or 1) // self.workers))
        try:
            with ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_init_worker, initargs=(q,)
            ) as pool:
                pending: set[Future] = {pool.submit(_run_task, t) for t in tasks}
                try:
                    while pending:
                        finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                        _drain(q, progress)
                        for f in finished:
                            result = f.result()
                            progress.unit_done()
                            yield result
                except BaseException:
                    for f in pending:
                        f.cancel()
                    raise
                _drain(q, progress)
        finally:
            if env_before is None:
                os.environ.pop("POLARS_MAX_THREADS", None)
            else:
                os.environ["POLARS_MAX_THREADS"] = env_before


def _drain(q, progress: Progress) -> None:
    while True:
        try:
            progress.advance(q.get_nowait())
        except queue.Empty:
            return


def _init_worker(q) -> None:
    global _progress_queue
    _progress_queue = q
    # Die with the driver: a killed run must not leave workers writing behind a resume.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_task(task: UnitTask) -> dict[str, Any]:
    return process_unit(task, _progress_queue.put if _progress_queue is not None else None)
