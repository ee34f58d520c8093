"""The Ray backend against the local backend, and per-core rates for a dedup cost estimate.

    .venv/bin/python bench/bench_ray.py --docs 100000
    .venv/bin/python bench/bench_ray.py --docs 100000 --only overhead --dedup
    .venv/bin/python bench/bench_ray.py --docs 100000 --only overhead --spelling
    .venv/bin/python bench/bench_ray.py --docs 100000 --only rates

Two parts (--only picks one):

overhead  The cleaning recipe (fix_unicode -> clean_text -> normalize_punctuation ->
          mask_pii -> length_filter) on the generated JSONL in units of --unit-mb, run three
          ways with the same CPUs (--cpus, default all): `corpuskit run` with the local
          backend (workers = CPUs);
          `corpuskit run --executor ray --ray-address local` (cold: starts a fresh local
          Ray instance, which is part of the time); and
          run_recipe on a Ray instance started beforehand (warm: the run alone, as a job on
          a running cluster; its workers still import corpuskit on their first task; hot:
          the same process runs the recipe again, its workers up and imported).
          --repeat interleaved rounds; checks that every run kept the same ids, and prints
          the best and all seconds, docs/s and the ratio ray / local of the best times.
          --dedup adds exact_dedup and minhash_dedup after the cleaning chain (two global
          fits: under Ray their maps and reduces run as Ray tasks).
          --spelling puts fix_spelling first: its setup (about 0.9 s) is paid once per
          worker process (both backends keep a stage's steps set up across units).
rates     Per-core rates (one process, POLARS_MAX_THREADS=1), the inputs of a paper
          estimate of the dedup stage at scale: the cleaning chain (local executor, one
          worker), then over its Parquet output the fit of exact_dedup and minhash_dedup,
          split by the fit report into its parts: maps over row groups (hashing /
          signatures), tasks per hash partition (grouping) or per band (LSH buckets), the
          verification (a map, then a join in the fit), the clusters (tasks per id
          partition, then connected components and survivors in the fit), and the apply
          pass (join of a batch to the fit's decisions), in MB of text and documents per
          second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_CORPORA, generated_corpus, measure, python, table

CLEANING = [
    {"fix_unicode": {}},
    {"clean_text": {}},
    {"normalize_punctuation": {}},
    {"mask_pii": {}},
    {"length_filter": {"min_chars": 20}},
]

DEDUP = [{"exact_dedup": {}}, {"minhash_dedup": {}}]

# a step with a costly setup (loading its word list, about 0.9 s), paid once per worker
# process by both backends
SPELLING = [{"fix_spelling": {}}]

# fit parts (from the fit report) and where they run under the Ray executor
MAP_PARTS = {
    "hash": "map over row groups",
    "signatures": "map over row groups",
    "groups": "tasks per hash partition",
    "bands": "tasks per band, merge in the fit",
    "verify": "map over row groups, join in the fit",
    "clusters": "tasks per id partition, components in the fit",
}

WARM = """
import json, logging, sys, time
import ray
from corpuskit.engine.run import run_recipe
from corpuskit.recipe import load_recipe

if __name__ == "__main__":
    recipe, cpus = sys.argv[1], int(sys.argv[2])
    ray.init(
        address="local", num_cpus=cpus, include_dashboard=False, logging_level=logging.WARNING,
        runtime_env={"env_vars": {"POLARS_MAX_THREADS": "1"}},
    )
    r = load_recipe(recipe, {"executor": "ray"})
    t = time.perf_counter()
    run_recipe(r)
    first = time.perf_counter() - t
    # again, into another folder: Ray's workers are up and have imported corpuskit
    r = load_recipe(recipe, {"executor": "ray", "output": str(r.output.path) + "-again"})
    t = time.perf_counter()
    run_recipe(r)
    print(json.dumps({"seconds": first, "again": time.perf_counter() - t}))
    ray.shutdown()
"""

RATES = """
import json, sys, time
from pathlib import Path
import polars as pl
from corpuskit import registry
from corpuskit.steps.base import Corpus

files = sorted(Path(sys.argv[1]).glob("*.parquet"))
work = Path(sys.argv[2])
text = pl.scan_parquet(files).select(
    mb=pl.col("text").str.len_bytes().sum() / 2**20, docs=pl.len()
).collect().row(0, named=True)
out = {"text_mb": text["mb"], "docs": text["docs"], "threads": pl.thread_pool_size()}
steps = {"exact_dedup": {}, "minhash_dedup": {}}
for name, config in steps.items():
    cls = registry.steps()[name]
    step = cls(cls.Config(**config), name=name)
    step.ensure_ready()
    t = time.perf_counter()
    state = step.fit(Corpus(files, work / name, 1))
    fit = time.perf_counter() - t
    t = time.perf_counter()
    rows = 0
    for f in files:
        batch = pl.read_parquet(f)
        rows += step.process(batch, state).batch.height
    apply = time.perf_counter() - t
    report = state.report
    out[name] = {
        "fit_seconds": fit,
        "fit_parts": dict(report.seconds),
        "apply_seconds": apply,
        "documents": report.documents,
        "duplicates": int(report.duplicates),
        "candidate_pairs": report.candidate_pairs,
    }
