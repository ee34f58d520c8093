"""`label<TAB>text` lines, as in many classification corpora; the label goes to meta."""

from __future__ import annotations

import polars as pl

from corpuskit.readers.base import READ_STEP, ReadBatch, Unit, reject_frame, to_documents
from corpuskit.readers.lines import LineReader, flags_for


class LabelledTextReader(LineReader):
    """One document per line, `label<TAB>text`; the label is kept in meta under label_field."""

    format = "labelled_text"
    extensions = (".tsv.txt", ".labelled.txt")

    def parse(
        self, data: bytes, first_line: int, bad_lines: frozenset[int], unit: Unit
    ) -> ReadBatch:
        lines = pl.Series("line", data.decode("utf-8").split("\n"))
        frame = (
            pl.DataFrame({"line": lines})
            .with_columns(pos=pl.int_range(first_line, first_line + len(lines), dtype=pl.Int64))
            .with_columns(pl.col("line").str.strip_chars_end("\r"))
            .filter(pl.col("line").str.strip_chars() != "")
            .with_columns(parts=pl.col("line").str.split_exact("\t", 1))
            .unnest("parts")
        )
        ok = pl.col("field_1").is_not_null() & (pl.col("field_0").str.strip_chars() != "")
        good = frame.filter(ok)
        bad = frame.filter(~ok)
        label = self.spec.label_field
        raw = good.select(
            pl.col("field_1").alias(self.spec.text_field),
            pl.col("field_0").str.strip_chars().alias(label),
        )
        positions = good["pos"]
        batch = to_documents(
            raw,
            self.spec,
            unit.source,
            positions,
            flags_for(positions.to_list(), first_line, bad_lines),
        )
        rejects = reject_frame(
            bad.select(
                id=pl.lit(f"{unit.source}:") + pl.col("pos").cast(pl.String),
                text=pl.col("line"),
                source=pl.lit(unit.source),
            ),
            f"{READ_STEP}:missing_label",
            bad.select(
                pl.lit(f"{unit.source}:")
                + pl.col("pos").cast(pl.String)
                + pl.lit(": no TAB between label and text")
            ).to_series(),
        )
        return ReadBatch(batch.documents, pl.concat([rejects, batch.rejected]))
