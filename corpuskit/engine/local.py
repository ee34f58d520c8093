"""The local backend: units in a pool of worker processes, fits in the driver with threads."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from corpuskit.corpus import Corpus
from corpuskit.engine.worker import UnitTask, fit_and_save, forget_stage, process_unit
from corpuskit.progress import Progress
from corpuskit.steps.base import GlobalStep

_progress_queue: Any = None
_PR_SET_PDEATHSIG = 1


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
                self.workers, mp_context=ctx, initializer=_init_worker, initargs=(q, os.getpid())
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


def _init_worker(q, driver: int) -> None:
    global _progress_queue
    _progress_queue = q
    die_with(driver)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def die_with(driver: int) -> None:
    """End this process when the driver `driver` ends: a killed run must not leave workers
    writing into its output behind a resume.

    On Linux the kernel kills us with the driver (PR_SET_PDEATHSIG). A driver killed
    before that was set (while this process was still importing) has left us to another
    parent already: we exit at once. A thread watching the parent covers other systems.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != driver:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(driver,), daemon=True).start()


def _watch_parent(driver: int) -> None:
    while os.getppid() == driver:
        time.sleep(0.5)
    os._exit(1)


def _run_task(task: UnitTask) -> dict[str, Any]:
    return process_unit(task, _progress_queue.put if _progress_queue is not None else None)
