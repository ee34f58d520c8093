"""Plain-text files: one document per file, per non-blank line, or per paragraph."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from corpuskit.readers.base import (
    READ_STEP,
    InputFile,
    ReadBatch,
    Unit,
    reject_records,
    source_name,
    to_documents,
)
from corpuskit.readers.encoding import decode_block
from corpuskit.readers.lines import DECODE_FLAG, MIXED_FLAG, LineReader, flags_for, split_block
from corpuskit.readers.sources import TruncatedInput, open_binary

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r]*\n")


class TextReader(LineReader):
    """Plain text; `mode` picks the document unit: file, line or paragraph."""

    format = "text"
    extensions = (".txt", ".text", ".md")

    def plan(self, files: list[Path], unit_bytes: int) -> tuple[list[InputFile], list[Unit]]:
        if self.spec.mode == "line":
            return super().plan(files, unit_bytes)
        infos, units = [], []
        group: list[Path] = []
        group_bytes = 0
        for path in files:
            enc = self.file_encoding(path)
            size = path.stat().st_size
            infos.append(InputFile.of(path, enc))
            if self.spec.mode == "paragraph":
                units.append(Unit(self.input_index, source_name(path), str(path), enc))
                continue
            group.append(path)
            group_bytes += size
            if group_bytes >= unit_bytes:
                units.append(self._group_unit(group, infos))
                group, group_bytes = [], 0
        if group:
            units.append(self._group_unit(group, infos))
        return infos, units

    def _group_unit(self, group: list[Path], infos: list[InputFile]) -> Unit:
        encodings = {i.path: i.encoding for i in infos}
        return Unit(
            self.input_index,
            source_name(group[0]),
            str(group[0]),
            files=tuple(str(p) for p in group),
            extra={"encodings": [encodings[str(p)] for p in group]},
        )

    def read(self, unit: Unit) -> Iterator[ReadBatch]:
        if self.spec.mode == "line":
            yield from super().read(unit)
        elif self.spec.mode == "paragraph":
            yield from self._paragraphs(unit)
        else:
            yield self._whole_files(unit)

    def parse(
        self, data: bytes, first_line: int, bad_lines: frozenset[int], unit: Unit
    ) -> ReadBatch:
        lines, numbers = split_block(data, first_line)
        raw = pl.DataFrame(
            {self.spec.text_field: [ln.decode("utf-8") for ln in lines]},
            schema={self.spec.text_field: pl.String()},
        )
        return to_documents(
            raw,
            self.spec,
            unit.source,
            pl.Series(numbers, dtype=pl.Int64),
            flags_for(numbers, first_line, bad_lines),
        )

    def _paragraphs(self, unit: Unit) -> Iterator[ReadBatch]:
        data, truncated = _read_all(Path(unit.path))
        decoded = decode_block(data, unit.encoding or "utf-8")
        text = decoded.data.decode("utf-8")
        texts, numbers, flagged = [], [], []
        pos, line = 0, 1
        for m in [*_PARAGRAPH_BREAK.finditer(text), None]:
            end = m.start() if m else len(text)
            para = text[pos:end]
            lead = len(para) - len(para.lstrip("\n"))
            if para.strip():
                first = line + text.count("\n", pos, pos + lead)
                last = first + para.count("\n", lead)
                texts.append(para.strip("\n"))
                numbers.append(first)
                span = range(first - 1, last)
                flagged.append(
                    [DECODE_FLAG] * any(k in decoded.bad_lines for k in span)
                    + [MIXED_FLAG] * any(k in decoded.mixed_lines for k in span)
                )
            if m is None:
                break
            line += text.count("\n", pos, m.end())
            pos = m.end()
        partial: tuple[str, int] | None = None
        if truncated and texts:
            # The paragraph the damage cut through is incomplete: rejected, not kept.
            partial = (texts.pop(), numbers.pop())
            flagged.pop()
        if unit.max_records is not None:
            texts, numbers, flagged = (x[: unit.max_records] for x in (texts, numbers, flagged))
        raw = pl.DataFrame(
            {self.spec.text_field: texts}, schema={self.spec.text_field: pl.String()}
        )
        flags = pl.Series(flagged, dtype=pl.List(pl.String()))
        yield to_documents(raw, self.spec, unit.source, pl.Series(numbers, dtype=pl.Int64), flags)
        if truncated:
            text, line = partial or ("", truncated.line)
            yield ReadBatch(pl.DataFrame(), _truncated(unit.source, line, text, truncated))

    def _whole_files(self, unit: Unit) -> ReadBatch:
        files = unit.files[: unit.max_records] if unit.max_records is not None else unit.files
        texts, flags, sources, rejects = [], [], [], []
        for path, enc in zip(files, unit.extra["encodings"], strict=False):
            data, truncated = _read_all(Path(path))
            decoded = decode_block(data, enc or "utf-8")
            text = decoded.data.decode("utf-8")
            source = source_name(Path(path))
            if truncated:
                # A document the damage cut short is rejected whole, with what was read.
                rejects.append(_truncated(source, truncated.line, text, truncated, id_=source))
                continue
            texts.append(text)
            flags.append(
                [DECODE_FLAG] * bool(decoded.bad_lines) + [MIXED_FLAG] * bool(decoded.mixed_lines)
            )
            sources.append(source)
        raw = pl.DataFrame(
            {self.spec.text_field: texts}, schema={self.spec.text_field: pl.String()}
        )
        batch = to_documents(
            raw,
            self.spec,
            "",
            pl.Series(range(len(texts))),
            pl.Series(flags, dtype=pl.List(pl.String())),
            default_ids=pl.Series(sources, dtype=pl.String()),
        )
        docs = batch.documents
        rejected = batch.rejected
        if docs.height or rejected.height:
            docs = docs.with_columns(source=pl.col("id"))
            rejected = rejected.with_columns(source=pl.col("id"))
        return ReadBatch(docs, pl.concat([rejected, *rejects]))


def _truncated(
    source: str, line: int, text: str, t: TruncatedInput, id_: str | None = None
) -> pl.DataFrame:
    rejected = reject_records(
        source,
        [line],
        [text],
        [f"{READ_STEP}:truncated_input"],
        [f"{source}: input ends early near line {line} ({t.detail}); the text before it was read"],
    )
    return rejected.with_columns(id=pl.lit(id_)) if id_ else rejected


def _read_all(path: Path) -> tuple[bytes, TruncatedInput | None]:
    """A whole (possibly compressed) file; a damaged stream returns what came before it."""
    chunks: list[bytes] = []
    try:
        with open_binary(path) as f:
            while chunk := f.read(1 << 20):
                chunks.append(chunk)
    except Exception as e:
        data = b"".join(chunks)
        return data, TruncatedInput(data.count(b"\n") + 1, b"", f"{type(e).__name__}: {e}")
    return b"".join(chunks), None
