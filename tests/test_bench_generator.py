"""Smoke test for bench/generate_corpus.py (the scale-benchmark corpus generator).

Reads the real corpora from ../shared/corpora at run time; skipped where absent.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "bench" / "generate_corpus.py"
CORPORA = REPO.parent / "shared" / "corpora"
N_DOCS = 2000


def _load_generator():
    spec = importlib.util.spec_from_file_location("bench_generate_corpus", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _shingles(text: str, lang: str) -> set:
    # Independent restatement of the documented definition: English = word 5-grams of
    # lowercased whitespace tokens, Chinese = character 5-grams of the raw text.
    seq = list(text) if lang == "zh" else text.lower().split()
    if len(seq) < 5:
        return {tuple(seq)} if seq else set()
    return {tuple(seq[i : i + 5]) for i in range(len(seq) - 4)}


def _jaccard(a: str, b: str, lang: str) -> float:
    sa, sb = _shingles(a, lang), _shingles(b, lang)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    if (
        not (CORPORA / "ag_news" / "test.csv").is_file()
        or not (CORPORA / "cnews_subset" / "cnews.val.txt").is_file()
    ):
        pytest.skip(f"real corpora not found at {CORPORA} (needs ag_news/ and cnews_subset/)")
    gen = _load_generator()
    tmp = tmp_path_factory.mktemp("gen")
    outs = []
    for name in ("a.jsonl", "b.jsonl"):
        out = tmp / name
        rc = gen.main(
            [
                "--docs", str(N_DOCS), "--out", str(out), "--seed", "7",
                "--near-dup-rate", "0.05", "--exact-dup-rate", "0.02",
                "--corpora", str(CORPORA), "--quiet",
            ]
        )  # fmt: skip
        assert rc == 0
        outs.append(out)
    return outs


def test_line_count_and_schema(generated):
    lines = generated[0].read_text(encoding="utf-8").splitlines()
    assert len(lines) == N_DOCS
    ids = set()
    for line in lines:
        doc = json.loads(line)
        assert set(doc) == {"id", "text", "lang", "source_doc", "label"}
        assert doc["lang"] in {"en", "zh"}
        assert doc["text"]
        ids.add(doc["id"])
    assert len(ids) == N_DOCS
    assert "gen-000000001" in ids


def test_deterministic_for_seed(generated):
    a, b = generated
    assert a.read_bytes() == b.read_bytes()
    pa_ = pq.read_table(a.with_name(a.name + ".pairs.parquet"))
    pb_ = pq.read_table(b.with_name(b.name + ".pairs.parquet"))
    assert pa_.equals(pb_)


def test_pairs_ground_truth(generated):
    out = generated[0]
    docs = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        docs[doc["id"]] = doc
    table = pq.read_table(out.with_name(out.name + ".pairs.parquet"))
    assert table.column_names == ["id_a", "id_b", "jaccard", "kind"]
    pairs = table.to_pylist()
    kinds = [p["kind"] for p in pairs]
    assert kinds.count("exact") == round(N_DOCS * 0.02)
    assert kinds.count("near") >= 0.9 * round(N_DOCS * 0.05)
    near_j = []
    for p in pairs:
        a, b = docs[p["id_a"]], docs[p["id_b"]]  # both ids exist
        assert p["id_a"] < p["id_b"]  # the copy comes after its source
        assert a["lang"] == b["lang"]
        if p["kind"] == "exact":
            assert p["jaccard"] == 1.0
            assert a["text"] == b["text"]
        else:
            assert p["kind"] == "near"
            assert a["text"] != b["text"]
            near_j.append(p["jaccard"])
        assert p["jaccard"] == pytest.approx(_jaccard(a["text"], b["text"], a["lang"]), abs=1e-12)
    # near-duplicates are spread over roughly [0.5, 0.95]
    assert min(near_j) < 0.65
    assert max(near_j) > 0.85
    assert all(0.4 < j < 1.0 for j in near_j)
