"""Loud failures (issue 18, item 3): a run whose input is all rejected exits non-zero naming
the step and its top reason; validate reads the first records; a record's `id` is its id."""

from __future__ import annotations

import subprocess
from pathlib import Path

import polars as pl

from corpuskit.engine.checks import rejection_failure
from tests.conftest import corpuskit_cmd, write_jsonl

DOCS = [
    {"id": f"d{i}", "body": f"Document number {i} says something long enough to keep here."}
    for i in range(12)
]


def recipe(tmp_path: Path, text_field: str, extra: str = "") -> Path:
    write_jsonl(tmp_path / "in.jsonl", DOCS)
    path = tmp_path / "r.yaml"
    path.write_text(
        f"input: {{path: {tmp_path / 'in.jsonl'}, text_field: {text_field}{extra}}}\n"
        f"output: {{path: {tmp_path / 'out'}}}\n"
        "executor: {workers: 1}\n"
        "steps:\n  - length_filter: {min_chars: 20}\n",
        encoding="utf-8",
    )
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*corpuskit_cmd(), *args], capture_output=True, text=True, timeout=300)


def test_missing_text_field_fails_the_run_naming_step_and_reason(tmp_path: Path) -> None:
    done = run("run", str(recipe(tmp_path, "text")), "--quiet")
    assert done.returncode == 3, done.stderr
    assert "read rejected 12 of the 12 records read (100%)" in done.stderr
    assert "top reason read:missing_text_field (12)" in done.stderr
    # one line, however long
    assert len([line for line in done.stderr.splitlines() if "error" in line]) == 1


def test_fail_share_is_configurable(tmp_path: Path) -> None:
    rows = [*DOCS[:4], *({"id": f"s{i}", "body": "short"} for i in range(6))]
    write_jsonl(tmp_path / "in.jsonl", rows)
    r = recipe(tmp_path, "body")
    write_jsonl(tmp_path / "in.jsonl", rows)
    ok = run("run", str(r), "--quiet", "--overwrite")
    assert ok.returncode == 0, ok.stderr
    bad = run("run", str(r), "--quiet", "--overwrite", "--fail-share", "0.5")
    assert bad.returncode == 3
    assert "0:length_filter rejected 6 of the 10 records read (60%)" in bad.stderr
    assert "top reason length_filter:too_short (6)" in bad.stderr


def test_rejection_failure_on_a_manifest() -> None:
    manifest = {
        "totals": {"read": 10},
        "ledger": [
            {"step": "read", "rejected": 0, "reasons": {}},
            {"step": "0:language", "rejected": 9, "reasons": {"language:not_kept": 9}},
        ],
    }
    assert rejection_failure(manifest, 1.0) is None
    assert "0:language rejected 9" in rejection_failure(manifest, 0.9)
    assert rejection_failure({"totals": {"read": 0}, "ledger": []}) == "no input record was read"


def test_validate_reports_a_missing_text_or_id_field(tmp_path: Path) -> None:
    done = run("validate", str(recipe(tmp_path, "text")))
    assert done.returncode == 2
    assert "text_field 'text' is missing from the first 12 records" in done.stderr
    assert "(their fields: body, id)" in done.stderr
    done = run("validate", str(recipe(tmp_path, "body", ", id_field: doc_id")))
    assert done.returncode == 2
    assert "id_field 'doc_id' is missing" in done.stderr
    ok = run("validate", str(recipe(tmp_path, "body")))
    assert ok.returncode == 0, ok.stderr


def test_a_records_id_field_is_used_by_default(tmp_path: Path) -> None:
    done = run("run", str(recipe(tmp_path, "body")), "--quiet")
    assert done.returncode == 0, done.stderr
    kept = pl.read_parquet(tmp_path / "out" / "data")
    assert sorted(kept["id"]) == sorted(d["id"] for d in DOCS)
    assert not kept["meta"].str.contains('"id"').any()
