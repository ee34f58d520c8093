"""A bad recipe fails before any data is read, naming the step (index and name) and the key."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from corpuskit.engine.stages import build_steps
from corpuskit.recipe import RecipeError, load_recipe, recipe_from_dict
from tests.conftest import ROOT, corpuskit_cmd, write_jsonl


def recipe(tmp_path, steps=None, **extra):
    f = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello world"}])
    raw = {
        "input": {"path": str(f)},
        "output": {"path": str(tmp_path / "out")},
        "steps": steps or [],
    }
    raw.update(extra)
    return raw


def error_of(raw) -> str:
    with pytest.raises(RecipeError) as e:
        r = recipe_from_dict(raw)
        build_steps(r)  # the engine builds the steps, checking their configs
        r.resolve_inputs()
    return str(e.value)


def test_valid_recipe(tmp_path):
    r = recipe_from_dict(recipe(tmp_path, [{"length_filter": {"min_chars": 5}}]))
    assert [e.name for e in build_steps(r)] == ["length_filter"]
    assert r.resolve_inputs()[0][0].format == "jsonl"


def test_unknown_step_names_index(tmp_path):
    msg = error_of(recipe(tmp_path, [{"length_filter": {}}, {"no_such_step": {}}]))
    assert "steps[1]" in msg and "no_such_step" in msg and "length_filter" in msg


def test_unknown_key_names_step_and_key(tmp_path):
    msg = error_of(recipe(tmp_path, [{"length_filter": {"min_charz": 5}}]))
    assert msg.startswith("steps[0] (length_filter): min_charz: unknown key")


def test_wrong_type_names_step_and_key(tmp_path):
    msg = error_of(recipe(tmp_path, [{"length_filter": {"min_chars": "lots"}}]))
    assert "steps[0] (length_filter): min_chars:" in msg and "integer" in msg


def test_cross_field_check(tmp_path):
    msg = error_of(recipe(tmp_path, [{"length_filter": {"min_chars": 9, "max_chars": 3}}]))
    assert "steps[0] (length_filter)" in msg and "max_chars" in msg


def test_missing_input_and_bad_keys(tmp_path):
    raw = recipe(tmp_path)
    raw["input"] = {"path": str(tmp_path / "nothing-*.jsonl")}
    assert "input[0].path: no file matches" in error_of(raw)
    raw = recipe(tmp_path)
    raw["input"]["txt_field"] = "body"
    assert "input.0.txt_field: unknown key" in error_of(raw)
    raw = recipe(tmp_path, outptu={"path": "x"})
    assert "outptu: unknown key" in error_of(raw)
    raw = recipe(tmp_path, executor={"kind": "spark"})
    assert "executor.kind" in error_of(raw)
    raw = recipe(tmp_path)
    raw["input"]["format"] = "xml"
    assert "input[0].format: unknown format 'xml'" in error_of(raw)
    raw = recipe(tmp_path)
    del raw["output"]
    assert "missing required key 'output'" in error_of(raw)


def test_step_item_shape(tmp_path):
    msg = error_of(recipe(tmp_path, [{"length_filter": {}, "other": {}}]))
    assert msg.startswith("steps[0]: each step must be a mapping of one step name")


def test_cli_validate_exit_codes(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(recipe(tmp_path, [{"length_filter": {"min_chars": 2}}])))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(recipe(tmp_path, [{"length_filter": {"max": 1}}])))
    ok = subprocess.run([*corpuskit_cmd(), "validate", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and "ok" in ok.stdout
    no = subprocess.run([*corpuskit_cmd(), "validate", str(bad)], capture_output=True, text=True)
    assert no.returncode == 2
    assert "steps[0] (length_filter): max: unknown key" in no.stderr
    assert "Traceback" not in no.stderr


def test_bundled_recipes_validate():
    """Data recipes load; training configs (a top-level `trainer` key) are the trainer's."""
    data = [
        path
        for path in sorted((ROOT / "recipes").glob("*.yaml"))
        if "trainer" not in (yaml.safe_load(path.read_text()) or {})
    ]
    assert len(data) >= 3
    for path in data:
        build_steps(load_recipe(path))


def test_overrides(tmp_path):
    f = write_jsonl(tmp_path / "other.jsonl", [{"text": "x"}])
    r = recipe_from_dict(recipe(tmp_path), {"input": [str(f)], "output": "elsewhere", "workers": 3})
    assert r.input[0].patterns == [str(f)]
    assert r.output.path == "elsewhere" and r.executor.workers == 3
