"""Plugin discovery through entry points: built-ins, the example plugin, a broken plugin."""

from __future__ import annotations

import subprocess

import polars as pl
import pytest

from corpuskit import registry
from corpuskit.engine.run import run_recipe
from corpuskit.engine.stages import build_steps
from corpuskit.recipe import RecipeError, recipe_from_dict
from tests.conftest import ROOT, corpuskit_cmd, install_distribution, write_jsonl


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
        build_steps(recipe_from_dict(raw))


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
        build_steps(recipe_from_dict(raw))


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


def readme_plugin() -> tuple[str, str]:
    """The README's plugin example: its Python module and its pyproject entry point."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Writing a plugin", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    toml = section.split("```toml\n", 1)[1].split("```", 1)[0]
    return code, toml


def test_readme_plugin_is_complete_short_and_runs(tmp_path, monkeypatch):
    code, toml = readme_plugin()
    assert len(code.splitlines()) + len(toml.splitlines()) < 40
    site = tmp_path / "site"
    (site / "my_filters").mkdir(parents=True)
    (site / "my_filters" / "__init__.py").write_text(code, encoding="utf-8")
    # the TOML table as entry_points.txt holds it: [corpuskit.steps] / name = module:Class
    ini = toml.split("\n", 1)[1].replace("project.entry-points.", "").replace('"', "")
    install_distribution(site, "my-filters", ini, monkeypatch)
    assert registry.steps()["shouting"].kind == "filter"
    texts = ["Quiet words here.", "LOUD WORDS HERE!", "MOSTLY loud WORDS"]
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in texts])
    raw = {
        "input": {"path": str(src)},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"workers": 1},
        "steps": [{"shouting": {"max_upper_ratio": 0.4}}],
    }
    m = run_recipe(recipe_from_dict(raw)).manifest
    assert m["rejected_by_reason"] == {"shouting:shouting": 2}
    (row,) = [r for r in m["ledger"] if r["step"] == "0:shouting"]
    assert row["counters"] == {"all_caps": 1}
    kept = pl.read_parquet(tmp_path / "out" / "data")
    assert kept["text"].to_list() == texts[:1] and kept["upper_ratio"].to_list() == [1 / 14]


def test_a_step_that_overrides_process_is_refused():
    from corpuskit.steps import MapStep

    with pytest.raises(TypeError, match=r"overrides `process`.*self\.count"):

        class Sneaky(MapStep):
            def process(self, batch, state=None):
                return batch
