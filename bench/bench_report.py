"""Time `corpuskit report` on a fabricated run of N documents (default 1M) and check its size.

The run is fabricated, not computed: kept shards with the signal columns of length_filter,
gopher_quality and language, rejected shards with reasons, details and signals JSON, and
a manifest that adds up, so the report's cost is measured at a scale no test runs. The
issue's targets: under 30 s and under 5 MB for 1M documents. There is no peer tool that
writes such a report; the numbers are compared with the targets.

    python bench/bench_report.py --docs 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from corpuskit.report import build_report

BASE = (
    "The council said on Tuesday that the new budget would fund three schools and a library. "
    "Residents asked how the plan would be paid for, and officials pointed to a bond issue. "
    "点击查看更多 新闻 报道 市政府 周二 表示 预算 将 资助 三所 学校 和 一座 图书馆。 "
) * 8

RECIPE = {
    "input": [{"path": "/nonexistent/bench/*.jsonl", "format": "jsonl"}],
    "output": {"path": "out/bench-report"},
    "steps": [
        {"length_filter": {"min_chars": 50}},
        {"language": {"keep": ["en", "zh"]}},
        {"gopher_quality": {}},
        {"exact_dedup": {}},
    ],
}
LANGS = ["en", "zh", "fr", "de", "es", "ru", "ja"]


def fabricate(root: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    offset = rng.integers(0, len(BASE) // 2, n)
    length = np.clip(rng.lognormal(5.5, 0.8, n).astype(int), 5, len(BASE) // 2)
    frame = pl.DataFrame(
        {
            "id": [f"doc-{i:07d}" for i in range(n)],
            "source": rng.choice([f"crawl/part-{k:02d}.jsonl.gz" for k in range(12)], n),
            "url": pl.Series(rng.choice([f"https://site{k}.example.com/a" for k in range(300)], n)),
            "length_chars": length,
            "length_words": (length / 5.5).astype(int),
            "length_lines": rng.integers(1, 40, n),
            "cjk_ratio": rng.beta(0.5, 2, n),
            "symbol_ratio": rng.beta(1, 30, n),
            "lang": rng.choice(LANGS, n, p=[0.5, 0.25, 0.07, 0.06, 0.05, 0.04, 0.03]),
            "lang_score": rng.beta(8, 1.5, n),
            "gopher_words": (length / 5.5).astype(int),
            "gopher_nonsym_words": (length / 5.8).astype(int),
            "gopher_avg_word_length": rng.normal(5, 1.2, n),
            "gopher_hash_ratio": rng.beta(1, 60, n),
            "gopher_ellipsis_ratio": rng.beta(1, 40, n),
            "gopher_bullet_lines_ratio": rng.beta(1, 8, n),
            "gopher_ellipsis_lines_ratio": rng.beta(1, 20, n),
            "gopher_alpha_words_ratio": rng.beta(12, 2, n),
            "gopher_stop_words": rng.integers(0, 30, n),
            "exact_copies": rng.integers(1, 3, n),
        }
    ).with_columns(
        text=pl.lit(BASE).str.slice(pl.Series(offset), pl.Series(length)),
        title=pl.lit(None, pl.String),
        meta=pl.lit("{}"),
        flags=pl.lit([], dtype=pl.List(pl.String)),
    )
    step = (
        pl.when(pl.col("length_chars") < 50)
        .then(pl.lit("length_filter"))
        .when(~pl.col("lang").is_in(["en", "zh"]))
        .then(pl.lit("language"))
        .when(pl.col("gopher_nonsym_words") < 50)
        .then(pl.lit("gopher_quality"))
        .when(pl.int_range(pl.len()) % 9 == 0)
        .then(pl.lit("exact_dedup"))
    )
    reason = (
        pl.when(pl.col("step") == "length_filter")
        .then(pl.lit("length_filter:too_short"))
        .when(pl.col("step") == "language")
        .then(pl.lit("language:not_kept"))
        .when(pl.col("step") == "gopher_quality")
        .then(pl.lit("gopher_quality:short_doc"))
        .when(pl.col("step") == "exact_dedup")
        .then(pl.lit("exact_dedup:duplicate"))
    )
    frame = frame.with_columns(step=step).with_columns(reason=reason)
    length_cols = ["length_chars", "length_words", "length_lines", "cjk_ratio", "symbol_ratio"]
    lang_cols = [*length_cols, "lang", "lang_score"]
    gopher_cols = [c for c in frame.columns if c.startswith("gopher_")]
    signals = {
        "length_filter": length_cols,
        "language": lang_cols,
        "gopher_quality": [*lang_cols, *gopher_cols],
        "exact_dedup": [*lang_cols, *gopher_cols],
    }
    core = ["id", "text", "source", "url", "title", "meta", "flags"]
    kept = frame.filter(pl.col("step").is_null())
    (root / "data").mkdir(parents=True)
    (root / "rejected").mkdir()
    shards, rejected_shards, ledger_rows = [], [], []
    data_cols = [*core, *signals["exact_dedup"], "exact_copies"]
    for k, part in enumerate(kept.iter_slices(200_000)):
        path = root / "data" / f"part-{k:05d}-000.parquet"
        part.select(data_cols).write_parquet(path, compression="zstd")
        shards.append(
            {"file": f"data/{path.name}", "rows": part.height, "bytes": path.stat().st_size}
        )
    reasons: dict[str, int] = {}
    docs_in = n
    for name, cols in signals.items():
        rej = frame.filter(pl.col("step") == name)
        detail = pl.lit(None, pl.String)
        if name == "exact_dedup":
            detail = pl.format(
                "doc-{}", (pl.int_range(pl.len()) % 500).cast(pl.String).str.zfill(7)
            )
        elif name == "length_filter":
            detail = pl.format("length_chars={} < 50", pl.col("length_chars"))
        out = rej.select(
            *core,
            "step",
            "reason",
            detail.alias("detail"),
            pl.struct(cols).struct.json_encode().alias("signals"),
        )
        path = root / "rejected" / f"part-s0-{name}-000.parquet"
        out.write_parquet(path, compression="zstd")
        rejected_shards.append(
            {"file": f"rejected/{path.name}", "rows": out.height, "bytes": path.stat().st_size}
        )
        reasons[f"{name}:" + out["reason"][0].split(":")[1]] = out.height
        ledger_rows.append(
            {
                "step": f"{len(ledger_rows)}:{name}",
                "in": docs_in,
                "out": docs_in - out.height,
                "rejected": out.height,
                "seconds": round(docs_in / 50_000, 3),
                "counters": {},
                "reasons": {out["reason"][0]: out.height},
            }
        )
        docs_in -= out.height
    manifest = {
        "corpuskit_version": "bench",
        "created": "fabricated",
        "recipe_path": "bench/bench_report.py",
        "recipe": RECIPE,
        "limit": None,
        "totals": {"read": n, "kept": kept.height, "rejected": n - kept.height},
        "seconds": n / 20_000,
        "ledger": [
            {
                "step": "read",
                "in": n,
                "out": n,
                "rejected": 0,
                "seconds": 1.0,
                "counters": {},
                "reasons": {},
            },
            *ledger_rows,
        ],
        "rejected_by_reason": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "inputs": [],
        "units": 1,
        "stages": [["length_filter", "language", "gopher_quality"], ["exact_dedup"]],
        "schema": {},
        "shards": shards,
        "rejected_shards": rejected_shards,
    }
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--keep", help="fabricate into this folder and keep it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp) / "run"
        t0 = time.perf_counter()
        fabricate(root, args.docs)
        made = time.perf_counter() - t0
        t0 = time.perf_counter()
        path = build_report(root, root / "report.html", sample=200)
        seconds = time.perf_counter() - t0
        size = path.stat().st_size
        load = os.getloadavg()[0]
        print(f"fabricated {args.docs:,} documents in {made:.1f}s")
        print(
            f"report: {seconds:.1f} s (target < 30 s), {size / 1e6:.2f} MB (target < 5 MB); "
            f"load average {load:.1f}, {os.cpu_count()} CPUs"
        )


if __name__ == "__main__":
    main()
