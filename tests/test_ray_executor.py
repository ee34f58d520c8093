"""The Ray executor: same output as the local executor, retries, resume, and the missing-Ray error.

One local Ray instance (2 CPUs) is shared by the module; starting Ray takes seconds, so the
tests that need it are marked slow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml

from corpuskit import registry
from corpuskit.engine.run import run_recipe
from corpuskit.engine.worker import StepFailed
from corpuskit.recipe import RecipeError, recipe_from_dict
from corpuskit.steps import MapStep, StepConfig
from tests.conftest import ROOT, corpuskit_cmd, needs_shared
from tests.test_engine import frames, make_corpus, raw_recipe

ENTRY_POINTS = """\
[corpuskit.steps]
first_copy = tests.helpers:FirstCopy
checksum = tests.helpers:Checksum
boom = tests.helpers:Boom
slow_identity = tests.helpers:SlowIdentity
flaky_once = tests.test_ray_executor:FlakyOnce
record_ids = tests.test_ray_executor:RecordIds
poison = tests.test_ray_executor:Poison
"""


# --- test-only steps (imported by the Ray workers from this module) -------------------------
class FlakyConfig(StepConfig):
    folder: str
    crash: bool = False  # kill the worker process instead of raising
    only: str | None = None  # fail only batches holding an id that ends with this


class FlakyOnce(MapStep):
    """Fails the first time it sees a batch (keyed by its first id): a transient fault."""

    Config = FlakyConfig

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        c = self.config
        if batch.height == 0 or (c.only and not batch["id"].str.ends_with(c.only).any()):
            return batch
        key = hashlib.md5(batch["id"][0].encode()).hexdigest()
        try:
            os.close(os.open(Path(c.folder) / key, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return batch
        if c.crash:
            os._exit(1)
        raise RuntimeError("injected failure")


class RecordConfig(StepConfig):
    log: str


class RecordIds(MapStep):
    """Appends the first id of every batch it processes to a log: which units ran."""

    Config = RecordConfig

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height:
            with open(self.config.log, "a", encoding="utf-8") as f:
                f.write(batch["id"][0] + "\n")
        return batch


class PoisonConfig(StepConfig):
    path: str
    only: str


class Poison(MapStep):
    """Fails on the batch holding id `*only` while the file `path` exists."""

    Config = PoisonConfig

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        if Path(self.config.path).exists() and batch["id"].str.ends_with(self.config.only).any():
            raise ValueError("poisoned")
        return batch


# --- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The test steps as a real distribution on sys.path (as conftest's plugin_site)."""
    folder = tmp_path_factory.mktemp("ray_site")
    dist = folder / "corpuskit_raytests-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: corpuskit-raytests\nVersion: 0.0\n"
    )
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    sys.path.insert(0, str(folder))
    registry.refresh()
    yield folder
    sys.path.remove(str(folder))
    registry.refresh()


