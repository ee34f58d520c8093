"""CSV and TSV with a header row (or `columns`), streamed so big files stay in bounded memory."""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from corpuskit.readers.base import (
    READ_STEP,
    InputFile,
    ReadBatch,
    Reader,
    Unit,
    reject_records,
    source_name,
    to_documents,
)
from corpuskit.readers.encoding import ESCAPE
from corpuskit.readers.lines import DECODE_FLAG
from corpuskit.readers.sources import TruncatedInput, open_binary

BATCH_ROWS = 50_000
_ESCAPED = re.compile("[\udc80-\udcff]")
csv.field_size_limit(sys.maxsize)


class CsvReader(Reader):
    """Comma-separated values; every column but the mapped ones is kept in meta."""

    format = "csv"
    extensions = (".csv",)
    delimiter = ","
    quoting = csv.QUOTE_MINIMAL

    def plan(self, files: list[Path], unit_bytes: int) -> tuple[list[InputFile], list[Unit]]:
        infos, units = [], []
        for path in files:
            enc = self.file_encoding(path)
            infos.append(InputFile.of(path, enc))
            units.append(Unit(self.input_index, source_name(path), str(path), enc))
        return infos, units

    def read(self, unit: Unit) -> Iterator[ReadBatch]:
        stream = io.TextIOWrapper(
            open_binary(Path(unit.path)),
            encoding=unit.encoding or "utf-8",
            errors=ESCAPE,
            newline="",
        )
        reader = csv.reader(stream, delimiter=self.delimiter, quoting=self.quoting)
        header = list(self.spec.columns) if self.spec.columns else None
        rows: list[list[str]] = []
        numbers: list[int] = []
        rejects: list[pl.DataFrame] = []
        budget = unit.max_records
        line = 1
        try:
            with stream:
                while True:
                    start = line
                    try:
                        row = next(reader)
                    except StopIteration:
                        break
                    except csv.Error as e:
                        line = reader.line_num + 1
                        rejects.append(self._reject(unit, start, "", f"CSV error: {e}"))
                        continue
                    line = reader.line_num + 1
                    if header is None:
                        header = [h.strip() for h in row]
                        continue
                    if not any(cell.strip() for cell in row):
                        continue
                    if budget is not None:
                        if budget <= 0:
                            break
                        budget -= 1
                    if len(row) != len(header):
                        rejects.append(
                            self._reject(
                                unit,
                                start,
                                self.delimiter.join(row),
                                f"{len(row)} fields where the header has {len(header)}",
                            )
                        )
                        continue
                    rows.append(row)
                    numbers.append(start)
                    if len(rows) >= BATCH_ROWS:
                        yield self._batch(header, rows, numbers, unit, rejects)
                        rows, numbers, rejects = [], [], []
        except (TruncatedInput, EOFError, OSError) as e:
            rejects.append(
                reject_records(
                    unit.source,
                    [line],
                    [""],
                    [f"{READ_STEP}:truncated_input"],
                    [
                        f"{unit.source}: input ends early at line {line} "
                        f"({type(e).__name__}: {e}); rows before it were read"
                    ],
                )
            )
        if rows or rejects:
            yield self._batch(header or [], rows, numbers, unit, rejects)

    def _reject(self, unit: Unit, line: int, text: str, detail: str) -> pl.DataFrame:
        return reject_records(
            unit.source,
            [line],
            [_ESCAPED.sub("\ufffd", text)],
            [f"{READ_STEP}:bad_row"],
            [f"{unit.source}:{line}: {detail}"],
        )

    def _batch(
        self,
        header: list[str],
        rows: list[list[str]],
        numbers: list[int],
        unit: Unit,
        rejects: list[pl.DataFrame],
    ) -> ReadBatch:
        bad = [any(_ESCAPED.search(c) for c in row) for row in rows]
        if any(bad):
            rows = [
                [_ESCAPED.sub("\ufffd", c) for c in row] if b else row
                for row, b in zip(rows, bad, strict=True)
            ]
        names = _unique(header)
        raw = pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String()), orient="row")
        flags = pl.Series([[DECODE_FLAG] if b else [] for b in bad], dtype=pl.List(pl.String()))
        if self.spec.on_decode_error == "reject" and any(bad):
            keep = pl.Series(bad).not_()
            dropped = [n for n, b in zip(numbers, bad, strict=True) if b]
            rejects.append(
                reject_records(
                    unit.source,
                    dropped,
                    ["" for _ in dropped],
                    [f"{READ_STEP}:undecodable"] * len(dropped),
                    [f"{unit.source}:{n}: bytes not valid {unit.encoding}" for n in dropped],
                )
            )
            raw, flags = raw.filter(keep), flags.filter(keep)
            numbers = [n for n, b in zip(numbers, bad, strict=True) if not b]
        batch = to_documents(raw, self.spec, unit.source, pl.Series(numbers, dtype=pl.Int64), flags)
        return ReadBatch(batch.documents, pl.concat([*rejects, batch.rejected]))


class TsvReader(CsvReader):
    """Tab-separated values with a header row; no quoting."""

    format = "tsv"
    extensions = (".tsv",)
    delimiter = "\t"
    quoting = csv.QUOTE_NONE


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        n = n or "column"
        if n in seen:
            seen[n] += 1
            n = f"{n}_{seen[n]}"
        else:
            seen[n] = 0
        out.append(n)
    return out
