"""Parquet files, split into units by row groups."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from corpuskit.readers.base import (
    InputFile,
    ReadBatch,
    Reader,
    Unit,
    source_name,
    to_documents,
    unreadable,
)


class ParquetReader(Reader):
    """Parquet; columns other than the mapped ones are kept in meta."""

    format = "parquet"
    extensions = (".parquet", ".pq")

    def plan(self, files: list[Path], unit_bytes: int) -> tuple[list[InputFile], list[Unit]]:
        infos, units = [], []
        for path in files:
            source = source_name(path)
            infos.append(InputFile.of(path))
            try:
                meta = pq.ParquetFile(path).metadata
            except Exception as e:  # not Parquet, or damaged: one reject, the run goes on
                error = f"not a readable Parquet file: {type(e).__name__}: {e}"
                units.append(Unit(self.input_index, source, str(path), extra={"error": error}))
                continue
            group_start, size, row = 0, 0, 1
            first = 1
            for g in range(meta.num_row_groups):
                size += meta.row_group(g).total_byte_size
                row += meta.row_group(g).num_rows
                if size >= unit_bytes or g == meta.num_row_groups - 1:
                    units.append(
                        Unit(
                            self.input_index,
                            source,
                            str(path),
                            None,
                            group_start,
                            g + 1,
                            first,
                            row - first,
                        )
                    )
                    group_start, size, first = g + 1, 0, row
            if meta.num_row_groups == 0:
                units.append(Unit(self.input_index, source, str(path), None, 0, 0, 1, 0))
        return infos, units

    def read(self, unit: Unit) -> Iterator[ReadBatch]:
        if "error" in unit.extra:
            yield ReadBatch(pl.DataFrame(), unreadable(unit, unit.extra["error"]))
            return
        f = pq.ParquetFile(unit.path)
        end = unit.end if unit.end is not None else f.metadata.num_row_groups
        if end <= unit.start:
            return
        table = f.read_row_groups(list(range(unit.start, end)))
        raw = pl.from_arrow(table)
        if unit.max_records is not None:
            raw = raw.head(unit.max_records)
        positions = pl.int_range(unit.first_record, unit.first_record + raw.height, eager=True)
        yield to_documents(raw, self.spec, unit.source, positions)
