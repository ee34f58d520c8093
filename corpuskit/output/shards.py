"""Size-capped zstd Parquet shards, written under a temporary name and renamed when complete."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq


@dataclass(frozen=True)
class Shard:
    file: str
    rows: int
    bytes: int


class ShardWriter:
    """Writes `<dir>/<prefix>-NNN.parquet`; nothing is visible under a final name before commit.

    A shard is closed and a new one started once its file passes `max_bytes`, so a
    shard ends up at most one batch over the cap.
    """

    def __init__(
        self,
        directory: Path,
        prefix: str,
        schema: dict[str, pl.DataType],
        max_bytes: int,
        compression_level: int = 3,
    ) -> None:
        self.directory = directory
        self.prefix = prefix
        self.schema = schema
        self.max_bytes = max_bytes
        self.level = compression_level
        self._writer: pq.ParquetWriter | None = None
        self._tmp: Path | None = None
        self._rows = 0
        self._done: list[tuple[Path, Path, int]] = []

    def write(self, batch: pl.DataFrame) -> None:
        """Append rows, in slices small enough that no shard runs far past the cap."""
        if batch.height == 0:
            return
        slices = max(1, -(-batch.estimated_size() * 4 // self.max_bytes))
        rows = -(-batch.height // slices)
        for offset in range(0, batch.height, rows):
            self._write(batch.slice(offset, rows))

    def _write(self, batch: pl.DataFrame) -> None:
        table = batch.select(list(self.schema)).to_arrow()
        if self._writer is None:
            self._open(table.schema)
        elif not table.schema.equals(self._writer.schema):
            table = table.cast(self._writer.schema)
        self._writer.write_table(table, row_group_size=128 * 1024)
        self._rows += batch.height
        if self._tmp.stat().st_size >= self.max_bytes:
            self._close()

    def _open(self, schema) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        n = len(self._done)
        final = self.directory / f"{self.prefix}-{n:03d}.parquet"
        self._tmp = self.directory / f".{final.name}.tmp-{os.getpid()}"
        self._final = final
        self._writer = pq.ParquetWriter(
            self._tmp,
            schema,
            compression="zstd",
            compression_level=self.level,
        )

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._done.append((self._tmp, self._final, self._rows))
            self._writer, self._rows = None, 0

    def commit(self) -> list[Shard]:
        """Close the open shard and move every shard to its final name."""
        self._close()
        out = []
        for tmp, final, rows in self._done:
            os.replace(tmp, final)
            out.append(Shard(final.name, rows, final.stat().st_size))
        self._done = []
        return out

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for tmp, _, _ in self._done:
            tmp.unlink(missing_ok=True)
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
