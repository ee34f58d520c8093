"""Dedup against a reference corpus (e.g. an evaluation set): a cached index, then matching.

The index of a reference (a folder, file or glob of Parquet files with a text column) holds
what matching needs and nothing else:

- `docs.parquet`: ref_row, ref_id, and the 128-bit hash (h1, h2) of the normalized text;
- `bands-*.parquet`: ref_row as `row` and its LSH band hashes (a corpus sketch's layout).

It is built once and cached under `cache_dir/<key>/`, where the key hashes every
reference file's path, size and modification time, the columns used, every parameter that
changes a hash, the Polars version (its string hash) and INDEX_VERSION. A changed file or
parameter gives a new key, so a stale index is never used. The folder is written under a
temporary name and renamed when complete.

Matching: exact matches join the corpus's text hashes with the index's (in the map over
the corpus's parts, so only matches come back); near matches join band hashes (a task
per band, `lsh.band_matches`), then (with `verify`) keep pairs whose exact shingle Jaccard
reaches the threshold; a document matched both ways is reported as exact. Each matched
document names one reference document (exact: the first; near: the most similar).

Building the index and matching are maps over parts through the fit's `Corpus.map`: on
Ray they are Ray tasks on any node, so the cache folder must then be on a filesystem
every node sees (or hold the index already).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from corpuskit.corpus import Corpus
from corpuskit.dedup.hashing import text_hash_exprs
from corpuskit.dedup.lsh import LSHParams, band_matches, sketch_corpus
from corpuskit.dedup.normalize import Normalize, normalized
from corpuskit.dedup.parts import (
    Part,
    corpus_parts,
    map_parts,
    read_rows,
    schema_names,
    spill_dir,
)
from corpuskit.dedup.shingles import Shingling
from corpuskit.dedup.verify import jaccard, shingle_sets

INDEX_VERSION = 1
MATCH_SCHEMA = {
    "row": pl.UInt32,
    "id": pl.String,
    "ref_id": pl.String,
    "reason": pl.String,
    "jaccard": pl.Float64,
}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "corpuskit" / "dedup_against"


def reference_files(spec: str) -> list[Path]:
    """The Parquet files of a reference: a folder (searched recursively), a file or a glob."""
    path = Path(spec).expanduser()
    if path.is_dir():
        files = sorted(path.rglob("*.parquet"))
    elif path.is_file():
        files = [path]
    else:
        files = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
    return [f for f in files if f.is_file() and not f.name.startswith(".")]


@dataclass(frozen=True)
class IndexSpec:
    """Everything an index depends on besides the reference files themselves."""

    text_column: str
    id_column: str | None
    exact: bool
    near: bool
    normalize: Normalize
    shingling: Shingling
    lsh: LSHParams

    def key_payload(self) -> dict:
        return {
            "text_column": self.text_column,
            "id_column": self.id_column,
            "exact": self.exact,
            "normalize": self.normalize.model_dump() if self.exact else None,
            "near": self.near,
            "shingling": _shingling_dict(self.shingling) if self.near else None,
            "lsh": asdict(self.lsh) if self.near else None,
        }


def _shingling_dict(sh: Shingling) -> dict:
    d = asdict(sh)
    d["normalize"] = sh.normalize.model_dump()
    return d


@dataclass
class ReferenceIndex:
    folder: Path
    files: list[Path]  # the reference Parquet files, in index order
    text_column: str
    built: bool  # built by this call (False: found in the cache)

    @property
    def docs(self) -> Path:
        return self.folder / "docs.parquet"

    def band_files(self) -> list[Path]:
        return sorted(self.folder.glob("bands-*.parquet"))

    def parts(self) -> list[Part]:
        return corpus_parts(self.files, self.text_column)


def index_key(files: list[Path], spec: IndexSpec) -> str:
    stamp = []
    for f in files:
        st = f.stat()
        stamp.append([str(f.resolve()), st.st_size, st.st_mtime_ns])
    payload = {
        "files": stamp,
        "spec": spec.key_payload(),
        "polars": pl.__version__,
        "version": INDEX_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def load_or_build_index(
    corpus: Corpus, files: list[Path], spec: IndexSpec, cache_dir: Path
) -> ReferenceIndex:
    """The cached index for these reference files and parameters, built first if absent
    (with maps through `corpus.map`)."""
    folder = cache_dir / index_key(files, spec)[:24]
    if (folder / "index.json").exists():
        return ReferenceIndex(folder, files, spec.text_column, built=False)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        started = time.perf_counter()
        parts = corpus_parts(files, spec.text_column)
        names = schema_names(files)
        has_id = bool(spec.id_column) and spec.id_column in names
        columns = _text_columns(names) + ([spec.id_column] if has_id else [])
        ref_id = (
            pl.col(spec.id_column).cast(pl.String)
            if has_id
            else pl.col("_file") + pl.lit(":") + pl.col("row").cast(pl.String)
        )
        hashes = text_hash_exprs(normalized(pl.col("text").fill_null(""), spec.normalize))

        def docs(_: int, part: Part) -> pl.DataFrame:
            df = part.read(columns).with_columns(_file=pl.lit(Path(part.path).name))
            cols = [pl.col("row").alias("ref_row"), ref_id.alias("ref_id")]
            return df.select(*cols, *(hashes if spec.exact else []))

        frames = map_parts(corpus, docs, parts)
        table = pl.concat(frames) if frames else pl.DataFrame(schema={"ref_row": pl.UInt32})
        table.write_parquet(tmp / "docs.parquet")
        if spec.near and parts:
            sketch_corpus(corpus, parts, _text_columns(names), spec.shingling, spec.lsh, tmp)
        meta = {
            "files": [str(f) for f in files],
            "documents": table.height,
            "spec": spec.key_payload(),
            "built_at": time.time(),
            "seconds": round(time.perf_counter() - started, 3),
        }
        (tmp / "index.json").write_text(json.dumps(meta, indent=1))
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished the same index first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ReferenceIndex(folder, files, spec.text_column, built=True)


def _text_columns(names: list[str]) -> list[str]:
    return ["text", *(["lang"] if "lang" in names else [])]


def match_reference(
    corpus: Corpus,
    index: ReferenceIndex,
    spec: IndexSpec,
    threshold: float,
    verify: bool,
    step: str,
) -> pl.DataFrame:
    """`row, id, ref_id, reason (exact|near), jaccard` for corpus documents that match."""
    parts = corpus_parts(corpus.files)
    text_cols = _text_columns(schema_names(corpus.files))
    ref_docs = pl.read_parquet(index.docs)
    found: list[pl.DataFrame] = []
    if spec.exact and parts and ref_docs.height:
        hashes = text_hash_exprs(normalized(pl.col("text").fill_null(""), spec.normalize))
        ref = ref_docs.group_by("h1", "h2").agg(pl.col("ref_row").min())

        def one(_: int, part: Part) -> pl.DataFrame:  # the join runs in the map task
            hashed = part.read(["id", "text"]).select("row", "id", *hashes)
            return hashed.join(ref, on=["h1", "h2"]).select("row", "id", "ref_row")

        exact = pl.concat(map_parts(corpus, one, parts))
        found.append(exact.select("row", "id", "ref_row", reason=pl.lit("exact"), jaccard=1.0))
    if spec.near and parts and ref_docs.height:
        with spill_dir(corpus.workdir / f"against-{step}") as bands:
            band_files, _ = sketch_corpus(corpus, parts, text_cols, spec.shingling, spec.lsh, bands)
            pairs = band_matches(corpus, band_files, index.band_files(), spec.lsh.bands)
        if found:  # exact matches need no near check
            pairs = pairs.join(found[0].select("row"), on="row", how="anti")
        if verify and pairs.height:
            sets = shingle_sets(corpus, parts, pairs["row"].to_numpy(), text_cols, spec.shingling)
            ref_sets = shingle_sets(
                corpus,
                index.parts(),
                pairs["ref_row"].to_numpy(),
                _text_columns(schema_names(index.files)),
                spec.shingling,
            )
            pairs = jaccard(pairs, sets, ref_sets, a="row", b="ref_row")
            pairs = pairs.filter(pl.col("jaccard") >= threshold)
        elif pairs.height:
            pairs = pairs.with_columns(jaccard=pl.lit(None, dtype=pl.Float64))
        if pairs.height:
            best = (
                pairs.sort(
                    ["row", "jaccard", "ref_row"],
                    descending=[False, True, False],
                    nulls_last=True,
                )
                .group_by("row", maintain_order=True)
                .first()
            )
            ids = read_rows(corpus, parts, best["row"].to_numpy(), ["id"])
            best = best.join(ids, on="row")
            found.append(
                best.select("row", "id", "ref_row", reason=pl.lit("near"), jaccard="jaccard")
            )
    if not found:
        return pl.DataFrame(schema=MATCH_SCHEMA)
    out = pl.concat(found, how="vertical_relaxed").join(
        ref_docs.select("ref_row", "ref_id"), on="ref_row", how="left"
    )
    return out.select(list(MATCH_SCHEMA)).cast(MATCH_SCHEMA).sort("row")
