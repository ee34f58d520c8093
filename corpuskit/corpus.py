"""What a global step's `fit` sees: the whole stage input, how to map work over it, a work folder.

The engine builds one `Corpus` per fit and hands it to `GlobalStep.fit`, which passes it on,
as an argument, to whatever library code the fit calls (the dedup maps and reduces take it
as their first argument). Its `map` is the backend's: threads of the driver with the local
backend, Ray tasks spread over the cluster with the Ray backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from corpuskit.schema import DOCUMENT_SCHEMA

T = TypeVar("T")

#: How a Corpus runs `fn` over items: [fn(item) for item in items], in item order.
Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]


class Corpus:
    """The Parquet shards of a stage input, a `map` to spread work, a shared work folder.

    `workers`: CPUs the fit itself may use (and the threads of the default `map`).
    `map(fn, items)` runs `fn` over items where the backend decides (see the module). A
    mapped `fn` must be picklable by cloudpickle (closures are) and write only under
    `workdir`, which is on a filesystem every node sees; large results belong in files
    there, not in the returned values. `parallelism`: how many mapped calls run at once.
    """

    def __init__(
        self,
        files: Sequence[Path | str],
        workdir: Path | str,
        workers: int = 1,
        mapper: Mapper | None = None,
        parallelism: int | None = None,
    ) -> None:
        self.files = [Path(f) for f in files]
        self.workdir = Path(workdir)
        self.workers = max(1, workers)
        self.mapper = mapper
        self.parallelism = max(1, parallelism or self.workers)

    def scan(self, columns: list[str] | None = None) -> pl.LazyFrame:
        """The whole corpus as one Polars LazyFrame (the document schema when it is empty)."""
        lf = (
            pl.scan_parquet([str(f) for f in self.files])
            if self.files
            else pl.LazyFrame(schema=DOCUMENT_SCHEMA)
        )
        return lf.select(columns) if columns else lf

    def iter_batches(self, columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
        """Shard by shard, in corpus order, so memory stays bounded."""
        for f in self.files:
            yield pl.read_parquet(f, columns=columns)

    def map(self, fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        """[fn(item) for item in items], run in parallel (see the class); results in order."""
        items = list(items)
        if self.mapper is not None:
            return self.mapper(fn, items)
        return thread_map(fn, items, self.workers)


def thread_map(fn: Callable[[Any], T], items: Sequence[Any], workers: int) -> list[T]:
    """[fn(item) ...] in `workers` threads (numpy and Polars release the GIL), in order."""
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(min(workers, len(items)), thread_name_prefix="fit-map") as pool:
        return list(pool.map(fn, items))
