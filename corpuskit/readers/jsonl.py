"""JSON Lines: one object per line, plain or compressed."""

from __future__ import annotations

import functools
import io
import json
import re

import orjson
import polars as pl

from corpuskit.readers.base import READ_STEP, ReadBatch, Unit, reject_records, to_documents
from corpuskit.readers.lines import LineReader, flags_for, split_block


class JsonlReader(LineReader):
    """One JSON object per line; `text_field` is the text, other fields go to meta."""

    format = "jsonl"
    extensions = (".jsonl", ".ndjson", ".json")

    def parse_raw(self, data: bytes, first_line: int, unit: Unit) -> ReadBatch | None:
        raw = self._fast(data, self.spec.text_field)
        if raw is None:
            return None
        positions = pl.int_range(first_line, first_line + raw.height, eager=True)
        return to_documents(raw, self.spec, unit.source, positions)

    def parse(
        self, data: bytes, first_line: int, bad_lines: frozenset[int], unit: Unit
    ) -> ReadBatch:
        raw = self._fast(data, self.spec.text_field)
        if raw is not None:
            positions = pl.int_range(first_line, first_line + raw.height, eager=True)
            flags = flags_for(positions.to_list(), first_line, bad_lines) if bad_lines else None
            return to_documents(raw, self.spec, unit.source, positions, flags)
        return self._line_by_line(data, first_line, bad_lines, unit)

    @staticmethod
    def _fast(data: bytes, text_field: str) -> pl.DataFrame | None:
        """Polars' parser over the whole block, when every line is a valid UTF-8 JSON object.

        Polars rejects invalid UTF-8 and skips blank lines; either way the row count
        no longer matches the line count and the block takes the line-by-line path.
        """
        lines = data.count(b"\n") + (not data.endswith(b"\n"))
        if not lines or data[:1] != b"{" or _non_string_value(text_field).search(data):
            return None
        try:
            df = pl.read_ndjson(io.BytesIO(data), infer_schema_length=None)
        except Exception:
            return None
        if text_field in df.columns and df.schema[text_field] != pl.String:
            return None  # numbers or objects as text, maybe mixed: judged line by line
        return df if df.height == lines else None

    def _line_by_line(
        self, data: bytes, first_line: int, bad_lines: frozenset[int], unit: Unit
    ) -> ReadBatch:
        """The slow path for blocks with blank or malformed lines: each line judged alone."""
        lines, numbers = split_block(data, first_line)
        good, good_numbers, rej_pos, rej_text, rej_detail = [], [], [], [], []
        rej_reason: list[str] = []
        for line, number in zip(lines, numbers, strict=True):
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                rej_pos.append(number)
                rej_text.append(line.decode("utf-8", errors="replace"))
                rej_reason.append(f"{READ_STEP}:malformed_json")
                rej_detail.append(f"{unit.source}:{number}: malformed JSON: {e}")
                continue
            if not isinstance(obj, dict):
                rej_pos.append(number)
                rej_text.append(line.decode("utf-8", errors="replace"))
                rej_reason.append(f"{READ_STEP}:malformed_json")
                rej_detail.append(f"{unit.source}:{number}: a {type(obj).__name__}, not an object")
                continue
            text = obj.get(self.spec.text_field)
            if text is not None and not isinstance(text, str):
                rej_pos.append(number)
                rej_text.append(line.decode("utf-8", errors="replace"))
                rej_reason.append(f"{READ_STEP}:text_not_a_string")
                rej_detail.append(
                    f"{unit.source}:{number}: {self.spec.text_field!r} is a "
                    f"{type(text).__name__}, not a string"
                )
                continue
            good.append(obj)
            good_numbers.append(number)
        rejected = reject_records(
            unit.source,
            rej_pos,
            rej_text,
            rej_reason,
            rej_detail,
        )
        if not good:
            return ReadBatch(pl.DataFrame(), rejected)
        raw = _frame_from_objects(good)
        positions = pl.Series(good_numbers, dtype=pl.Int64)
        batch = to_documents(
            raw, self.spec, unit.source, positions, flags_for(good_numbers, first_line, bad_lines)
        )
        return ReadBatch(batch.documents, pl.concat([rejected, batch.rejected]))


@functools.cache
def _non_string_value(field: str) -> re.Pattern[bytes]:
    """Matches `"field": <not a string or null>`: Polars would stringify a number, list or
    object under a text column; such blocks are judged line by line (and rejected)."""
    key = re.escape(json.dumps(field).encode())
    return re.compile(key + rb"\s*:\s*(?![\s\"]|null)")


def _frame_from_objects(objs: list[dict]) -> pl.DataFrame:
    """A frame from parsed objects; values of conflicting types fall back to JSON strings."""
    try:
        return pl.read_ndjson(
            io.BytesIO(b"\n".join(orjson.dumps(o) for o in objs)), infer_schema_length=None
        )
    except Exception:
        keys = list(dict.fromkeys(k for o in objs for k in o))
        cols = {
            k: [
                v if isinstance(v, str) or v is None else orjson.dumps(v).decode()
                for v in (o.get(k) for o in objs)
            ]
            for k in keys
        }
        return pl.DataFrame(cols, schema=dict.fromkeys(keys, pl.String()))
