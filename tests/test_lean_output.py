"""Lean, typed output (issue 18, item 5): what decided in `detail`, output.columns, export;
and analyze runs (item 2), which drop nothing and say what each filter would have done."""

from __future__ import annotations

import json
import pickle
import subprocess
from pathlib import Path

import polars as pl
import pytest

from corpuskit.engine.run import run_recipe
from corpuskit.recipe import RecipeError, load_recipe
from corpuskit.schema import DETAIL_COLUMN, REASON_COLUMN
from corpuskit.steps.base import FilterStep
from corpuskit.steps.decisions import comparisons
from corpuskit.steps.length_filter import LengthFilter
from tests.conftest import corpuskit_cmd, write_jsonl

LONG = "A sentence that is long enough to pass the length filter of this recipe. " * 2
ROWS = [
    *({"id": f"k{i}", "text": f"{LONG} number {i}."} for i in range(6)),
    {"id": "s1", "text": "too short"},
    {"id": "s2", "text": "short too"},
    {"id": "d1", "text": f"{LONG} number 0."},  # a copy of k0
]


def make_recipe(tmp_path: Path, extra: str = "") -> Path:
    write_jsonl(tmp_path / "in.jsonl", ROWS)
    path = tmp_path / "r.yaml"
    path.write_text(
        f"input: {{path: {tmp_path / 'in.jsonl'}}}\n"
        f"output: {{path: {tmp_path / 'out'}{extra}}}\n"
        "executor: {workers: 1}\n"
        "steps:\n  - length_filter: {min_chars: 40}\n  - exact_dedup: {}\n",
        encoding="utf-8",
    )
    return path


def test_detail_says_what_decided() -> None:
    step = LengthFilter(LengthFilter.Config(min_chars=40, max_symbol_ratio=0.5), "length_filter")
    batch = pl.DataFrame({"id": ["a", "b", "c"], "text": ["tiny", LONG, "$%#&*@!$%#&*@!" * 4]})
    out = step.process(batch).batch
    assert out[REASON_COLUMN].to_list() == [
        "length_filter:too_short",
        None,
        "length_filter:too_many_symbols",
    ]
    assert out[DETAIL_COLUMN][0] == "length_chars=4 < 40"
    assert out[DETAIL_COLUMN][1] is None
    assert out[DETAIL_COLUMN][2].startswith("symbol_ratio=") and " > 0.5" in out[DETAIL_COLUMN][2]


class _Scored(FilterStep):
    """A filter whose signal column's type depends on the batch (floats for one-row ones)."""

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        score = pl.col("text").str.len_chars()
        return batch.with_columns(score=score if batch.height > 1 else score.cast(pl.Float64))

    def rules(self) -> list[tuple[str, pl.Expr]]:
        return [("short", pl.col("score") < 5)]


def test_detail_built_once_per_schema_and_not_pickled() -> None:
    step = _Scored(name="s")
    two = pl.DataFrame({"id": ["a", "b"], "text": ["tiny", LONG]})
    for _ in range(2):  # the second batch of a schema reuses the built expressions
        assert step.process(two).batch[DETAIL_COLUMN].to_list() == ["score=4 < 5", None]
    assert len(step._decisions) == 1
    one = step.process(pl.DataFrame({"id": ["a"], "text": ["tiny"]})).batch
    assert one[DETAIL_COLUMN].to_list() == ["score=4.0 < 5"]  # another schema, rebuilt
    assert len(step._decisions) == 2
    copy = pickle.loads(pickle.dumps(step))
    assert "_decisions" not in copy.__dict__
    assert copy.process(two).batch[DETAIL_COLUMN].to_list() == ["score=4 < 5", None]


def test_comparisons_read_from_rule_expressions() -> None:
    rule = (pl.col("words") < 50) | (pl.lit(0.3) < pl.col("ratio")).fill_null(False)
    assert [str(c) for c in comparisons(rule)] == ["words < 50", "ratio > 0.3"]
    assert comparisons(pl.col("lang").is_in(["en"]).not_()) == []


def test_rejected_rows_in_a_run_carry_the_detail(tmp_path: Path) -> None:
    run_recipe(load_recipe(make_recipe(tmp_path)))
    rejected = pl.read_parquet(tmp_path / "out" / "rejected")
    short = rejected.filter(pl.col("reason") == "length_filter:too_short")
    assert sorted(short["detail"]) == ["length_chars=9 < 40", "length_chars=9 < 40"]


def test_output_columns_lean_and_list(tmp_path: Path) -> None:
    run_recipe(load_recipe(make_recipe(tmp_path, ", columns: lean")))
    lean = pl.read_parquet(tmp_path / "out" / "data")
    assert set(lean.columns) == {"id", "text", "source", "url", "title", "meta", "flags"}
    run_recipe(load_recipe(make_recipe(tmp_path, ", columns: [length_words]")), overwrite=True)
    listed = pl.read_parquet(tmp_path / "out" / "data")
    assert "length_words" in listed.columns and "length_chars" not in listed.columns
    with pytest.raises(RecipeError, match="no step adds 'nope'"):
        run_recipe(load_recipe(make_recipe(tmp_path, ", columns: [nope]")), overwrite=True)


