"""SGML-style tagged records: `<doc id=1><title>…</title><text>…</text></doc>`, one per document.

Corpora such as LCSTS (`<doc id=N><summary>…</summary><short_text>…</short_text></doc>`)
and the TREC collections (`<DOC><DOCNO>…</DOCNO><TEXT>…</TEXT></DOC>`) are not valid
XML (unquoted attributes, bare `&`), so they are read by a tolerant scanner instead of an
XML parser. Every top-level element is a record; its attributes and child elements are
its fields (values trimmed, entities decoded, repeated children joined by a blank line);
a record without child elements has its content as the field `text`. Text outside any
record and an unclosed record at the end are rejected with the line they start on.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from corpuskit.readers.base import READ_STEP, ReadBatch, Reader, Unit, reject_records, to_documents
from corpuskit.readers.csv import CsvReader
from corpuskit.readers.encoding import decode_block
from corpuskit.readers.lines import DECODE_FLAG
from corpuskit.readers.text import _read_all

ELEMENT = re.compile(r"<([A-Za-z][\w.:-]*)(\s[^<>]*)?>(.*?)</\1\s*>", re.DOTALL)
ATTRIBUTE = re.compile(r"([A-Za-z_][\w.:-]*)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'>]+)")
# What may stand between records: whitespace, comments, <?xml …?>, <!DOCTYPE …>.
FILLER = re.compile(r"(?:\s+|<!--.*?-->|<\?.*?\?>|<![A-Za-z][^<>]*>)*", re.DOTALL)


class SgmlReader(Reader):
    """Tagged records (LCSTS, TREC): each top-level element a document, children its fields."""

    format = "sgml"
    extensions = (".sgml", ".sgm")

    # One unit per file, its encoding detected (or configured) per file, as for CSV.
    plan = CsvReader.plan

    def read(self, unit: Unit) -> Iterator[ReadBatch]:
        data, truncated = _read_all(Path(unit.path))
        decoded = decode_block(data, unit.encoding or "utf-8")
        text = decoded.data.decode("utf-8")
        starts = [0, *(m.end() for m in re.finditer("\n", text))]

        def line_of(offset: int, gap: str = "") -> int:
            """The line of `offset`, or of the first non-blank character of `gap` there."""
            return bisect_right(starts, offset + len(gap) - len(gap.lstrip()))

        records, positions, flags, rejects = [], [], [], []
        pos = 0
        for m in ELEMENT.finditer(text):
            if unit.max_records is not None and len(records) >= unit.max_records:
                break
            gap = text[pos : m.start()]
            if FILLER.fullmatch(gap) is None:
                rejects.append(self._reject(unit, line_of(pos, gap), gap, "text outside a record"))
            pos = m.end()
            first, last = line_of(m.start()), line_of(m.end())
            records.append(_fields(m))
            positions.append(first)
            bad = any(first - 1 <= i < last for i in decoded.bad_lines)
            flags.append([DECODE_FLAG] if bad else [])
        tail = text[pos:]
        if FILLER.fullmatch(tail) is None and unit.max_records != len(records):
            why = "an unclosed record" if "<" in tail else "text outside a record"
            rejects.append(self._reject(unit, line_of(pos, tail), tail, why, truncated is not None))
        elif truncated is not None:
            rejects.append(self._reject(unit, line_of(pos, tail), tail, truncated.detail, True))
        names = list(dict.fromkeys(k for r in records for k in r))
        raw = pl.DataFrame(records, schema=dict.fromkeys(names, pl.String()))
        batch = to_documents(
            raw,
            self.spec,
            unit.source,
            pl.Series(positions, dtype=pl.Int64),
            pl.Series(flags, dtype=pl.List(pl.String())),
        )
        yield ReadBatch(batch.documents, pl.concat([*rejects, batch.rejected]))

    def _reject(
        self, unit: Unit, line: int, text: str, why: str, truncated: bool = False
    ) -> pl.DataFrame:
        reason = "truncated_input" if truncated else "malformed_record"
        return reject_records(
            unit.source,
            [line],
            [text.strip()[:10_000]],
            [f"{READ_STEP}:{reason}"],
            [f"{unit.source}:{line}: {why}"],
        )


def _fields(record: re.Match[str]) -> dict[str, str]:
    """A record's attributes, then its child elements (or its content as `text`)."""
    out = {k: html.unescape(v.strip("\"'")) for k, v in ATTRIBUTE.findall(record[2] or "")}
    children = list(ELEMENT.finditer(record[3]))
    if not children:
        out["text"] = html.unescape(record[3].strip())
        return out
    values: dict[str, list[str]] = {}
    for child in children:
        values.setdefault(child[1], []).append(html.unescape(child[3].strip()))
    out.update({k: "\n\n".join(v) for k, v in values.items()})
    return out
