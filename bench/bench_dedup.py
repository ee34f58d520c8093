"""MinHash dedup against its peers, side by side in one run, with ratios and quality.

    .venv/bin/python bench/bench_dedup.py --docs 100000 --workers 2
    .venv/bin/python bench/bench_dedup.py --only scale --scale-docs 100000,1000000

Three parts (--only picks some):

signatures  The same documents, one process, one thread each: datasketch used per document
            (Python shingles, then `MinHash(num_perm=128).update_batch(...)`, the usage its
            docs show) against corpuskit's batch shingling and vectorized signatures
            (`shingle_batch` + `signatures`, 1024 documents a batch; numba kernels where
            numba imports, and the numpy reference as an extra row). Prints docs/s from CPU
            time and from wall time (the dev box is shared: CPU time is the steadier one),
            how corpuskit's time splits between shingling and signatures, and checks on a
            sample that datasketch, fed corpuskit's shingle hash as its `hashfunc`, gives
            the same signatures. The kernels' one-time cost per process (numba's import and
            the load of the cached kernels, or their first compile) is paid in a warm-up
            before the timed runs, as a worker pays it once; it is measured in fresh
            processes and printed, with the ratio that counts it once.
e2e         JSONL in, deduplicated documents out, on the same input split into 8 files and
            the same number of worker processes: `corpuskit run` with minhash_dedup (into
            Parquet) against datatrove's four-stage pipeline (MinhashDedupSignature,
            MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter into JSONL), both
            with 14 bands x 8 rows (datatrove's default) and word 5-grams; corpuskit also
            verifies candidates (exact Jaccard >= 0.72 ~ (1/14)^(1/8)) and uses character
            5-grams for Chinese, datatrove its default English word tokenizer for all.
            Wall time and peak RSS of each process tree, the ratio, and precision/recall of
            the removed documents against the generator's planted pairs.
scale       `corpuskit run` with minhash_dedup at each --scale-docs size: seconds per
            document, its growth from the smallest size, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_CORPORA, generated_corpus, measure, python, table

THRESHOLD = 0.72  # (1/14) ** (1/8): the threshold datatrove's 14 x 8 banding implies
BANDS, ROWS = 14, 8

DATATROVE_SIDE = """
import sys

import xxhash
import datatrove.utils.hashes.xxhash as dt_xxhash

# datatrove 0.10.1 hashes str shingles with xxhash, whose 4.x bindings take bytes only:
# encode first (what xxhash 3 did inside), so datatrove runs with its default hash.
def xxh64(data):
    return xxhash.xxh64_intdigest(data.encode("utf-8") if isinstance(data, str) else data)

dt_xxhash.xxhash64 = xxh64

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig

inp, work, tasks, workers, bands, rows = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
cfg = MinhashConfig(n_grams=5, num_buckets=bands, hashes_per_bucket=rows,
                    hash_config=HashConfig(precision=64))

def run(name, pipeline, n):
    LocalPipelineExecutor(pipeline=pipeline, tasks=n, workers=min(workers, n),
                          logging_dir=f"{work}/logs/{name}").run()

if __name__ == "__main__":
    run("signatures", [JsonlReader(inp), MinhashDedupSignature(f"{work}/sigs", config=cfg)], tasks)
    run("buckets", [MinhashDedupBuckets(f"{work}/sigs", f"{work}/buckets", config=cfg)], bands)
    run("cluster", [MinhashDedupCluster(f"{work}/buckets", f"{work}/remove", config=cfg)], 1)
    run("filter", [JsonlReader(inp), MinhashDedupFilter(f"{work}/remove"),
                   JsonlWriter(f"{work}/out")], tasks)
