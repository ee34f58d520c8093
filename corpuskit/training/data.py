"""A corpuskit output folder as training data: its Parquet shards, split by document id."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from corpuskit.output.layout import OutputLayout
from corpuskit.training.config import TrainConfigError
from corpuskit.training.split import SPLITS, SplitConfig, assign_split


class CorpusData:
    """The kept documents of a finished `corpuskit run` (data/*.parquet), read in batches.

    Every batch carries a `split` column ('train' | 'val' | 'test') computed from the
    document id, so a trainer reads exactly its split and nothing else.
    """

    def __init__(
        self, root: str | Path, split: SplitConfig | None = None, text_field: str = "text"
    ) -> None:
        self.layout = OutputLayout(root)
        self.root = self.layout.root
        self.split = split or SplitConfig()
        self.text_field = text_field
        self.files = self._find_files()

    def _find_files(self) -> list[Path]:
        root = self.root
        if not root.is_dir():
            raise TrainConfigError(
                f"data: {root} is not a folder; run `corpuskit run RECIPE` to make one"
            )
        manifest = self.layout.manifest
        if manifest.exists():
            shards = json.loads(manifest.read_text(encoding="utf-8")).get("shards", [])
            files = [root / s["file"] for s in shards if s.get("rows", 1)]
            missing = [str(f) for f in files if not f.exists()]
            if missing:
                raise TrainConfigError(
                    f"data: {root}: shards in the manifest are missing: " + ", ".join(missing[:3])
                )
        elif self.layout.run_file.exists():
            raise TrainConfigError(
                f"data: {root} holds an unfinished corpuskit run; run the recipe again to finish it"
            )
        else:  # a folder of Parquet shards from elsewhere
            files = sorted(self.layout.data.glob("*.parquet")) or sorted(root.glob("*.parquet"))
        if not files:
            raise TrainConfigError(f"data: {root} holds no Parquet shards (data/*.parquet)")
        schema = pq.read_schema(files[0])
        for column in ("id", self.text_field):
            if column not in schema.names:
                raise TrainConfigError(
                    f"data: {files[0]} has no column {column!r} (columns: {schema.names})"
                )
        return files

    def fingerprint(self) -> str:
        """Changes whenever the corpus may have: manifest bytes, else shard names, sizes, mtimes."""
        h = hashlib.sha256()
        if self.layout.manifest.exists():
            h.update(self.layout.manifest.read_bytes())
        for f in self.files:
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        h.update(self.split.model_dump_json().encode() + self.text_field.encode())
        return h.hexdigest()

    def batches(self, split: str | None = None, batch_rows: int = 16_384) -> Iterator[pl.DataFrame]:
        """(id, text, split) frames in shard order; `split` keeps only that split's rows."""
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        for path in self.files:
            reader = pq.ParquetFile(path)
            for record_batch in reader.iter_batches(
                batch_size=batch_rows, columns=["id", self.text_field]
            ):
                frame = pl.from_arrow(record_batch)
                assert isinstance(frame, pl.DataFrame)
                frame = frame.select(
                    pl.col("id").cast(pl.String()),
                    pl.col(self.text_field).cast(pl.String()).fill_null("").alias("text"),
                ).with_columns(assign_split(frame["id"].cast(pl.String()), self.split))
                if split is not None:
                    frame = frame.filter(pl.col("split") == split)
                if frame.height:
                    yield frame

    def texts(self, split: str, batch_rows: int = 16_384) -> Iterator[list[str]]:
        """The texts of one split, as lists of up to `batch_rows` strings."""
        for frame in self.batches(split, batch_rows):
            yield frame["text"].to_list()

    def counts(self) -> dict[str, int]:
        """Documents per split."""
        out = dict.fromkeys(SPLITS, 0)
        for frame in self.batches():
            for name, n in frame.group_by("split").len().iter_rows():
                out[name] += n
        return out
