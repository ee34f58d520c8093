"""The engine: one worker thread that owns the generator, a bounded queue in front of it.

Requests wait in a queue of at most `max_queue` entries (beyond it `submit` raises
QueueFull: the server answers 429) and run in the generator's `slots` (continuous
batching: a finished or cancelled sequence frees its slot for the next one at once).
Results go to each request's `sink`, called in the worker thread; a sink must not block.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from corpuskit.serving.generator import Delta, SamplingParams, TextGenerator

State = Literal["loading", "ready", "failed"]


class QueueFull(RuntimeError):
    """Every slot is busy and the waiting queue is full."""


class EngineNotReady(RuntimeError):
    """The model is still loading (or failed to load)."""


@dataclass
class Failure:
    """A request the generator failed on; `message` says why."""

    message: str


Sink = Callable[[Delta | Failure], None]


@dataclass
class Ticket:
    """A submitted request: cancel() frees its slot (or its place in the queue)."""

    seq: int
    prompt: list[int]
    params: SamplingParams
    sink: Sink
    submitted: float = field(default_factory=time.perf_counter)
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class Stats:
    submitted: int = 0
    finished: int = 0
    cancelled: int = 0
    rejected: int = 0
    failed: int = 0
    completion_tokens: int = 0


class Engine:
    """Runs `load()` in the worker thread, then serves submitted requests until `stop()`."""

    def __init__(self, load: Callable[[], TextGenerator], max_queue: int = 64) -> None:
        self._load = load
        self.max_queue = max_queue
        self.state: State = "loading"
        self.error: str | None = None
        self.generator: TextGenerator | None = None
        self.stats = Stats()
        self._ids = itertools.count(1)
        self._waiting: deque[Ticket] = deque()
        self._running: dict[int, Ticket] = {}
        self._lock = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="corpuskit-engine", daemon=True)

    def start(self) -> Engine:
        if not self._thread.is_alive() and self.state == "loading":
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait_ready(self, timeout: float | None = None) -> TextGenerator:
        """Block until the model is loaded; raises EngineNotReady if loading failed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self.state == "loading":
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._lock.wait(left)
        if self.state != "ready" or self.generator is None:
            raise EngineNotReady(self.error or "the model is still loading")
        return self.generator

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def submit(self, prompt: list[int], params: SamplingParams, sink: Sink) -> Ticket:
        """Queue a request; QueueFull when `max_queue` requests already wait."""
        with self._lock:
            if self.state != "ready":
                raise EngineNotReady(self.error or "the model is still loading")
            free = self.generator.slots - len(self._running) if self.generator else 0
            if len(self._waiting) - max(0, free) >= self.max_queue:
                self.stats.rejected += 1
                raise QueueFull(
                    f"{len(self._running)} requests are running and {len(self._waiting)} "
                    f"waiting (the limit is {self.max_queue}); retry later"
                )
            ticket = Ticket(next(self._ids), prompt, params, sink)
            self._waiting.append(ticket)
            self.stats.submitted += 1
            self._lock.notify_all()
        return ticket

    # --- the worker thread ----------------------------------------------------------
    def _run(self) -> None:
        try:
            generator = self._load()
        except BaseException as e:  # the server reports it on /health
            with self._lock:
                self.state, self.error = "failed", f"loading the model failed: {e}"
                self._lock.notify_all()
            traceback.print_exc()
            return
        with self._lock:
            self.generator, self.state = generator, "ready"
            self._lock.notify_all()
        while True:
            with self._lock:
                while not self._stopping and not self._waiting and not self._running:
                    self._lock.wait()
                if self._stopping:
                    break
                admitted = self._admit(generator)
            try:
                for ticket in admitted:
                    generator.add(ticket.seq, ticket.prompt, ticket.params)
                self._drop_cancelled(generator)
                deltas = generator.step() if self._running else []
            except Exception as e:
                traceback.print_exc()
                self._fail_all(generator, f"{type(e).__name__}: {e}")
                continue
            self._deliver(deltas)

    def _admit(self, generator: TextGenerator) -> list[Ticket]:
        admitted = []
        while self._waiting and len(self._running) < generator.slots:
            ticket = self._waiting.popleft()
            if ticket.cancelled:
                self.stats.cancelled += 1
                continue
            self._running[ticket.seq] = ticket
            admitted.append(ticket)
        return admitted

    def _drop_cancelled(self, generator: TextGenerator) -> None:
        for seq, ticket in list(self._running.items()):
            if ticket.cancelled:
                generator.remove(seq)
                del self._running[seq]
                self.stats.cancelled += 1

    def _deliver(self, deltas: list[Delta]) -> None:
        for delta in deltas:
            ticket = self._running.get(delta.seq)
            if ticket is None:
                continue
            if delta.finish is not None:
                del self._running[delta.seq]
                self.stats.finished += 1
                self.stats.completion_tokens += delta.completion_tokens
            if not ticket.cancelled:
                ticket.sink(delta)

    def _fail_all(self, generator: TextGenerator, message: str) -> None:
        for seq, ticket in list(self._running.items()):
            with contextlib.suppress(Exception):
                generator.remove(seq)
            del self._running[seq]
            self.stats.failed += 1
            ticket.sink(Failure(message))