print(json.dumps(out))
"""


def write_recipe(path: Path, data: Path, out: Path, executor: dict, steps: list) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "input": {"path": str(data), "format": "jsonl"},
                "output": {"path": str(out)},
                "executor": executor,
                "steps": steps,
            }
        )
    )
    return path


def kept_ids(out: Path) -> pl.Series:
    return pl.read_parquet(out / "data", columns=["id"])["id"].sort()


def bench_overhead(
    data: Path,
    cpus: int,
    unit_mb: float,
    repeat: int,
    work: Path,
    dedup: bool = False,
    spelling: bool = False,
) -> dict:
    ck = [python(), "-m", "corpuskit.cli", "run"]
    steps = (SPELLING if spelling else []) + CLEANING + (DEDUP if dedup else [])
    local = write_recipe(
        work / "local.yaml", data, work / "local", {"workers": cpus, "unit_mb": unit_mb}, steps
    )
    # (key, output folder, command): local first, then a cold and a warm Ray run; a warm
    # run measures two rows, its first run and the same run again ("hot")
    cold_spec = {"kind": "ray", "address": "local", "num_cpus": cpus, "unit_mb": unit_mb}
    cold = write_recipe(work / "cold.yaml", data, work / "cold", cold_spec, steps)
    warm = write_recipe(work / "warm.yaml", data, work / "warm", {"unit_mb": unit_mb}, steps)
    commands = [
        ("local", "local", [*ck, str(local), "--quiet"]),
        ("ray_cold", "cold", [*ck, str(cold), "--quiet"]),
        ("ray_warm", "warm", [python(), "-c", WARM, str(warm), str(cpus)]),
    ]
    names = {
        "local": "local backend",
        "ray_cold": "ray, cold (starts Ray)",
        "ray_warm": "ray, warm (Ray running)",
        "ray_hot": "ray, hot (workers up)",
    }
    seconds: dict[str, list[float]] = {key: [] for key in names}
    rss: dict[str, float] = dict.fromkeys(names, 0.0)
    for _ in range(repeat):  # interleaved, so that load from elsewhere hits all sides alike
        for _, folder, _ in commands:
            shutil.rmtree(work / folder, ignore_errors=True)
            shutil.rmtree(work / f"{folder}-again", ignore_errors=True)
        for key, _, cmd in commands:
            r = measure(names[key], cmd)
            if r.returncode != 0:
                sys.exit(f"{names[key]} failed:\n{r.output}")
            if key.endswith("_warm"):
                got = json.loads(r.output.strip().splitlines()[-1])
                seconds[key].append(got["seconds"])
                hot = key.removesuffix("_warm") + "_hot"
                seconds[hot].append(got["again"])
                rss[hot] = max(rss[hot], r.peak_rss_mb)
            else:
                seconds[key].append(r.seconds)
            rss[key] = max(rss[key], r.peak_rss_mb)
        want = kept_ids(work / "local")
        for key, folder, _ in commands[1:]:
            for out in [folder] + ([f"{folder}-again"] if key.endswith("_warm") else []):
                if not kept_ids(work / out).equals(want):
                    sys.exit(f"{names[key]} kept other ids than the local executor ({out})")
    manifest = json.loads((work / "local" / "manifest.json").read_text())
    docs = manifest["totals"]["read"]
    best = {key: min(v) for key, v in seconds.items()}
    rows = [
        {
            "run": names[key],
            "best s": f"{best[key]:.2f}",
            "all s": " ".join(f"{s:.1f}" for s in seconds[key]),
            "docs/s (best)": f"{docs / best[key]:,.0f}",
            "ray / local (best)": f"{best[key] / best['local']:.2f}",
            "peak RSS MB (tree)": f"{rss[key]:,.0f}",
        }
        for key in names
    ]
    chain = ("fix_spelling + " if spelling else "") + "cleaning chain"
    chain += " + exact_dedup + minhash_dedup" if dedup else ""
    print(
        f"overhead: {chain}, {docs:,} documents, {manifest['units']} units of {unit_mb:g} MB, "
        f"{cpus} CPUs, {repeat} interleaved repeats"
    )
    print(table(rows))
    print(f"rejected by reason (all runs kept the same ids): {manifest['rejected_by_reason']}")
    print("cold: `corpuskit run --executor ray` starting its own Ray; warm: run_recipe alone")
    print("on a Ray instance started before (RSS: that process tree, Ray's daemons included);")
    print("hot: the warm run's process runs the recipe again, its Ray workers already up")
    return {
        "steps": [next(iter(step)) for step in steps],
        "rejected_by_reason": manifest["rejected_by_reason"],
        "docs": docs,
        "units": manifest["units"],
        "cpus": cpus,
        "seconds": seconds,
        "ratios": {key: best[key] / best["local"] for key in names},
        "same_kept_ids": True,
    }


def bench_rates(data: Path, work: Path) -> dict:
    env = {**os.environ, "POLARS_MAX_THREADS": "1"}
    out = work / "clean1"
    recipe = write_recipe(work / "clean1.yaml", data, out, {"workers": 1}, CLEANING)
    before = os.environ.get("POLARS_MAX_THREADS")
    os.environ["POLARS_MAX_THREADS"] = "1"  # one worker, in-process, one Polars thread
    try:
        clean = measure("clean", [python(), "-m", "corpuskit.cli", "run", str(recipe), "--quiet"])
    finally:
        if before is None:
            os.environ.pop("POLARS_MAX_THREADS")
        else:
            os.environ["POLARS_MAX_THREADS"] = before
    if clean.returncode != 0:
        sys.exit(f"cleaning failed:\n{clean.output}")
    manifest = json.loads((out / "manifest.json").read_text())
    input_mb = data.stat().st_size / 2**20
    p = subprocess.run(
        [python(), "-c", RATES, str(out / "data"), str(work / "fits")],
        capture_output=True,
        text=True,
        env=env,
    )
    if p.returncode != 0:
        sys.exit(f"dedup rates failed:\n{p.stderr}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    mb, docs = r["text_mb"], r["docs"]
    rows = [
        {
            "stage (one core)": "cleaning chain, JSONL in -> Parquet out",
            "seconds": f"{clean.seconds:.2f}",
            "MB/s": f"{input_mb / clean.seconds:.1f} (JSONL)",
            "docs/s": f"{manifest['totals']['read'] / clean.seconds:,.0f}",
        }
    ]

    def rate(label: str, seconds: float) -> dict:
        return {
            "stage (one core)": label,
            "seconds": f"{seconds:.2f}",
            "MB/s": f"{mb / seconds:.1f}" if seconds > 0 else "-",
            "docs/s": f"{docs / seconds:,.0f}" if seconds > 0 else "-",
        }

    for name in ("exact_dedup", "minhash_dedup"):
        d = r[name]
        parts = dict(d["fit_parts"])
        total = parts.pop("total", d["fit_seconds"])
        for part, seconds in parts.items():
            kind = MAP_PARTS.get(part, "in the fit")
            rows.append(rate(f"{name} fit: {part} ({kind})", seconds))
        rest = total - sum(parts.values())
        if rest > 0.005:
            rows.append(rate(f"{name} fit: rest (in the fit)", rest))
        setup = d["fit_seconds"] - total
        if setup > 0.05:
            rows.append(rate(f"{name} fit: first-call setup (once per process)", setup))
        rows.append(rate(f"{name} apply (join to the decisions)", d["apply_seconds"]))
    print(
        f"rates: {docs:,} cleaned documents, {mb:,.1f} MB of text (UTF-8), "
        f"Polars threads {r['threads']}"
    )
    print(table(rows))
    for name in ("exact_dedup", "minhash_dedup"):
        d = r[name]
        print(
            f"{name}: fit parts {json.dumps({k: round(v, 2) for k, v in d['fit_parts'].items()})}"
            f", {d['duplicates']:,} duplicates, {d['candidate_pairs']:,} candidate pairs"
        )
    r["clean_seconds"] = clean.seconds
    r["clean_input_mb"] = input_mb
    r["clean_docs"] = manifest["totals"]["read"]
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--data", type=Path, default=None, help="JSONL to use (default: generated)")
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--cpus", type=int, default=os.cpu_count())
    ap.add_argument("--unit-mb", type=float, default=8, help="input MB per work unit")
    ap.add_argument("--repeat", type=int, default=3, help="overhead: interleaved repeats")
    ap.add_argument("--only", default="overhead,rates")
    ap.add_argument("--dedup", action="store_true", help="overhead: add the two dedup steps")
    ap.add_argument(
        "--spelling",
        action="store_true",
        help="overhead: put fix_spelling (a setup of about 0.9 s) first",
    )
    ap.add_argument("--json", type=Path, help="write the results here too")
    args = ap.parse_args()

    data = generated_corpus(args.docs, args.corpora, args.data)
    print(
        f"input: {data} ({data.stat().st_size / 2**20:,.0f} MB); {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}, polars {pl.__version__}"
    )
    only = set(args.only.split(","))
    results: dict = {}
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        if "overhead" in only:
            results["overhead"] = bench_overhead(
                data, args.cpus, args.unit_mb, args.repeat, work, args.dedup, args.spelling
            )
        if "rates" in only:
            results["rates"] = bench_rates(data, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
