"""The main recipe on the bundled sample data, end to end through the command line."""

from __future__ import annotations

import json
import os
import subprocess

import polars as pl
import pytest

from tests.conftest import ROOT, corpuskit_cmd


@pytest.fixture(scope="module")
def news_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("news") / "out"
    p = subprocess.run(
        [*corpuskit_cmd(), "run", "recipes/news.yaml", "--output", str(out), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    return out, json.loads((out / "manifest.json").read_text())


def test_news_recipe_accounts_for_every_document(news_run):
    out, m = news_run
    t = m["totals"]
    assert t["read"] == t["kept"] + t["rejected"] > 400
    kept = pl.read_parquet(out / "data")
    rejected = pl.read_parquet(out / "rejected")
    assert kept.height == t["kept"] and rejected.height == t["rejected"]
    reasons = m["rejected_by_reason"]
    assert reasons.get("read:malformed_json") == 2
    assert reasons.get("read:empty_text") == 1 and reasons.get("read:missing_text_field") == 1
    assert len(m["inputs"]) == 5 and all(i["encoding"] for i in m["inputs"])


def test_gbk_file_decodes_to_chinese(news_run):
    out, m = news_run
    enc = {i["source"].rsplit("/", 1)[-1]: i["encoding"] for i in m["inputs"]}
    assert enc["zh-gbk.jsonl.gz"] == "gb18030"
    kept = pl.read_parquet(out / "data").filter(pl.col("source").str.ends_with("zh-gbk.jsonl.gz"))
    assert kept.height > 20
    assert not kept["text"].str.contains("\ufffd").any()
    assert kept["text"].str.contains(r"\p{Han}").all()


def test_inspect_shows_ledger_and_rejected_samples(news_run):
    out, _ = news_run
    p = subprocess.run(
        [*corpuskit_cmd(), "inspect", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert p.returncode == 0, p.stderr
    assert "read:malformed_json" in p.stdout and "schema" in p.stdout
    p = subprocess.run(
        [*corpuskit_cmd(), "inspect", str(out / "nope")], capture_output=True, text=True
    )
    assert p.returncode == 1 and "no manifest" in p.stderr
