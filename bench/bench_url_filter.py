"""url_filter with the UT1 adult lists against datatrove's URLFilter, the same URLs.

    python bench/bench_url_filter.py --docs 2000 --batch 500 --rounds 3 --clock cpu

Setup, each in a fresh process: corpuskit cold (an empty cache folder: the hash index is
built from datatrove's tarball and saved), corpuskit warm (memory-mapped from that cache)
and datatrove twice (URLFilter.download_data: the tarball extracted to its assets cache
when not there yet, then read into Python sets). Seconds, and the RSS the process grew by
right after setup and 5 s later.

Per batch, in this process, alternating round by round: url_filter with `ut1_adult` off
(the step before UT1) and on, batch by batch, and datatrove's URLFilter one document at
a time. URLs: the 181 article URLs of article_extraction_html and the WARC target URIs of
warc_samples (each repeated with a query to make them distinct), one in ten replaced by a
host or URL of the UT1 lists. datatrove's side needs tldextract and pyahocorasick (not
corpuskit dependencies); without them it is left out. Its TLDExtract uses the bundled
public suffix list (no network).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DEFAULT_CORPORA, table

from corpuskit.schema import REASON_COLUMN
from corpuskit.steps import url_filter
from corpuskit.steps.url_filter import UrlFilter, UrlFilterConfig

SETUP_CHILD = r"""
import json, os, sys, time
def rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
side = sys.argv[1]
if side == "datatrove":
    from datatrove.pipeline.filters.url_filter import URLFilter
    from tldextract import TLDExtract
    step = URLFilter()
    step.tldextractor = TLDExtract(suffix_list_urls=(), cache_dir=None)
    before, t = rss(), time.perf_counter()
    step.download_data()
else:
    from corpuskit.steps.url_filter import UrlFilter, UrlFilterConfig
    step = UrlFilter(UrlFilterConfig(), name="url_filter")
    before, t = rss(), time.perf_counter()
    step.ensure_ready()
seconds, grown = time.perf_counter() - t, rss() - before
time.sleep(5)  # Polars' allocator hands freed memory back after a few seconds
import polars as pl
pl.DataFrame({"a": [1]}).select(pl.col("a") + 1)
print(json.dumps({"seconds": seconds, "rss_mb": grown, "rss_5s_mb": rss() - before}))
"""


def sample_urls(corpora: Path, n: int) -> list[str]:
    truth = json.loads((corpora / "article_extraction_html" / "ground-truth.json").read_text())
    real = [v["url"] for v in truth.values() if v.get("url")]
    for warc in sorted((corpora / "warc_samples").glob("*.warc.gz")):
        with gzip.open(warc, "rb") as f:
            real += re.findall(rb"WARC-Target-URI: <?([^\r\n>]+)", f.read())
    real = [u.decode() if isinstance(u, bytes) else u for u in real]
    with tarfile.open(url_filter.ut1_asset(), "r:gz") as tar:
        hosts = url_filter._read_lines(tar, "domains")
        listed = url_filter._read_lines(tar, "urls")
    hosts = hosts.gather_every(len(hosts) // n + 1).to_list()
    listed = listed.gather_every(len(listed) // n + 1).to_list()
    out = []
    for i in range(n):
        if i % 10 == 3:
            out.append(f"https://www.{hosts[i % len(hosts)]}/p/{i}")
        elif i % 10 == 7:
            out.append(f"http://{listed[i % len(listed)]}")
        else:
            out.append(f"{real[i % len(real)]}?n={i}")
    return out


def setup_costs(cache: str) -> list[dict]:
    env = {**os.environ, "CORPUSKIT_CACHE_DIR": cache}
    rows = []
    for label, side in (
        ("corpuskit cold (empty cache)", "ours"),
        ("corpuskit warm", "ours"),
        ("datatrove, run 1 (extracts the tarball if not yet there)", "datatrove"),
        ("datatrove, run 2", "datatrove"),
    ):
        proc = subprocess.run(
            [sys.executable, "-c", SETUP_CHILD, side], env=env, capture_output=True, text=True
        )
        if proc.returncode:
            err = proc.stderr.strip()[-80:]
            rows.append({"setup": label, "s": "-", "RSS +MB": err, "5 s later": "-"})
            continue
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(
            {
                "setup": label,
                "s": f"{got['seconds']:.3f}",
                "RSS +MB": f"{got['rss_mb']:.0f}",
                "5 s later": f"{got['rss_5s_mb']:.0f}",
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    args = ap.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    urls = sample_urls(args.corpora, args.docs)
    with tempfile.TemporaryDirectory() as cache:
        print(table(setup_costs(cache)))

    ut1 = [i % 10 in (3, 7) for i in range(len(urls))]
    frame = pl.DataFrame({"text": ["x"] * len(urls), "url": urls, "ut1": ut1})
    batches = [frame.slice(i, args.batch) for i in range(0, len(frame), args.batch)]
    sides = {}
    for name, ut1 in (("url_filter, ut1_adult off", False), ("url_filter, ut1_adult on", True)):
        step = UrlFilter(UrlFilterConfig(ut1_adult=ut1), name="url_filter")
        step.ensure_ready()
        sides[name] = lambda b, step=step: step.process(b).batch[REASON_COLUMN].is_not_null()
    try:
        from datatrove.data import Document
        from datatrove.pipeline.filters.url_filter import URLFilter
        from tldextract import TLDExtract

        peer = URLFilter()
        peer.tldextractor = TLDExtract(suffix_list_urls=(), cache_dir=None)
        peer.download_data()

        def run_peer(b: pl.DataFrame) -> int:
            docs = (
                Document(text="x", id=str(i), metadata={"url": u}) for i, u in enumerate(b["url"])
            )
            return pl.Series([peer.filter(d) is not True for d in docs])

        sides["datatrove URLFilter"] = run_peer
    except ImportError as exc:
        print(f"datatrove's URLFilter left out: {exc}")

    seconds = dict.fromkeys(sides, 0.0)
    rejected = dict.fromkeys(sides, 0)
    ordinary = dict.fromkeys(sides, 0)
    for r in range(args.rounds):
        for batch in batches:
            for name, run in sorted(sides.items(), reverse=r % 2 == 1):
                t = clock()
                hit = run(batch)
                seconds[name] += clock() - t
                rejected[name] += int(hit.sum())
                ordinary[name] += int((hit & ~batch["ut1"]).sum())
    base = seconds.get("datatrove URLFilter")
    per = 1000 / args.rounds / len(batches)
    rows = [
        {
            "side": name,
            f"ms per {args.batch} docs ({args.clock})": f"{s * per:.1f}",
            "rejected": rejected[name] // args.rounds,
            "of them ordinary URLs": ordinary[name] // args.rounds,
            "vs datatrove": f"{base / s:.1f}x faster" if base else "-",
        }
        for name, s in seconds.items()
    ]
    print(f"{len(urls)} URLs, batches of {args.batch}, {args.rounds} rounds")
    print(table(rows))


if __name__ == "__main__":
    main()
