"""Plugin discovery through entry points: built-ins, the example plugin, a broken plugin."""

from __future__ import annotations

import subprocess

import polars as pl
import pytest

from corpuskit import registry
from corpuskit.engine.run import run_recipe
from corpuskit.recipe import RecipeError, recipe_from_dict
from tests.conftest import corpuskit_cmd, write_jsonl


def test_builtins_register_through_entry_points():
    found = registry.discover("steps")
    assert found.providers["length_filter"] == "corpuskit"
    assert set(registry.readers()) >= {"jsonl", "csv", "tsv", "parquet", "text", "labelled_text"}


def test_example_plugin_is_installed_and_discovered():
    found = registry.discover("steps")
    if "blocklist" not in found.loaded:
        pytest.fail("plugins/example-filter is not installed: run `make setup`")
    assert found.providers["blocklist"] == "corpuskit-blocklist"
    assert found.loaded["blocklist"].kind == "filter"


def test_recipe_with_example_plugin(tmp_path):
    words = tmp_path / "terms.txt"
    words.write_text("# spam terms\ncasino\n赌场\n", encoding="utf-8")
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"text": "Quarterly earnings beat expectations."},
            {"text": "Best CASINO bonus, play tonight"},
            {"text": "澳门赌场开业"},
            {"text": "Limited offer: buy   now and save"},
        ],
    )
    raw = {
        "input": {"path": str(src)},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"workers": 1},
        "steps": [{"blocklist": {"files": [str(words)], "patterns": [r"buy\s+now"]}}],
    }
    m = run_recipe(recipe_from_dict(raw)).manifest
    assert m["totals"] == {"read": 4, "kept": 1, "rejected": 3}
    rejected = pl.read_parquet(tmp_path / "out" / "rejected")
    assert sorted(rejected["reason"]) == ["blocklist:pattern", "blocklist:word", "blocklist:word"]
    kept = pl.read_parquet(tmp_path / "out" / "data")
    assert kept["blocklist_hits"].to_list() == [0]


def test_example_plugin_config_errors(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    raw = {
        "input": {"path": str(src)},
        "output": {"path": str(tmp_path / "o")},
        "steps": [{"blocklist": {"patterns": ["(unclosed"]}}],
    }
    with pytest.raises(RecipeError, match=r"steps\[0\] \(blocklist\): patterns: '\(unclosed'"):
        recipe_from_dict(raw)


def test_broken_plugin_reported_without_breaking_others(plugin_site, tmp_path):
    found = registry.discover("steps")
    assert "broken_plugin" in found.errors
    assert "corpuskit_no_such_module" in found.errors["broken_plugin"]
    assert "corpuskit-testplugins" in found.errors["broken_plugin"]
    assert {"length_filter", "first_copy"} <= set(found.loaded)
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    raw = {
        "input": {"path": str(src)},
        "output": {"path": str(tmp_path / "o")},
        "steps": [{"broken_plugin": {}}],
    }
    with pytest.raises(
        RecipeError, match=r"steps\[0\] \(broken_plugin\): the plugin failed to load"
    ):
        recipe_from_dict(raw)


def test_cli_steps_lists_kind_package_and_broken(plugin_site):
    p = subprocess.run(
        [*corpuskit_cmd(), "steps"],
        capture_output=True,
        text=True,
        env={**plugin_site, "COLUMNS": "200"},
    )
    assert p.returncode == 0, p.stderr
    lines = {line.split()[1]: line for line in p.stdout.splitlines() if line.startswith("│")}
    assert "filter" in lines["length_filter"] and "corpuskit" in lines["length_filter"]
    assert "corpuskit-blocklist" in lines["blocklist"]
    assert "global" in lines["first_copy"]
    assert "broken" in lines["broken_plugin"] and "failed to load" in lines["broken_plugin"]
