"""A corpuskit output folder as training data: its Parquet shards, split by document id.

A trainer names what it reads as roles (`text` for a language model, `source` and
`target` for pairs), each a column of the shards or a key of their `meta` JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from corpuskit.output.layout import OutputLayout
from corpuskit.schema import field_expr
from corpuskit.training.config import TrainConfigError
from corpuskit.training.split import SPLITS, SplitConfig, assign_split


class CorpusData:
    """The kept documents of a finished `corpuskit run` (data/*.parquet), read in batches.

    Every batch carries a `split` column ('train' | 'val' | 'test') computed from the
    document id, so a trainer reads exactly its split and nothing else. `fields` maps the
    roles a trainer reads to columns or `meta` keys (default: `text` from `text_field`).
    """

    def __init__(
        self,
        root: str | Path,
        split: SplitConfig | None = None,
        text_field: str = "text",
        fields: Mapping[str, str] | None = None,
    ) -> None:
        self.layout = OutputLayout(root)
        self.root = self.layout.root
        self.split = split or SplitConfig()
        self.text_field = text_field
        self.fields = dict(fields) if fields else {"text": text_field}
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
        names = pq.read_schema(files[0]).names
        if "id" not in names:
            raise TrainConfigError(f"data: {files[0]} has no column 'id' (columns: {names})")
        wanted = [f for f in self.fields.values() if f not in names]
        known = _meta_keys(files[0]) if "meta" in names and wanted else set()
        for role, name in self.fields.items():
            if name not in names and name not in known:
                where = f"; meta keys: {sorted(known)}" if known else ""
                raise TrainConfigError(
                    f"data: {files[0]} has no column or meta key {name!r} for the {role} "
                    f"(columns: {names}{where})"
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
        if self.fields != {"text": self.text_field}:
            h.update(json.dumps(self.fields, sort_keys=True).encode())
        return h.hexdigest()

    def batches(self, split: str | None = None, batch_rows: int = 16_384) -> Iterator[pl.DataFrame]:
        """(id, one column per role, split) frames in shard order; `split` keeps that split.

        A role's value is a string, "" where the document lacks it.
        """
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        for path in self.files:
            reader = pq.ParquetFile(path)
            names = reader.schema_arrow.names
            columns = list(dict.fromkeys(["id", *self._columns(names)]))
            for record_batch in reader.iter_batches(batch_size=batch_rows, columns=columns):
                frame = pl.from_arrow(record_batch)
                assert isinstance(frame, pl.DataFrame)
                frame = frame.select(
                    pl.col("id").cast(pl.String()),
                    *(
                        field_expr(name, names).fill_null("").alias(role)
                        for role, name in self.fields.items()
                    ),
                ).with_columns(assign_split(frame["id"].cast(pl.String()), self.split))
                if split is not None:
                    frame = frame.filter(pl.col("split") == split)
                if frame.height:
                    yield frame

    def _columns(self, names: list[str]) -> list[str]:
        """The shard columns the roles read: their own, or `meta` for meta keys."""
        return [f if f in names else "meta" for f in self.fields.values()]

    def texts(
        self, split: str, batch_rows: int = 16_384, role: str = "text"
    ) -> Iterator[list[str]]:
        """One role's values (default: the text) in one split, up to `batch_rows` at a time."""
        if role not in self.fields:
            raise ValueError(f"this corpus is read as {sorted(self.fields)}, not {role!r}")
        for frame in self.batches(split, batch_rows):
            yield frame[role].to_list()

    def counts(self) -> dict[str, int]:
        """Documents per split."""
        out = dict.fromkeys(SPLITS, 0)
        for frame in self.batches():
            for name, n in frame.group_by("split").len().iter_rows():
                out[name] += n
        return out


def _meta_keys(path: Path, rows: int = 1000) -> set[str]:
    """Keys of the `meta` JSON in the first rows of a shard (enough to find a field)."""
    reader = pq.ParquetFile(path)
    keys: set[str] = set()
    for batch in reader.iter_batches(batch_size=rows, columns=["meta"]):
        for meta in batch.column(0).to_pylist():
            try:
                obj = json.loads(meta) if meta else None
            except ValueError:
                continue
            if isinstance(obj, dict):
                keys.update(obj)
        break
    return keys