"""


# ---------------------------------------------------------------- signatures

KERNEL_LOAD = """
import time
import corpuskit.dedup.hashing as h  # polars, numpy: loaded by any corpuskit process anyway
t, c = time.perf_counter(), time.process_time()
k = h.numba_kernels()
print(time.perf_counter() - t, time.process_time() - c, k is not None)
"""


def kernel_load_seconds(runs: int = 3) -> tuple[float, float]:
    """CPU seconds a fresh process spends on its first `numba_kernels()`: with numba's cache
    in place (median of `runs`), and compiling into an empty cache directory."""

    def once(env: dict) -> float:
        out = subprocess.run(
            [python(), "-c", KERNEL_LOAD], env=env, capture_output=True, text=True, check=True
        )
        _wall, cpu, ok = out.stdout.split()
        assert ok == "True", "the kernels did not load"
        return float(cpu)

    root = str(Path(__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    warm = statistics.median(once(env) for _ in range(runs))
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        cold = once({**env, "NUMBA_CACHE_DIR": cache})
    return warm, cold


def bench_signatures(data: Path, docs: int, batch: int, threads: int) -> dict:
    from datasketch import MinHash

    from corpuskit.dedup.hashing import numba_kernels
    from corpuskit.dedup.minhash import signatures, signatures_numpy
    from corpuskit.dedup.shingles import (
        Shingling,
        shingle_batch,
        shingle_batch_numpy,
        shingle_hash_py,
        shingles_py,
    )

    df = pl.read_ndjson(data, n_rows=docs).select("id", "text", "lang")
    texts, chars = df["text"].to_list(), (df["lang"] == "zh").to_list()
    perm = MinHash(num_perm=128).permutations

    def peer() -> None:
        for text, c in zip(texts, chars, strict=True):
            if c:
                t = "".join(ch for ch in text if not ch.isspace())
                shingles = [t[i : i + 5] for i in range(max(1, len(t) - 4))]
            else:
                w = text.lower().split()
                shingles = [" ".join(w[i : i + 5]) for i in range(max(1, len(w) - 4))]
            m = MinHash(num_perm=128, permutations=perm, scheme="affine32")
            m.update_batch([s.encode("utf-8") for s in shingles])

    sh = Shingling()
    frame = df.select("id", "text", "lang")

    split = {"shingles": 0.0, "signatures": 0.0}

    def ours() -> None:
        for offset in range(0, frame.height, batch):
            c0 = time.process_time()
            s, _ = shingle_batch(frame.slice(offset, batch), sh)
            c1 = time.process_time()
            signatures(s.hashes, s.offsets, 128)
            split["shingles"] += c1 - c0
            split["signatures"] += time.process_time() - c1

    def ours_numpy() -> None:
        for offset in range(0, frame.height, batch):
            s, _ = shingle_batch_numpy(frame.slice(offset, batch), sh)
            signatures_numpy(s.hashes, s.offsets, 128)

    def ours_threads() -> None:
        from concurrent.futures import ThreadPoolExecutor

        def one(offset: int) -> None:
            s, _ = shingle_batch(frame.slice(offset, batch), sh)
            signatures(s.hashes, s.offsets, 128)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(0, frame.height, batch)))

    kernels = numba_kernels()  # the once-per-process warm-up (measured below, in fresh ones)
    impl = "numba kernels" if kernels is not None else "numpy (numba unavailable)"
    rows = []
    timings = {}
    sides = (
        ("datasketch, per document", peer),
        (f"corpuskit, batch-wise ({impl})", ours),
        ("corpuskit, numpy reference", ours_numpy),
    )
    for name, fn in sides:
        fn() if name.startswith("corpuskit") else None  # warm caches (power tables)
        split.update(shingles=0.0, signatures=0.0)
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        timings[name] = (cpu, wall)
        if fn is ours:
            ours_split = dict(split)
        rows.append(
            {
                "side": name,
                "cpu s": f"{cpu:.2f}",
                "docs/s (cpu)": f"{docs / cpu:,.0f}",
                "wall s": f"{wall:.2f}",
                "docs/s (wall)": f"{docs / wall:,.0f}",
            }
        )
    # the way a fit runs it: batches in threads (numpy releases the GIL); wall time only
    w0 = time.perf_counter()
    ours_threads()
    threaded = time.perf_counter() - w0
    rows.append(
        {
            "side": f"corpuskit, {threads} threads",
            "cpu s": "",
            "docs/s (cpu)": "",
            "wall s": f"{threaded:.2f}",
            "docs/s (wall)": f"{docs / threaded:,.0f}",
        }
    )
    # same signatures as datasketch fed our shingle hash, on a sample
    sample = frame.head(200)
    s, mode = shingle_batch(sample, sh)
    sig = signatures(s.hashes, s.offsets, 128)
    same = 0
    for i, text in enumerate(sample["text"]):
        m = MinHash(num_perm=128, hashfunc=lambda x, c=bool(mode[i]): shingle_hash_py(x, c))
        m.update_batch(shingles_py(text, bool(mode[i]), 5))
        same += int((m.hashvalues == sig[:, i]).all())
    (pc, pw), (oc, ow), (nc, _) = timings.values()
    load, compile_s = kernel_load_seconds() if kernels is not None else (0.0, 0.0)
    print(f"\n## signatures: {docs:,} documents, 128 permutations, one thread each")
    print(table(rows))
    print(
        f"ratio corpuskit/datasketch: {pc / oc:.1f}x by CPU time, {pw / ow:.1f}x by wall time"
        f"  (target >= 20; numpy reference {pc / nc:.1f}x by CPU time)"
    )
    print(
        f"corpuskit CPU time: shingling {ours_split['shingles']:.3f} s, "
        f"signatures {ours_split['signatures']:.3f} s"
    )
    if kernels is not None:
        print(
            f"numba kernels, once per process (paid in the warm-up, not timed above): "
            f"{load:.2f} s CPU to import numba and load the cached kernels (median of 3 fresh "
            f"processes), {compile_s:.2f} s CPU to compile them into an empty cache"
        )
        print(
            f"counting the cached load once: {pc / (oc + load):.1f}x at {docs:,} documents; "
            f"it is under 10% of corpuskit's time from {9 * load * docs / oc:,.0f} documents"
        )
    print(f"datasketch with corpuskit's shingle hash gives identical signatures: {same}/200")
    print(f"with {threads} threads (wall): {pw / threaded:.1f}x one datasketch process")
    return {
        "docs": docs,
        "implementation": impl,
        "ratio_cpu": pc / oc,
        "ratio_wall": pw / ow,
        "ratio_numpy_cpu": pc / nc,
        "split_cpu": ours_split,
        "kernel_load_s": load,
        "kernel_compile_s": compile_s,
        "ratio_cpu_with_load": pc / (oc + load),
        "ratio_threads_wall": pw / threaded,
        "identical": same,
    }


# ---------------------------------------------------------------- end to end


def split_jsonl(data: Path, docs: int, folder: Path, parts: int) -> Path:
    """The first `docs` lines of `data` in `parts` files (both sides read the same files)."""
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-docs // parts)
    with data.open("rb") as fh:
        for p in range(parts):
            with (folder / f"part-{p:02d}.jsonl").open("wb") as out:
                for _ in range(per):
                    line = fh.readline()
                    if not line:
                        break
                    out.write(line)
    return folder


def run_corpuskit(src: Path, out: Path, workers: int, work: Path, tag: str):
    recipe = work / f"minhash-{tag}.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "input": {"path": str(src / "*.jsonl"), "format": "jsonl", "id_field": "id"},
                "output": {"path": str(out)},
                "executor": {"workers": workers},
                "steps": [
                    {
                        "minhash_dedup": {
                            "threshold": THRESHOLD,
                            "num_perm": BANDS * ROWS,
                            "bands": BANDS,
                            "rows": ROWS,
                        }
                    }
                ],
            }
        )
    )
    cmd = [python(), "-m", "corpuskit.cli", "run", str(recipe), "--overwrite"]
    return measure(f"corpuskit run (minhash_dedup, {workers} workers)", cmd)


def quality(removed: set[str], pairs: pl.DataFrame) -> dict:
    """Removed documents against the planted copies (`id_b`) with Jaccard >= THRESHOLD."""
    positives = set(pairs.filter(pl.col("jaccard") >= THRESHOLD)["id_b"])
    planted = set(pairs["id_b"])
    hit = len(removed & positives)
    return {
        "removed": len(removed),
        "precision": hit / max(len(removed), 1),
        "precision_any_planted": len(removed & planted) / max(len(removed), 1),
        "recall": hit / max(len(positives), 1),
    }


def bench_e2e(data: Path, docs: int, workers: int, work: Path) -> dict:
    src = split_jsonl(data, docs, work / "input", 8)
    ids = pl.scan_ndjson(str(src / "*.jsonl")).select("id").collect()["id"]
    pairs = pl.read_parquet(f"{data}.pairs.parquet").filter(pl.col("id_b").is_in(ids.implode()))
    dt_work = work / "datatrove"
    script = work / "datatrove_side.py"
    script.write_text(DATATROVE_SIDE)
    cmd = [python(), str(script), str(src), str(dt_work), "8", str(workers), str(BANDS), str(ROWS)]
    peer = measure(f"datatrove 4-stage MinHash ({workers} workers)", cmd)
    if peer.returncode != 0:
        sys.exit(f"datatrove failed:\n{peer.output[-3000:]}")
    kept_dt = pl.scan_ndjson(str(dt_work / "out" / "*.jsonl.gz")).select("id").collect()["id"]
    ours = run_corpuskit(src, work / "ck", workers, work, "e2e")
    if ours.returncode != 0:
        sys.exit(f"corpuskit failed:\n{ours.output[-3000:]}")
    kept_ck = pl.scan_parquet(str(work / "ck" / "data" / "*.parquet")).select("id").collect()["id"]
    all_ids = set(ids)
    q_dt = quality(all_ids - set(kept_dt), pairs)
    q_ck = quality(all_ids - set(kept_ck), pairs)
    rows = []
    for m, q in ((peer, q_dt), (ours, q_ck)):
        rows.append(
            {
                "side": m.name,
                "seconds": f"{m.seconds:.1f}",
                "docs/s": f"{docs / m.seconds:,.0f}",
                "peak RSS": f"{m.peak_rss_mb:,.0f} MB",
                "removed": f"{q['removed']:,}",
                "precision": f"{q['precision']:.4f}",
                "recall": f"{q['recall']:.4f}",
            }
        )
    print(f"\n## end to end: {docs:,} documents in 8 JSONL files, {workers} workers each")
    print(table(rows))
    print(f"ratio corpuskit/datatrove: {peer.seconds / ours.seconds:.1f}x  (target >= 5)")
    print(
        f"quality vs {pairs.filter(pl.col('jaccard') >= THRESHOLD).height:,} planted copies with "
        f"Jaccard >= {THRESHOLD} (precision counting any planted copy as right: datatrove "
        f"{q_dt['precision_any_planted']:.4f}, corpuskit {q_ck['precision_any_planted']:.4f})"
    )
    return {
        "docs": docs,
        "datatrove_s": peer.seconds,
        "corpuskit_s": ours.seconds,
        "ratio": peer.seconds / ours.seconds,
        "datatrove_rss_mb": peer.peak_rss_mb,
        "corpuskit_rss_mb": ours.peak_rss_mb,
        "quality": {"datatrove": q_dt, "corpuskit": q_ck},
    }


# ---------------------------------------------------------------- scale


def bench_scale(sizes: list[int], workers: int, work: Path, corpora: Path) -> dict:
    rows, results = [], []
    for n in sizes:
        data = generated_corpus(n, corpora)
        src = work / f"scale-{n}"
        src.mkdir(parents=True, exist_ok=True)
        link = src / data.name
        if not link.exists():
            link.symlink_to(data)
        m = run_corpuskit(src, work / f"ck-{n}", workers, work, str(n))
        if m.returncode != 0:
            sys.exit(f"corpuskit failed at {n}:\n{m.output[-3000:]}")
        per_doc = m.seconds / n
        results.append({"docs": n, "seconds": m.seconds, "peak_rss_mb": m.peak_rss_mb})
        rows.append(
            {
                "docs": f"{n:,}",
                "seconds": f"{m.seconds:.1f}",
                "us/doc": f"{per_doc * 1e6:.1f}",
                "growth": f"{per_doc / (results[0]['seconds'] / sizes[0]):.2f}x",
                "peak RSS": f"{m.peak_rss_mb:,.0f} MB",
            }
        )
        shutil.rmtree(work / f"ck-{n}", ignore_errors=True)
    print(f"\n## scale: corpuskit run with minhash_dedup, {workers} workers, one JSONL each")
    print(table(rows))
    print("targets: growth <= 1.3x from the smallest size, peak RSS < 4 GB at 1M documents")
    return {"runs": results}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000, help="documents for e2e")
    ap.add_argument("--sig-docs", type=int, default=20_000, help="documents for signatures")
    ap.add_argument("--scale-docs", default="100000,1000000")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--only", default="signatures,e2e,scale")
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--json", type=Path, help="write the results here too")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    results: dict = {}
    work = Path(tempfile.mkdtemp(prefix="bench-dedup-"))
    try:
        if "signatures" in parts:
            data = generated_corpus(max(args.sig_docs, 100_000), args.corpora)
            results["signatures"] = bench_signatures(data, args.sig_docs, args.batch, args.workers)
        if "e2e" in parts:
            data = generated_corpus(args.docs, args.corpora)
            results["e2e"] = bench_e2e(data, args.docs, args.workers, work)
        if "scale" in parts:
            sizes = [int(s) for s in args.scale_docs.split(",")]
            results["scale"] = bench_scale(sizes, args.workers, work, args.corpora)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
