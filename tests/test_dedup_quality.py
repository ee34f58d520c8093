"""minhash_dedup quality on real text: planted near-duplicates of known Jaccard (the bench
generator), and the near-duplicate articles already present in cnews."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl
import pytest

from corpuskit.corpus import Corpus
from corpuskit.dedup.fit import Policy, near_state
from corpuskit.steps.minhash_dedup import MinHashDedup
from tests.conftest import ROOT, SHARED, needs_shared


def load_generator():
    script = ROOT / "bench" / "generate_corpus.py"
    spec = importlib.util.spec_from_file_location("gen_corpus", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pairs_in_clusters(state: pl.DataFrame) -> pl.DataFrame:
    members = state.select("id", "dup_cluster")
    return (
        members.join(members, on="dup_cluster", suffix="_b")
        .filter(pl.col("id") < pl.col("id_b"))
        .select(a="id", b="id_b")
    )


def precision_recall(found: pl.DataFrame, planted: pl.DataFrame, threshold: float):
    truth = planted.filter(pl.col("jaccard") >= threshold)
    on = {"left_on": ["a", "b"], "right_on": ["id_a", "id_b"]}
    tp = found.join(truth, how="semi", **on).height
    return tp / max(found.height, 1), tp / truth.height, truth.height


@pytest.mark.parametrize("threshold", [0.5, 0.7])
def test_planted_near_duplicates_precision_recall(tmp_path, threshold):
    needs_shared("ag_news/test.csv")
    needs_shared("cnews_subset/cnews.val.txt")
    gen = load_generator()
    out = tmp_path / "gen.jsonl"
    gen.generate(
        4000, out, {"en": 0.6, "zh": 0.4}, near_rate=0.08, exact_rate=0.02, seed=5, corpora=SHARED
    )
    docs = pl.read_ndjson(out).select("id", "text")  # no `lang`: the mode comes from the text
    files = []
    for i in range(3):
        files.append(tmp_path / f"part-{i}.parquet")
        docs.slice(i * 1400, 1400).write_parquet(files[-1], row_group_size=500)
    cfg = MinHashDedup.Config(threshold=threshold)
    corpus = Corpus(files, tmp_path / "w", 2)
    state, report = near_state(corpus, cfg.shingling(), cfg.lsh(), threshold, True, Policy(), "mh")
    planted = pl.read_parquet(f"{out}.pairs.parquet")
    precision, recall, positives = precision_recall(pairs_in_clusters(state), planted, threshold)
    print(
        f"threshold {threshold}: {positives} planted pairs at or above it, "
        f"precision {precision:.4f}, recall {recall:.4f}, {report}"
    )
    assert positives > 250
    assert precision >= 0.95 and recall >= 0.95


def cnews_state(tmp_path: Path, threshold: float, shingle: str = "auto"):
    path = needs_shared("cnews_subset/cnews.val.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    texts = [line.split("\t", 1)[1] for line in lines]
    df = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    df.write_parquet(tmp_path / "cnews.parquet", row_group_size=300)
    cfg = MinHashDedup.Config(threshold=threshold, shingle=shingle)
    return near_state(
        Corpus([tmp_path / "cnews.parquet"], tmp_path / "w", 2),
        cfg.shingling(),
        cfg.lsh(),
        threshold,
        True,
        Policy(),
        "mh",
    )


# Line numbers (0-based) of cnews.val.txt; the Jaccard of character 5-grams in brackets.
CNEWS_CLUSTERS = [
    {"200", "468", "688", "696", "955"},  # one ZOL phone article, 5 versions (0.77-0.92)
    {"220", "406"},  # 0.93
    {"95", "96"},  # Nikon D90 price notes, 0.79
    {"65", "360"},  # exam article under two headlines, 0.63
    {"383", "440"},  # Sony XR500E promotion, 0.52
]


def test_cnews_near_duplicates_with_character_shingles(tmp_path):
    state, report = cnews_state(tmp_path, 0.5)
    clusters = state.group_by("dup_cluster").agg(pl.col("id")).get_column("id").to_list()
    print(f"cnews clusters at 0.5: {sorted(sorted(c, key=int) for c in clusters)}; {report}")
    assert sorted(map(sorted, map(set, clusters))) == sorted(map(sorted, CNEWS_CLUSTERS))
    assert report.duplicates == 4 + 1 + 1 + 1 + 1
    # word shingles cannot see them: Chinese has no spaces between words
    (tmp_path / "words").mkdir()
    words, _ = cnews_state(tmp_path / "words", 0.5, shingle="word")
    assert words.height < state.height / 2
