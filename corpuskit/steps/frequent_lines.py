"""remove_frequent_lines: drop lines that recur across many documents (site boilerplate).

The way CCNet removes boilerplate: a line that appears in many documents (navigation, cookie
notices, "Share this article", a newspaper's footer) is not content. A line's key is its
normalized text (lowercased, digits as 0, punctuation and symbols dropped, whitespace
collapsed), hashed (64-bit) together with its scope: the whole corpus, the document's
`source`, or the host of its `url`.

`fit` runs in the driver, shard by shard, with bounded memory:

1. per shard: explode documents into lines, hash the keys, count each key once per
   document (`unique` on document and hash), and count documents per hash;
2. these partial counts are buffered, summed, and spilled to Parquet files partitioned by
   hash (`hash % partitions`) under the run's work folder once the buffer holds
   `spill_rows` rows;
3. each partition is then summed on its own, keeping the hashes seen in at least
   `min_docs` documents.

The state is only the sorted set of frequent hashes. `apply` hashes every line the same way
and removes those in the set; a document left without text is rejected (`empty`).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any, ClassVar, Literal

import polars as pl
from pydantic import Field

from corpuskit.schema import REASON_COLUMN
from corpuskit.steps.base import Corpus, GlobalStep, StepConfig, StepResult

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
    # fit: hash partitions of the spill files (default: one per 128 MiB of input, 4..512)
    partitions: int | None = Field(None, ge=1, le=4096)
    # fit: partial counts kept in memory before they are spilled to disk
    spill_rows: int = Field(4_000_000, ge=1)


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
    def _partitions(self, corpus: Corpus) -> int:
        c: FrequentLinesConfig = self.config
        if c.partitions is not None:
            return c.partitions
        size = sum(f.stat().st_size for f in corpus.files if f.exists())
        return max(4, min(512, math.ceil(size / (128 << 20))))

    def fit(self, corpus: Corpus) -> pl.Series:
        c: FrequentLinesConfig = self.config
        spill = Path(corpus.workdir) / "frequent_lines"
        shutil.rmtree(spill, ignore_errors=True)
        spill.mkdir(parents=True)
        parts = self._partitions(corpus)
        columns = ["text", "source"] + (["url"] if c.scope == "host" else [])
        buffer: list[pl.DataFrame] = []
        buffered = 0
        flushes = 0

        def flush() -> None:
            nonlocal buffer, buffered, flushes
            if not buffer:
                return
            counts = (
                pl.concat(buffer)
                .group_by("h")
                .agg(n=pl.col("n").sum())
                .with_columns(p=(pl.col("h") % parts).cast(pl.UInt32))
            )
            for (p,), part in counts.partition_by("p", as_dict=True).items():
                folder = spill / f"p{p:04d}"
                folder.mkdir(exist_ok=True)
                part.select("h", "n").write_parquet(folder / f"{flushes:06d}.parquet")
            flushes += 1
            buffer, buffered = [], 0

        for batch in corpus.iter_batches(columns):
            lines = self._lines(batch).drop_nulls("h")
            per_doc = lines.select("doc", "h").unique()
            counts = per_doc.group_by("h").agg(n=pl.len().cast(pl.UInt32))
            buffer.append(counts)
            buffered += counts.height
            if buffered >= c.spill_rows:
                flush()
        flush()
        frequent: list[pl.Series] = []
        for folder in sorted(spill.glob("p*")):
            found = (
                pl.scan_parquet(str(folder / "*.parquet"))
                .group_by("h")
                .agg(n=pl.col("n").sum())
                .filter(pl.col("n") >= c.min_docs)
                .select("h")
                .collect()
            )
            frequent.append(found["h"])
        shutil.rmtree(spill, ignore_errors=True)
        if not frequent:
            return pl.Series("h", [], dtype=pl.UInt64)
        return pl.concat(frequent).sort()

    # --- apply ----------------------------------------------------------------------------
    def apply(self, batch: pl.DataFrame, state: Any) -> StepResult:
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
        out = batch.with_columns(
            # a document left empty is rejected with its original text, for review
            pl.when(emptied).then(pl.col("text")).otherwise(new).alias("text"),
            removed.alias("frequent_lines_removed"),
            chars.alias("frequent_chars_removed"),
            pl.when(emptied)
            .then(pl.lit(f"{self.name}:empty"))
            .otherwise(pl.lit(None, dtype=pl.String))
            .alias(REASON_COLUMN),
        )
        counters = {
            "lines_removed": int(removed.sum() or 0),
            "chars_removed": int(chars.sum() or 0),
            "docs_changed": int((removed > 0).sum()),
        }
        return StepResult(out, counters)

    def save_state(self, state: Any, path: Path) -> None:
        """The frequent hashes as a one-column Parquet file (compact, inspectable)."""
        pl.DataFrame({"h": state}).write_parquet(path)

    def load_state(self, path: Path) -> Any:
        return pl.read_parquet(path)["h"]
