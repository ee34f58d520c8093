"""Shared machinery of line-oriented formats (JSONL, labelled text, text per line)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from corpuskit.readers.base import (
    READ_STEP,
    InputFile,
    ReadBatch,
    Reader,
    Unit,
    empty_rejects,
    reject_records,
    source_name,
)
from corpuskit.readers.encoding import ESCAPE, Decoded, decode_block, is_ascii_compatible
from corpuskit.readers.sources import (
    TruncatedInput,
    compression_of,
    iter_line_blocks,
    open_binary,
    split_lines,
)

DECODE_FLAG = "decode_replaced"
#: a line read as UTF-8 in a file of another (detected or given) encoding
MIXED_FLAG = "encoding_mixed"


class LineReader(Reader):
    """Plans line-aligned byte ranges; subclasses parse a block of complete UTF-8 lines."""

    def parse_raw(self, data: bytes, first_line: int, unit: Unit) -> ReadBatch | None:
        """A fast path over a block that may not be valid UTF-8; None when it cannot decide."""
        return None

    def plan(self, files: list[Path], unit_bytes: int) -> tuple[list[InputFile], list[Unit]]:
        infos, units = [], []
        for path in files:
            enc = self.file_encoding(path)
            source = source_name(path)
            if compression_of(path) is None and is_ascii_compatible(enc):
                ranges = split_lines(path, unit_bytes)
                for r in ranges:
                    units.append(
                        Unit(
                            self.input_index,
                            source,
                            str(path),
                            enc,
                            r.start,
                            r.end,
                            r.first_line,
                            r.lines,
                        )
                    )
            else:
                units.append(Unit(self.input_index, source, str(path), enc))
            infos.append(InputFile.of(path, enc))
        return infos, units

    def parse(
        self, data: bytes, first_line: int, bad_lines: frozenset[int], unit: Unit
    ) -> ReadBatch:
        """Turn complete UTF-8 lines into documents; `bad_lines` index lines with replaced bytes."""
        raise NotImplementedError

    def read(self, unit: Unit) -> Iterator[ReadBatch]:
        budget = unit.max_records
        # UTF-16/32 files arrive transcoded to UTF-8 by _blocks.
        encoding = unit.encoding if is_ascii_compatible(unit.encoding or "utf-8") else "utf-8"
        try:
            for block, first_line in self._blocks(unit):
                if budget is not None:
                    block = _first_lines(block, budget)
                    budget -= block.count(b"\n") + (not block.endswith(b"\n"))
                if not block:
                    break
                fast = self.parse_raw(block, first_line, unit) if encoding == "utf-8" else None
                if fast is None:
                    fast = self._decoded(decode_block(block, encoding or "utf-8"), first_line, unit)
                yield fast
                if budget is not None and budget <= 0:
                    break
        except TruncatedInput as t:
            text = t.partial.decode(unit.encoding or "utf-8", errors="replace")
            yield ReadBatch(
                pl.DataFrame(),
                reject_records(
                    unit.source,
                    [t.line],
                    [text],
                    [f"{READ_STEP}:truncated_input"],
                    [
                        f"{unit.source}: input ends early at line {t.line} ({t.detail}); "
                        f"lines before it were read"
                    ],
                ),
            )

    def _decoded(self, decoded: Decoded, first_line: int, unit: Unit) -> ReadBatch:
        if decoded.bad_lines and self.spec.on_decode_error == "reject":
            return self._reject_undecodable(decoded, first_line, unit)
        return self.parse(decoded.data, first_line, LineMarks.of(decoded), unit)

    def _reject_undecodable(self, decoded: Decoded, first_line: int, unit: Unit) -> ReadBatch:
        lines = decoded.data.split(b"\n")
        bad = sorted(decoded.bad_lines)
        rejects = reject_records(
            unit.source,
            [first_line + i for i in bad],
            [lines[i].decode("utf-8") for i in bad],
            [f"{READ_STEP}:undecodable"] * len(bad),
            [f"{unit.source}:{first_line + i}: bytes not valid {unit.encoding}" for i in bad],
        )
        # Rejected lines become empty so the remaining lines keep their numbers.
        blanked = b"\n".join(
            b"" if i in decoded.bad_lines else line for i, line in enumerate(lines)
        )
        marks = LineMarks(frozenset(), decoded.mixed_lines)
        batch = self.parse(blanked, first_line, marks, unit)
        return ReadBatch(batch.documents, pl.concat([rejects, batch.rejected]))

    def _blocks(self, unit: Unit) -> Iterator[tuple[bytes, int]]:
        path = Path(unit.path)
        if is_ascii_compatible(unit.encoding or "utf-8"):
            end = unit.end if compression_of(path) is None else None
            yield from iter_line_blocks(path, unit.start, end, first_line=unit.first_record)
            return
        # UTF-16/32: newline bytes are not newlines, so transcode the whole file first.
        with open_binary(path) as f:
            raw = f.read()
        text = raw.decode(unit.encoding, errors=ESCAPE)
        yield text.encode("utf-8", errors="surrogateescape"), 1


def _first_lines(block: bytes, n: int) -> bytes:
    if n <= 0:
        return b""
    pos = -1
    for _ in range(n):
        pos = block.find(b"\n", pos + 1)
        if pos < 0:
            return block
    return block[: pos + 1]


def split_block(data: bytes, first_line: int) -> tuple[list[bytes], list[int]]:
    """Non-blank lines of a block and their line numbers (line ends stripped)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out, numbers = [], []
    for i, line in enumerate(lines):
        line = line.rstrip(b"\r")
        if line.strip():
            out.append(line)
            numbers.append(first_line + i)
    return out, numbers


class LineMarks(frozenset):
    """Indices of a block's lines with replaced bytes, and (`mixed`) of its lines read as
    UTF-8 in a file of another encoding; tests as true when either is non-empty."""

    mixed: frozenset[int]

    def __new__(cls, bad: frozenset[int], mixed: frozenset[int] = frozenset()) -> LineMarks:
        self = super().__new__(cls, bad)
        self.mixed = mixed
        return self

    def __bool__(self) -> bool:
        return bool(len(self) or self.mixed)

    @classmethod
    def of(cls, decoded: Decoded) -> frozenset[int]:
        return (
            cls(decoded.bad_lines, decoded.mixed_lines)
            if decoded.mixed_lines
            else decoded.bad_lines
        )


def flags_for(
    numbers: list[int] | pl.Series, first_line: int, bad: frozenset[int]
) -> pl.Series | None:
    """The flags column for rows at the given line numbers (`bad` may be `LineMarks`)."""
    mixed = getattr(bad, "mixed", frozenset())
    if not (len(bad) or mixed):
        return None
    marked = {first_line + i for i in bad}
    mixed_at = {first_line + i for i in mixed}
    return pl.Series(
        [
            [DECODE_FLAG] * (n in marked) + [MIXED_FLAG] * (n in mixed_at)
            for n in (numbers.to_list() if isinstance(numbers, pl.Series) else numbers)
        ],
        dtype=pl.List(pl.String()),
    )


__all__ = [
    "DECODE_FLAG",
    "MIXED_FLAG",
    "LineMarks",
    "LineReader",
    "empty_rejects",
    "flags_for",
    "split_block",
]
