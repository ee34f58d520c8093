"""Dedup steps in real recipe runs: global across files and workers, config errors, ids."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from corpuskit.engine.run import run_recipe
from corpuskit.engine.stages import build_steps
from corpuskit.recipe import RecipeError, recipe_from_dict
from tests.conftest import write_jsonl

WORDS = (
    "council members voted on the new budget for schools roads parks and libraries after "
    "a long debate about taxes housing transport water energy and public safety downtown"
).split()


def make_inputs(folder: Path, seed: int = 0) -> dict[str, str]:
    """Three JSONL files; copies of earlier documents land in later files. copy -> original."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    originals = [" ".join(rng.choice(WORDS) for _ in range(50)) for _ in range(30)]
    files: list[list[dict]] = [[], [], []]
    truth = {}
    for i, text in enumerate(originals):
        files[i % 3].append({"text": text, "n": i})
    for i in range(0, 30, 3):  # exact copies in the next file
        files[(i % 3) + 1].append({"text": originals[i], "n": 100 + i})
    for i in range(1, 30, 3):  # near copies: one word changed (Jaccard about 0.8)
        words = originals[i].split()
        words[25] = "budgetary"
        files[2].append({"text": " ".join(words), "n": 200 + i})
    for f, rows in enumerate(files):
        rng.shuffle(rows)
        write_jsonl(folder / f"part-{f}.jsonl", rows)
    return truth


def recipe(src: Path, out: Path, steps: list, workers: int = 2, **input_extra) -> dict:
    return {
        "input": {"path": str(src / "part-*.jsonl"), **input_extra},
        "output": {"path": str(out)},
        "executor": {"workers": workers, "unit_mb": 1},
        "steps": steps,
    }


def frames(out: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    kept = pl.read_parquet(sorted((out / "data").glob("*.parquet")))
    rej = sorted((out / "rejected").glob("*.parquet"))
    return kept, (pl.read_parquet(rej) if rej else pl.DataFrame())


@pytest.mark.slow  # two full runs with process pools (about 10-20 s on the shared box)
def test_recipe_dedups_across_files_and_workers(tmp_path):
    src = tmp_path / "src"
    make_inputs(src)
    steps = [{"exact_dedup": {}}, {"minhash_dedup": {"threshold": 0.7}}]
    m = run_recipe(recipe_from_dict(recipe(src, tmp_path / "out", steps))).manifest
    assert m["stages"] == [[], ["exact_dedup"], ["minhash_dedup"]]
    t = m["totals"]
    assert t["read"] == 30 + 10 + 10 == t["kept"] + t["rejected"]
    kept, rejected = frames(tmp_path / "out")
    assert kept.height == 30
    meta = kept["meta"].str.json_decode(pl.Struct({"n": pl.Int64}))
    assert sorted(meta.struct.field("n").to_list()) == list(range(30))  # originals survive
    exact = rejected.filter(pl.col("step") == "exact_dedup")
    near = rejected.filter(pl.col("step") == "minhash_dedup")
    assert exact.height == 10 and (exact["reason"] == "exact_dedup:duplicate").all()
    assert near.height == 10 and (near["reason"] == "minhash_dedup:near_duplicate").all()
    # every rejected copy names a kept original, usually in another file
    assert rejected["detail"].is_in(kept["id"].implode()).all()
    assert (rejected["source"] != rejected["detail"].str.replace(r":\d+$", "")).sum() >= 10
    ledger = {row["step"]: row for row in m["ledger"]}
    assert ledger["0:exact_dedup"]["counters"]["duplicates"] == 10
    assert ledger["1:minhash_dedup"]["counters"]["clusters"] == 10
    assert m["schema"]["dup_cluster"] == "String" and m["schema"]["exact_copies"] == "Int64"
    assert kept.filter(pl.col("dup_cluster_size") == 2).height == 10
    # the same result with one worker
    run_recipe(recipe_from_dict(recipe(src, tmp_path / "one", steps, workers=1)))
    kept1, rejected1 = frames(tmp_path / "one")
    assert kept1.sort("id").equals(kept.sort("id"))
    assert rejected1.sort("id").equals(rejected.sort("id"))


def test_repeated_input_ids_fail_with_a_clear_message(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_jsonl(src / "part-0.jsonl", [{"doc": "x", "text": "a"}, {"doc": "x", "text": "b"}])
    raw = recipe(src, tmp_path / "out", [{"minhash_dedup": {}}], id_field="doc")
    with pytest.raises(Exception, match=r"ids must be unique.*'x' x2.*id_field"):
        run_recipe(recipe_from_dict(raw))


@pytest.mark.parametrize(
    "step,config,message",
    [
        ("minhash_dedup", {"bands": 10}, "give both bands and rows"),
        ("minhash_dedup", {"bands": 20, "rows": 10}, "exceeds num_perm"),
        ("minhash_dedup", {"threshold": 1.5}, "threshold"),
        ("minhash_dedup", {"keep": "field"}, "keep: field needs `field`"),
        ("minhash_dedup", {"field": "score"}, "only used with keep: field"),
        ("minhash_dedup", {"keep": "biggest"}, "keep"),
        ("minhash_dedup", {"shingles": "word"}, "shingles"),
        ("minhash_dedup", {"weights": [-1, 1]}, "weights"),
        ("exact_dedup", {"normalize": {"case": True}}, "normalize.case"),
        ("exact_dedup", {"keep": "drop_all"}, "keep"),
        ("dedup_against", {}, "reference"),
        ("dedup_against", {"reference": "/nonexistent/folder"}, "no Parquet files"),
        ("dedup_against", {"reference": "REF", "text_column": "body"}, "'body' is not a column"),
        ("dedup_against", {"reference": "REF", "exact": False, "near": False}, "nothing to match"),
    ],
)
def test_config_errors_name_the_step_and_key(tmp_path, step, config, message):
    ref = tmp_path / "ref"
    ref.mkdir()
    pl.DataFrame({"text": ["x"]}).write_parquet(ref / "r.parquet")
    if config.get("reference") == "REF":
        config = {**config, "reference": str(ref)}
    raw = recipe(tmp_path, tmp_path / "out", [{step: config}])
    with pytest.raises(RecipeError, match=rf"steps\[0\] \({step}\).*{message}"):
        build_steps(recipe_from_dict(raw))


@pytest.mark.slow
def test_dedup_against_in_a_recipe(tmp_path):
    src = tmp_path / "src"
    make_inputs(src, seed=3)
    first = pl.read_ndjson(src / "part-0.jsonl")["text"].head(4)
    ref = tmp_path / "eval"
    ref.mkdir()
    pl.DataFrame({"id": [f"q{i}" for i in range(4)], "text": first}).write_parquet(
        ref / "eval.parquet"
    )
    step = {"dedup_against": {"reference": str(ref), "cache_dir": str(tmp_path / "cache")}}
    m = run_recipe(recipe_from_dict(recipe(src, tmp_path / "out", [step]))).manifest
    _, rejected = frames(tmp_path / "out")
    # the 4 texts, plus their exact copies elsewhere and any near copies
    assert rejected.height >= 4
    assert set(rejected["detail"]) == {"q0", "q1", "q2", "q3"}
    ledger = {row["step"]: row for row in m["ledger"]}
    assert ledger["0:dedup_against"]["counters"]["exact_matches"] >= 4
