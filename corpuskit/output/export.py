"""`corpuskit export`: a finished run's kept shards as JSON Lines or a Hugging Face
`datasets` folder (`datasets.load_dataset(DIR)` reads it; no `datasets` needed to write it)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl

from corpuskit.output.layout import read_manifest


def export_run(output: str | Path, to: str, directory: str | Path) -> list[Path]:
    """Write the kept documents of the run in `output` under `directory`; the files written."""
    manifest = read_manifest(output)
    shards = [Path(output) / s["file"] for s in manifest["shards"]]
    target = Path(directory)
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty; choose an empty or new folder")
    if to == "jsonl":
        return _jsonl(shards, target)
    if to == "hf":
        return _hf(shards, target, manifest)
    raise ValueError(f"unknown export format {to!r}; available: jsonl, hf")


def _jsonl(shards: list[Path], target: Path) -> list[Path]:
    """One `data-NNNNN.jsonl` per shard, row group by row group (memory: one row group)."""
    import pyarrow.parquet as pq

    target.mkdir(parents=True, exist_ok=True)
    out = []
    for i, shard in enumerate(shards):
        path = target / f"data-{i:05d}.jsonl"
        f = pq.ParquetFile(shard)
        with path.open("wb") as fh:
            for g in range(f.metadata.num_row_groups):
                pl.from_arrow(f.read_row_group(g)).write_ndjson(fh)
        out.append(path)
    return out


def _hf(shards: list[Path], target: Path, manifest: dict) -> list[Path]:
    """`data/train-NNNNN-of-NNNNN.parquet` (hard links where the filesystem allows, else
    copies) and a README whose YAML header declares the split, as the Hub lays datasets out."""
    data = target / "data"
    data.mkdir(parents=True, exist_ok=True)
    out = []
    for i, shard in enumerate(shards):
        path = data / f"train-{i:05d}-of-{len(shards):05d}.parquet"
        try:
            os.link(shard, path)
        except OSError:
            shutil.copyfile(shard, path)
        out.append(path)
    t = manifest["totals"]
    card = (
        "---\nconfigs:\n- config_name: default\n  data_files:\n"
        "  - split: train\n    path: data/train-*.parquet\n---\n\n"
        f"Exported by corpuskit {manifest.get('corpuskit_version', '')} from a run of "
        f"`{manifest.get('recipe_path') or 'a recipe'}`: {t['kept']:,} documents kept of "
        f"{t['read']:,} read.\n\nColumns: {json.dumps(manifest.get('schema', {}))}\n"
    )
    readme = target / "README.md"
    readme.write_text(card, encoding="utf-8")
    return [*out, readme]
