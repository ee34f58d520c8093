"""A thread of its own for a step's big regexes, so Polars compiles them once per worker.

Polars compiles a regex again whenever its per-thread cache (32 entries, least recently
used, not configurable) has dropped it. In a chain of steps the expressions of every step
share the same worker threads, so a step that runs a few big alternations (ad_filter's
promo and spam lists, remove_boilerplate_lines' unit patterns: 1-7 ms to compile each)
recompiled them at most batches. Eager `Series.str` calls run on the calling thread; a
`RegexLane` is one long-lived thread that makes those calls for one step, so its cache
holds that step's regexes only. Its result is exactly the call's result.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class RegexLane:
    """Runs callables on one daemon thread, one at a time, and returns their results.

    The thread starts on first use, ends when the lane is collected, and is not pickled (a
    step sent to another process starts its own there)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue | None = None
        self._lock = threading.Lock()

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the lane's thread; its exception is raised here."""
        jobs = self._jobs or self._start()
        done = threading.Event()
        box: list[Any] = []

        def job() -> None:
            try:
                box.append((True, fn(*args)))
            except BaseException as e:  # re-raised in the caller's thread
                box.append((False, e))
            finally:
                done.set()

        jobs.put(job)
        done.wait()
        ok, value = box[0]
        if not ok:
            raise value
        return value

    def _start(self) -> queue.SimpleQueue:
        with self._lock:
            if self._jobs is None:
                jobs: queue.SimpleQueue = queue.SimpleQueue()
                threading.Thread(target=_serve, args=(jobs,), daemon=True).start()
                weakref.finalize(self, jobs.put, None)  # the thread ends with its lane
                self._jobs = jobs
            return self._jobs

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()


def _serve(jobs: queue.SimpleQueue) -> None:
    while (job := jobs.get()) is not None:
        job()
