"""corpuskit report: the page of a real run (recipes/news.yaml on sample_data/), its numbers
against the manifest, and the same page opened in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from corpuskit.engine.run import run_recipe
from corpuskit.output.layout import read_manifest
from corpuskit.recipe import load_recipe
from corpuskit.report import build_report
from tests.conftest import ROOT

pytest.importorskip("altair", reason="the report extra: pip install 'corpuskit[report]'")


def specs_of(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="specs">(.*?)</script>', html, re.S)
    assert m, "the page carries its chart specs"
    return json.loads(m.group(1).replace("<\\/", "</"))


def chart_rows(spec: dict, name: str = "rows") -> list[dict]:
    """The inline rows of a chart's named dataset."""
    return spec["datasets"][name]


@pytest.fixture(scope="module")
def news_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("news") / "out"
    os.chdir(ROOT)
    recipe = load_recipe(ROOT / "recipes/news.yaml", {"output": str(out), "workers": 1})
    run_recipe(recipe, recipe_path="recipes/news.yaml")
    return out


@pytest.fixture(scope="module")
def news_report(news_run: Path) -> Path:
    return build_report(news_run, news_run / "report.html", sample=60)


@pytest.mark.slow
def test_report_numbers_match_the_manifest(news_run: Path, news_report: Path) -> None:
    html = news_report.read_text(encoding="utf-8")
    manifest = read_manifest(news_run)
    t = manifest["totals"]
    assert f"read <b>{t['read']:,}</b> · kept <b>{t['kept']:,}</b>" in html
    assert news_report.stat().st_size < 5_000_000
    # self-contained: nothing to fetch
    markup = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S)
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", markup)
    assert html.count("<script") == 3  # the specs, the inlined library, the page's own
    specs = specs_of(html)
    funnel = chart_rows(specs["funnel-0"])
    for row in manifest["ledger"]:
        kept = [r["documents"] for r in funnel if r["step"] == row["step"] and r["fate"] == "kept"]
        rejected = [
            r["documents"] for r in funnel if r["step"] == row["step"] and r["fate"] == "rejected"
        ]
        assert kept == [row["out"]] and rejected == [row["rejected"]], row["step"]
    chars = chart_rows(specs["funnel-1"])
    kept_chars = pl.read_parquet(news_run / "data")["text"].str.len_chars().sum()
    last = manifest["ledger"][-1]["step"]
    assert [r["characters"] for r in chars if r["step"] == last and r["fate"] == "kept"] == [
        kept_chars
    ]
    reasons = {r["reason"]: r["documents"] for r in chart_rows(specs["reasons-0"])}
    assert reasons == manifest["rejected_by_reason"]
    for reason, n in manifest["rejected_by_reason"].items():
        assert f"<b>{reason}</b>: {n:,} documents" in html
    # the length_filter histogram counts every document that reached it, threshold drawn
    length = next(
        s for s in specs.values() if "bins" in s["datasets"] and '"length_chars"' in json.dumps(s)
    )
    bins = chart_rows(length, "bins")
    reached = next(r["in"] for r in manifest["ledger"] if r["step"].endswith(":length_filter"))
    assert sum(b["n"] for b in bins) == reached
    rule_rows = chart_rows(length, "thresholds")
    assert {"value": 20.0, "rule": "too_short: length_chars < 20"} in rule_rows
    # language split adds up to the documents read
    assert "by language" in html and "by input file" in html and "by web host" in html
    # cleaning samples: normalize_punctuation changed texts of the sample, shown struck out
    assert "<h3>normalize_punctuation" in html and "<del>" in html
    assert "recipes/news.yaml" in html and "documents/s" in html


def chromium() -> str:
    """The distribution's Chromium; installed with apt-get where the test may (root, apt)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CORPUSKIT_NO_APT") or not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.skip("no chromium, and apt-get is not available to install it")
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=300, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=True,
            timeout=600,
            env=env,
            capture_output=True,
        )
    except (subprocess.SubprocessError, OSError) as e:
        pytest.skip(f"chromium could not be installed: {e}")
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get install chromium gave no chromium binary")
    return found


def headless(browser: str, *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=20000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_report_opens_in_headless_chromium(news_report: Path, tmp_path: Path) -> None:
    browser = chromium()
    url = news_report.resolve().as_uri()
    shot = tmp_path / "report.png"
    done = headless(browser, "--window-size=1280,2400", f"--screenshot={shot}", url)
    assert shot.exists() and shot.stat().st_size > 10_000, done.stderr[-2000:]
    dom = headless(browser, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [
        line
        for line in (done.stderr + dom.stderr).splitlines()
        if "CONSOLE" in line or "Uncaught" in line
    ]
    assert not console, console
    specs = specs_of(news_report.read_text(encoding="utf-8"))
    rendered = re.findall(
        r'<div class="chart vega-embed[^"]*" id="([^"]+)"[^>]*>\s*<svg', dom.stdout
    )
    missing = sorted(set(specs) - set(rendered))
    assert not missing, f"charts not drawn: {missing}"