def test_analyze_drops_nothing_and_records_would_be_reasons(tmp_path: Path) -> None:
    recipe = load_recipe(make_recipe(tmp_path), {"analyze": True})
    manifest = run_recipe(recipe).manifest
    assert manifest["analyze"] is True
    assert manifest["totals"] == {"read": 9, "kept": 9, "rejected": 0}
    kept = pl.read_parquet(tmp_path / "out" / "data")
    would = dict(zip(kept["id"], kept["would_reject"].to_list(), strict=True))
    assert would["s1"] == ["length_filter:too_short"]
    assert would["k1"] == []
    assert sorted([would["k0"], would["d1"]]) == [[], ["exact_dedup:duplicate"]]
    counters = {r["step"]: r["counters"] for r in manifest["ledger"]}
    assert counters["0:length_filter"]["would length_filter:too_short"] == 2
    # the signals of every document are there to choose thresholds from
    assert kept["length_chars"].null_count() == 0


@pytest.mark.slow
def test_analyze_report_shows_would_be_decisions(tmp_path: Path) -> None:
    pytest.importorskip("altair")
    from corpuskit.report import build_report

    run_recipe(load_recipe(make_recipe(tmp_path), {"analyze": True}))
    html = build_report(tmp_path / "out", sample=0).read_text(encoding="utf-8")
    assert "analyze run" in html and "would be rejected here" in html
    assert "<b>length_filter:too_short</b>: 2 documents" in html


def test_export_jsonl_and_hf(tmp_path: Path) -> None:
    run_recipe(load_recipe(make_recipe(tmp_path)))
    out = tmp_path / "out"
    done = subprocess.run(
        [*corpuskit_cmd(), "export", str(out), "--to", "jsonl", str(tmp_path / "j")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = [
        json.loads(line)
        for f in sorted((tmp_path / "j").glob("*.jsonl"))
        for line in f.read_text(encoding="utf-8").splitlines()
    ]
    kept = pl.read_parquet(out / "data")
    assert sorted(r["id"] for r in lines) == sorted(kept["id"])
    done = subprocess.run(
        [*corpuskit_cmd(), "export", str(out), "--to", "hf", str(tmp_path / "hf")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    card = (tmp_path / "hf" / "README.md").read_text(encoding="utf-8")
    assert "path: data/train-*.parquet" in card
    files = sorted((tmp_path / "hf" / "data").glob("train-*.parquet"))
    assert pl.read_parquet(files).height == kept.height


def test_hf_export_loads_with_datasets(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="datasets is not a corpuskit dependency")
    from corpuskit.output.export import export_run

    run_recipe(load_recipe(make_recipe(tmp_path)))
    export_run(tmp_path / "out", "hf", tmp_path / "hf")
    ds = datasets.load_dataset(str(tmp_path / "hf"), split="train")
    kept = pl.read_parquet(tmp_path / "out" / "data")
    assert sorted(ds["id"]) == sorted(kept["id"])


@pytest.mark.slow
def test_report_against_another_run_shows_changed_fates(tmp_path: Path) -> None:
    pytest.importorskip("altair")
    from corpuskit.report import build_report

    strict = tmp_path / "strict"
    strict.mkdir()
    loose = tmp_path / "loose"
    loose.mkdir()
    run_recipe(load_recipe(make_recipe(strict)))
    recipe = make_recipe(loose)
    recipe.write_text(recipe.read_text().replace("min_chars: 40", "min_chars: 5"))
    run_recipe(load_recipe(recipe))
    html = build_report(strict / "out", against=loose / "out", sample=0).read_text()
    # the two short documents are rejected here and kept there
    assert "<b>2</b> documents changed fate" in html
    assert "length_filter:too_short → kept: 2" in html


def test_meta_as_a_struct(tmp_path: Path) -> None:
    rows = [{"id": f"m{i}", "text": f"{LONG} {i}", "topic": "news", "n": i} for i in range(5)]
    write_jsonl(tmp_path / "in.jsonl", rows)
    path = tmp_path / "r.yaml"
    path.write_text(
        f"input: {{path: '{tmp_path}/in*.jsonl'}}\n"
        f"output: {{path: {tmp_path / 'out'}, meta: struct}}\n"
        "executor: {workers: 1}\n",
        encoding="utf-8",
    )
    manifest = run_recipe(load_recipe(path)).manifest
    kept = pl.read_parquet(tmp_path / "out" / "data")
    assert kept.schema["meta"] == pl.Struct({"topic": pl.String, "n": pl.Int64})
    assert kept["meta"].struct.field("n").sort().to_list() == [0, 1, 2, 3, 4]
    assert manifest["schema"]["meta"].startswith("Struct")
    # a document whose fields do not fit stops the run, naming it
    write_jsonl(tmp_path / "in2.jsonl", [{"id": "odd", "text": LONG, "source_url": "x"}])
    with pytest.raises(Exception, match=r"'odd'.*output\.meta: json"):
        run_recipe(load_recipe(path), overwrite=True)


@pytest.mark.slow
def test_report_of_a_lean_run_says_its_histograms_lack_kept_documents(tmp_path: Path) -> None:
    pytest.importorskip("altair")
    from corpuskit.report import build_report

    run_recipe(load_recipe(make_recipe(tmp_path, ", columns: lean")))
    html = build_report(tmp_path / "out", sample=0).read_text(encoding="utf-8")
    assert "count only the rejected documents" in html