@pytest.fixture(scope="module")
def ray_instance(site):
    """One local Ray instance for the module; its workers import corpuskit and these tests."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'corpuskit[ray]')")
    path = os.pathsep.join([str(ROOT), str(site)])
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        logging_level=logging.WARNING,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    yield
    ray.shutdown()


@pytest.fixture
def site_env(site) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(site), env.get("PYTHONPATH", "")])
    return env


# --- helpers ----------------------------------------------------------------------------------
def on_ray(raw: dict, **executor) -> dict:
    spec = {k: v for k, v in (raw.get("executor") or {}).items() if k in ("unit_mb", "workers")}
    return {**raw, "executor": {**spec, "kind": "ray", **executor}}


def run(raw: dict, **kw) -> dict:
    return run_recipe(recipe_from_dict(raw), **kw).manifest


def without_seconds(ledger: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in ledger]


def assert_same_output(got: Path, want: Path, same_ledger: bool = True) -> None:
    """Same shard files, same kept rows, same rejected rows and reasons, same manifest counts."""
    g, w = frames(got), frames(want)
    assert g[2] == w[2]  # shard file names: same units, same shard cuts
    assert g[0].equals(w[0])
    assert g[1].equals(w[1])
    mg = json.loads((got / "manifest.json").read_text())
    mw = json.loads((want / "manifest.json").read_text())
    for key in ("totals", "rejected_by_reason", "shards", "rejected_shards", "schema", "units"):
        assert mg[key] == mw[key], key
    if same_ledger:
        assert without_seconds(mg["ledger"]) == without_seconds(mw["ledger"])
    assert not (got / "_state").exists() and not (got / "_work").exists()
    leftovers = [p.name for d in ("data", "rejected") for p in (got / d).iterdir()]
    assert not [n for n in leftovers if n.startswith(".")]


# --- tests ------------------------------------------------------------------------------------
def test_missing_ray_says_how_to_install(tmp_path, monkeypatch):
    src = make_corpus(tmp_path / "src", files=1, docs=30)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if absent
    with pytest.raises(RecipeError, match=r"pip install 'corpuskit\[ray\]'"):
        recipe_from_dict(on_ray(raw_recipe(src, tmp_path / "out")))
    monkeypatch.delitem(sys.modules, "corpuskit.engine.ray_executor", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'corpuskit\[ray\]'"):
        import corpuskit.engine.ray_executor  # noqa: F401
    with pytest.raises(RecipeError, match="address: only for kind: ray"):
        recipe_from_dict({**raw_recipe(src, tmp_path / "o"), "executor": {"address": "auto"}})


def test_executor_override_switches_kind(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'corpuskit[ray]')")
    src = make_corpus(tmp_path / "src", files=1, docs=30)
    raw = on_ray(raw_recipe(src, tmp_path / "out"), address="auto", max_retries=5)
    assert recipe_from_dict(raw).executor.address == "auto"
    local = recipe_from_dict(raw, {"executor": "local"}).executor
    assert local.kind == "local" and local.address is None and local.workers == 2
    with pytest.raises(RecipeError, match="address: only for kind: ray"):
        recipe_from_dict(raw_recipe(src, tmp_path / "o"), {"ray_address": "ray://h:10001"})
    ray_spec = recipe_from_dict(
        raw_recipe(src, tmp_path / "o"), {"executor": "ray", "ray_address": "ray://h:10001"}
    ).executor
    assert ray_spec.kind == "ray" and ray_spec.address == "ray://h:10001"
    assert ray_spec.max_retries == 3 and ray_spec.cpus_per_task == 1


@pytest.mark.slow
def test_news_recipe_on_ray_equals_local(tmp_path, ray_instance):
    raw = yaml.safe_load((ROOT / "recipes" / "news.yaml").read_text())
    raw["input"]["path"] = str(ROOT / raw["input"]["path"])
    # a global step fitted as a Ray map-reduce, and a filter after it
    raw["steps"] += [
        {"remove_frequent_lines": {"min_docs": 2}},
        {"length_filter": {"min_chars": 40}},
    ]
    local, ray_out = tmp_path / "local", tmp_path / "ray"
    run({**raw, "output": {"path": str(local)}})
    m = run(on_ray({**raw, "output": {"path": str(ray_out)}}))
    assert any(stage[0] == "remove_frequent_lines" for stage in m["stages"])
    ledger = {row["step"].split(":", 1)[-1]: row for row in m["ledger"]}
    assert ledger["remove_frequent_lines"]["counters"]["lines_removed"] > 100
    assert m["recipe"]["executor"]["kind"] == "ray"
    assert_same_output(ray_out, local)


@pytest.mark.slow
def test_shared_corpora_with_global_steps_on_ray_equals_local(tmp_path, ray_instance):
    corpora = needs_shared("cnews_subset").parent
    steps = [
        {"fix_unicode": {}},
        {"length_filter": {"min_chars": 40}},
        {"remove_frequent_lines": {"min_docs": 3}},  # fitted as a Ray map-reduce
        {"first_copy": {}},  # fitted by step.fit in a Ray task
        {"checksum": {}},
    ]
    if "exact_dedup" in registry.steps():
        steps.insert(3, {"exact_dedup": {}})
    raw = {
        "input": [
            {"path": str(corpora / "cnews_subset" / "cnews.val.txt"), "format": "labelled_text"},
            {
                "path": str(corpora / "ag_news" / "test.csv"),
                "format": "csv",
                "columns": ["label", "title", "description"],
                "text_field": "description",
                "title_field": "title",
            },
        ],
        "executor": {"unit_mb": 0.5, "workers": 2},
        "steps": steps,
    }
    local, ray_out = tmp_path / "local", tmp_path / "ray"
    ml = run({**raw, "output": {"path": str(local)}})
    m = run(on_ray({**raw, "output": {"path": str(ray_out)}}))
    assert m["units"] > 4 and len(m["stages"]) == len(steps) - 2
    rejected = m["rejected_by_reason"]
    assert (
        rejected.get("remove_frequent_lines:empty", 0)
        + rejected.get("first_copy:duplicate", 0)
        + sum(v for k, v in rejected.items() if k.startswith("exact_dedup"))
        > 0
    )
    ledger = {row["step"].split(":")[-1]: row for row in m["ledger"]}
    assert ledger["remove_frequent_lines"]["counters"]["lines_removed"] > 0
    assert ml["totals"] == m["totals"]
    assert_same_output(ray_out, local)


@pytest.mark.slow
def test_failed_tasks_are_retried_by_ray(tmp_path, ray_instance):
    src = make_corpus(tmp_path / "src", files=2, docs=300)
    flaky, crash = tmp_path / "flaky", tmp_path / "crash"
    flaky.mkdir()
    crash.mkdir()
    steps = [{"length_filter": {"min_chars": 30}}, {"first_copy": {}}]
    faults = [
        {"flaky_once": {"folder": str(flaky)}},  # every batch raises once
        # one worker dies once, after the unit wrote its reader rejects to a temporary file
        {"flaky_once": {"folder": str(crash), "crash": True, "only": "part-0.jsonl:13"}},
    ]
    want = tmp_path / "want"
    run(raw_recipe(src, want, steps))
    got = tmp_path / "got"
    m = run(on_ray(raw_recipe(src, got, faults + steps), max_retries=3))
    assert len(list(crash.iterdir())) == 1
    assert len(list(flaky.iterdir())) == m["units"] > 5  # every unit failed once, then passed
    assert_same_output(got, want, same_ledger=False)


@pytest.mark.slow
def test_boom_fails_with_the_step_and_unit_named(tmp_path, ray_instance):
    src = make_corpus(tmp_path / "src", files=1, docs=50)
    (src / "part-9.jsonl").write_text('{"text": "this one says BOOM"}\n')
    with pytest.raises(StepFailed, match=r"steps\[0\] \(boom\) failed on .*part-9.jsonl.*BOOM"):
        run(on_ray(raw_recipe(src, tmp_path / "out", [{"boom": {}}]), max_retries=0))


@pytest.mark.slow
def test_failed_run_resumes_without_redoing_units(tmp_path, ray_instance):
    src = make_corpus(tmp_path / "src", files=2, docs=300)
    log, poison = tmp_path / "ids.log", tmp_path / "poison"
    poison.touch()
    steps = [{"length_filter": {"min_chars": 30}}, {"first_copy": {}}]
    probes = [
        {"record_ids": {"log": str(log)}},
        {"poison": {"path": str(poison), "only": "part-1.jsonl:150"}},
    ]
    want = tmp_path / "want"
    run(raw_recipe(src, want, steps))
    got = tmp_path / "got"
    raw = on_ray(raw_recipe(src, got, probes + steps), max_retries=1)
    with pytest.raises(StepFailed, match=r"steps\[1\] \(poison\) failed on .*part-1.jsonl"):
        run(raw)
    done = sorted(p.stem for p in (got / "_state" / "stage-0").glob("*.json"))
    assert len(done) >= 3 and not (got / "manifest.json").exists()
    finished = set()  # ids of the documents of the units that finished before the failure
    for key in done:
        for folder, prefix in (
            (got / "_work" / "stage-0", "part-"),
            (got / "rejected", "part-s0-"),
        ):
            for shard in folder.glob(f"{prefix}{key}-*.parquet"):
                finished |= set(pl.read_parquet(shard, columns=["id"])["id"])
    assert finished & set(log.read_text().splitlines())
    log.unlink()
    poison.unlink()
    outcome = run_recipe(recipe_from_dict(raw))
    assert outcome.status == "resume"
    again = set(log.read_text().splitlines())
    assert again and not again & finished  # finished units were not run again
    assert_same_output(got, want, same_ledger=False)


@pytest.mark.slow
def test_cli_kill_9_then_resume_on_ray(tmp_path, site_env):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'corpuskit[ray]')")
    src = make_corpus(tmp_path / "src", files=2, docs=300)
    steps = [
        {"slow_identity": {"seconds": 0.2}},
        {"length_filter": {"min_chars": 30}},
        {"first_copy": {}},
    ]
    want = tmp_path / "want"
    run(raw_recipe(src, want, steps[1:]))
    out = tmp_path / "out"
    raw = raw_recipe(src, out, steps)
    raw["executor"] = {"unit_mb": raw["executor"]["unit_mb"], "num_cpus": 2}
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(yaml.safe_dump(raw))
    cmd = [*corpuskit_cmd(), "run", str(recipe_file), "--quiet", "--ray-address", "local"]
    proc = subprocess.Popen(cmd, env=site_env, stderr=subprocess.PIPE, start_new_session=True)
    markers = out / "_state" / "stage-0"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if markers.exists() and len(list(markers.glob("*.json"))) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray instance it started
    proc.wait()
    assert not (out / "manifest.json").exists()
    p = subprocess.run(cmd, env=site_env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert_same_output(out, want, same_ledger=False)
