"""remove_frequent_lines: drop lines that recur across many documents (site boilerplate).

The way CCNet removes boilerplate: a line that appears in many documents (navigation, cookie
notices, "Share this article", a newspaper's footer) is not content. A line's key is its
normalized text (lowercased, digits as 0, punctuation and symbols dropped, whitespace
collapsed), hashed (64-bit) together with its scope: the whole corpus, the document's
`source`, or the host of its `url`.

`fit` is a map and a reduce over the `Corpus` it is given (threads locally, Ray tasks on
Ray), with bounded memory:

1. map, a task per row group of the stage input: explode documents into lines, hash the
   keys, count each key once per document, and write the documents per hash to a spill
   file under the corpus's work folder, split into hash partitions (`hash % partitions`);
2. reduce, a task per hash partition: sum that partition's counts over every spill file,
   keeping the hashes seen in at least `min_docs` documents.

The state is only the sorted set of frequent hashes. `apply` hashes every line the same way
and removes those in the set; a document left without text is rejected (`empty`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import polars as pl
from pydantic import Field

from corpuskit.corpus import Corpus
from corpuskit.dedup.parts import (
    Part,
    corpus_parts,
    map_parts,
    partition_count,
    read_partition,
    spill_dir,
    write_partitioned,
)
from corpuskit.schema import REASON_COLUMN
from corpuskit.steps.base import GlobalStep, StepConfig

_SEED = 0x5EED_11E5
_HOST = r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^@/?#]*@)?([^/:?#]+)"


class FrequentLinesConfig(StepConfig):
    # a line found in at least this many documents (of its scope) is removed everywhere
    min_docs: int = Field(3, ge=2)
    # where documents are counted: the whole corpus, per `source`, or per host of `url`
    # (documents without a URL count under their source)
    scope: Literal["corpus", "source", "host"] = "corpus"
    # lines shorter than this (characters, stripped) are never counted nor removed, so
    # "Yes." or a speaker's name in a play is spared
    min_chars: int = Field(20, ge=1)
    # fit: hash partitions of the spill files, a reduce task each (default: enough for the
    # backend's parallelism, at most 2M counts each); never changes the result
    partitions: int | None = Field(None, ge=1, le=4096)


def normalized(line: pl.Expr) -> pl.Expr:
    """CCNet-style line key: lowercase, digits as 0, no punctuation/symbols, single spaces."""
    return (
        line.str.to_lowercase()
        .str.replace_all(r"[0-9]", "0")
        .str.replace_all(r"[\p{P}\p{S}]+", "")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


class RemoveFrequentLines(GlobalStep):
    """Remove lines repeated across many documents (per corpus, source or host), as CCNet."""

    Config = FrequentLinesConfig
    reads: ClassVar[tuple[str, ...]] = ("text", "source", "url")
    columns: ClassVar[dict[str, pl.DataType]] = {
        "frequent_lines_removed": pl.Int32(),
        "frequent_chars_removed": pl.Int32(),
    }

    # --- shared by fit and apply -------------------------------------------------------
    def _scope(self) -> pl.Expr:
        c: FrequentLinesConfig = self.config
        if c.scope == "corpus":
            return pl.lit("")
        source = pl.col("source").fill_null("")
        if c.scope == "source":
            return source
        host = pl.col("url").str.extract(_HOST, 1).str.to_lowercase()
        return pl.when(host.is_not_null()).then(pl.lit("host:") + host).otherwise(source)

    def _lines(self, batch: pl.DataFrame) -> pl.DataFrame:
        """One row per line: doc (row index), line, and the key hash (null: never counted)."""
        c: FrequentLinesConfig = self.config
        frame = batch.select(
            doc=pl.int_range(pl.len(), dtype=pl.UInt32),
            scope=self._scope() if c.scope != "corpus" else pl.lit(""),
            line=pl.col("text").fill_null("").str.split("\n"),
        ).explode("line")
        key = normalized(pl.col("line"))
        eligible = (pl.col("line").str.strip_chars().str.len_chars() >= c.min_chars) & (key != "")
        hashed = pl.concat_str([pl.col("scope"), key], separator="\x1f").hash(seed=_SEED)
        return frame.select(
            "doc", "line", h=pl.when(eligible).then(hashed).otherwise(pl.lit(None, pl.UInt64))
        )

    # --- fit ------------------------------------------------------------------------------
    def fit(self, corpus: Corpus) -> pl.Series:
        c: FrequentLinesConfig = self.config
        columns = ["text", "source"] + (["url"] if c.scope == "host" else [])
        parts = corpus_parts(corpus.files)
        frequent: list[pl.Series] = []
        partitions = c.partitions or partition_count(corpus, sum(p.rows for p in parts))
        with spill_dir(corpus.workdir / f"frequent-{self.name}") as spill:

            def count(i: int, part: Part) -> Path:  # map: documents per line hash
                lines = self._lines(part.read(columns)).drop_nulls("h")
                per_doc = lines.select("doc", "h").unique()
                counts = per_doc.group_by("h").agg(n=pl.len().cast(pl.Int64))
                path = spill / f"counts-{i:06d}.parquet"
                return write_partitioned(counts, pl.col("h"), partitions, path)

            files = map_parts(corpus, count, parts)

            def frequent_in(p: int) -> pl.Series:  # reduce: one hash partition's sums
                summed = read_partition(files, p).group_by("h").agg(pl.col("n").sum())
                return summed.filter(pl.col("n") >= c.min_docs)["h"]

            if files:
                frequent = [h for h in corpus.map(frequent_in, range(partitions)) if len(h)]
        if not frequent:
            return pl.Series("h", [], dtype=pl.UInt64)
        return pl.concat(frequent).sort()

    # --- apply ----------------------------------------------------------------------------
    def apply(self, batch: pl.DataFrame, state: Any) -> pl.DataFrame:
        frequent: pl.Series = state
        lines = self._lines(batch).with_columns(
            drop=pl.col("h").is_in(frequent.implode()).fill_null(False)
        )
        docs = lines.group_by("doc", maintain_order=True).agg(
            new=pl.col("line").filter(~pl.col("drop")).str.join("\n"),
            removed=pl.col("drop").sum().cast(pl.Int32),
        )
        new = docs["new"]
        chars = (batch["text"].fill_null("").str.len_chars() - new.str.len_chars()).cast(pl.Int32)
        removed = docs["removed"]
        emptied = (new.str.strip_chars() == "") & (removed > 0)
        self.count("lines_removed", removed.sum() or 0)
        self.count("chars_removed", chars.sum() or 0)
        self.count("docs_changed", (removed > 0).sum())
        return batch.with_columns(
            # a document left empty is rejected with its original text, for review
            pl.when(emptied).then(pl.col("text")).otherwise(new).alias("text"),
            removed.alias("frequent_lines_removed"),
            chars.alias("frequent_chars_removed"),
            pl.when(emptied)
            .then(pl.lit(f"{self.name}:empty"))
            .otherwise(pl.lit(None, dtype=pl.String))
            .alias(REASON_COLUMN),
        )

    def save_state(self, state: Any, path: Path) -> None:
        """The frequent hashes as a one-column Parquet file (compact, inspectable)."""
        pl.DataFrame({"h": state}).write_parquet(path)

    def load_state(self, path: Path) -> Any:
        return pl.read_parquet(path)["h"]
