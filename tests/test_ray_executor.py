"""The Ray backend: same output as the local one, retries, resume, and the missing-Ray error.

Per-document stages run as a Ray task per unit; the fits run their maps as Ray tasks: a
traced minhash_dedup (a subclass whose fit wraps `Corpus.map`) leaves a marker per mapped
call, naming the process that ran it.

One local Ray instance (2 CPUs) is shared by the module; starting Ray takes seconds, so the
tests that need it are marked slow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from corpuskit import registry
from corpuskit.dedup.fit import DuplicateIds
from corpuskit.engine.run import run_recipe
from corpuskit.engine.worker import StepFailed
from corpuskit.progress import Progress
from corpuskit.recipe import RecipeError, recipe_from_dict
from corpuskit.steps import Corpus, MapStep, StepConfig
from corpuskit.steps.minhash_dedup import MinHashDedup, MinHashDedupConfig
from tests.conftest import ROOT, corpuskit_cmd, needs_shared, write_jsonl
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
count_setup = tests.test_ray_executor:CountSetup
traced_minhash_dedup = tests.test_ray_executor:TracedMinHash
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
    marker: str
    only: str


def poison_marker(marker: str) -> Path:
    """The marker file as a name, not a path in the config: a file a step's config names
    is part of the run's identity, and removing it would make the resume a new run."""
    return Path(tempfile.gettempdir()) / f"corpuskit-poison-{marker}"


class Poison(MapStep):
    """Fails on the batch holding id `*only` while the marker file exists."""

    Config = PoisonConfig

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        if (
            poison_marker(self.config.marker).exists()
            and batch["id"].str.ends_with(self.config.only).any()
        ):
            raise ValueError("poisoned")
        return batch


class CountSetup(MapStep):
    """Appends `<pid>` to a log on every setup: how often a worker set the step up."""

    Config = RecordConfig

    def setup(self) -> None:
        with open(self.config.log, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        return batch


class TracedConfig(MinHashDedupConfig):
    log: str


class _Traced:
    """A mapped function that first leaves a marker `<pid>-<random>` in a folder."""

    def __init__(self, fn: Callable[[Any], Any], folder: str) -> None:
        self.fn, self.folder = fn, folder

    def __call__(self, item: Any) -> Any:
        (Path(self.folder) / f"{os.getpid()}-{uuid.uuid4().hex}").touch()
        return self.fn(item)


class TracedMinHash(MinHashDedup):
    """minhash_dedup whose fit marks its own process and every call it maps (`Corpus.map`)."""

    Config = TracedConfig

    def fit(self, corpus: Corpus) -> Any:
        folder = self.config.log
        (Path(folder) / f"fit-{os.getpid()}").touch()
        inner = corpus.map
        corpus.map = lambda fn, items: inner(_Traced(fn, folder), items)
        return super().fit(corpus)


class Notes(Progress):
    """A silent progress that keeps the executor's notes."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


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
    """Ledger rows without timings (step and setup seconds differ between runs)."""
    return [{k: v for k, v in row.items() if not k.endswith("seconds")} for row in ledger]


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
    monkeypatch.delitem(sys.modules, "corpuskit.engine.ray_backend", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'corpuskit\[ray\]'"):
        import corpuskit.engine.ray_backend  # noqa: F401
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
    notes = Notes()
    m = run(on_ray({**raw, "output": {"path": str(ray_out)}}), progress=notes)
    assert any(stage[0] == "remove_frequent_lines" for stage in m["stages"])
    ledger = {row["step"].split(":", 1)[-1]: row for row in m["ledger"]}
    assert ledger["remove_frequent_lines"]["counters"]["lines_removed"] > 100
    assert m["recipe"]["executor"]["kind"] == "ray"
    assert_same_output(ray_out, local)
    # remove_frequent_lines, as every fit, ran in a Ray task whose maps were Ray tasks
    assert any(
        n.startswith("remove_frequent_lines: ") and " map tasks in " in n for n in notes.notes
    )


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
    notes = Notes()
    m = run(on_ray({**raw, "output": {"path": str(ray_out)}}), progress=notes)
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
    raw = on_ray(raw_recipe(src, tmp_path / "out", [{"boom": {}}]), max_retries=0)
    match = r"steps\[0\] \(boom\) failed on .*part-9.jsonl.*BOOM"
    with pytest.raises(StepFailed, match=match) as e:
        run(raw)
    assert str(e.value).count("\n") == 0  # the step's message alone


@pytest.mark.slow
def test_steps_are_set_up_once_per_worker_process(tmp_path, ray_instance):
    src = make_corpus(tmp_path / "src", files=2, docs=300)
    log = tmp_path / "setups.log"
    steps = [{"count_setup": {"log": str(log)}}, {"length_filter": {"min_chars": 30}}]
    want, got = tmp_path / "want", tmp_path / "got"
    run(raw_recipe(src, want, steps[1:]))
    m = run(on_ray(raw_recipe(src, got, steps)))
    assert_same_output(got, want, same_ledger=False)
    pids = log.read_text().split()  # a worker process keeps the stage's steps across units
    assert len(pids) == len(set(pids)) < m["units"] and m["units"] > 5


@pytest.mark.slow
def test_local_workers_set_steps_up_once_per_process(tmp_path, site):
    src = make_corpus(tmp_path / "src", files=2, docs=300)
    log = tmp_path / "setups.log"
    steps = [{"count_setup": {"log": str(log)}}, {"length_filter": {"min_chars": 30}}]
    m = run(raw_recipe(src, tmp_path / "out", steps))  # 2 worker processes
    pids = log.read_text().split()
    assert len(pids) == len(set(pids)) <= 2 and m["units"] > 5


def test_retired_ray_data_stages_say_what_to_use(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'corpuskit[ray]')")
    raw = raw_recipe(make_corpus(tmp_path / "src", files=1, docs=30), tmp_path / "out")
    match = r"executor.stages: .*`data` \(Ray Data pipelines\) was retired; remove `stages`"
    with pytest.raises(RecipeError, match=match):
        recipe_from_dict(on_ray(raw, stages="data"))
    assert recipe_from_dict(on_ray(raw, stages="tasks")).executor.stages == "tasks"


@pytest.mark.slow
def test_failed_run_resumes_without_redoing_units(tmp_path, ray_instance):
    src = make_corpus(tmp_path / "src", files=2, docs=300)
    log, poison = tmp_path / "ids.log", poison_marker(tmp_path.name)
    poison.touch()
    steps = [{"length_filter": {"min_chars": 30}}, {"first_copy": {}}]
    probes = [
        {"record_ids": {"log": str(log)}},
        {"poison": {"marker": tmp_path.name, "only": "part-1.jsonl:150"}},
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


# --- distributed dedup fits -------------------------------------------------------------------
DEDUP_WORDS = (
    "council members voted on the new budget for schools roads parks and libraries after "
    "a long debate about taxes housing transport water energy and public safety downtown"
).split()


def planted_corpus(folder: Path, reference: Path) -> None:
    """60 originals in 3 files, 20 exact and 20 near copies of them (one word changed), and a
    reference holding 4 exact and 4 near copies of other originals, plus 4 unrelated texts."""
    rng = random.Random(7)
    folder.mkdir(parents=True)
    originals = [" ".join(rng.choice(DEDUP_WORDS) for _ in range(50)) for _ in range(60)]
    files: list[list[dict]] = [[], [], []]
    for i, text in enumerate(originals):
        files[i % 3].append({"text": text, "n": i})
    for i in range(0, 60, 3):  # exact copies, in the next file
        files[(i + 1) % 3].append({"text": originals[i], "n": 100 + i})
    for i in range(1, 60, 3):  # near copies in the last file (Jaccard about 0.8)
        words = originals[i].split()
        words[25] = "budgetary"
        files[2].append({"text": " ".join(words), "n": 200 + i})
    for f, rows in enumerate(files):
        rng.shuffle(rows)
        write_jsonl(folder / f"part-{f}.jsonl", rows)

    def near(text: str) -> str:
        words = text.split()
        words[10] = "municipal"
        return " ".join(words)

    ref = [originals[i] for i in (2, 5, 8, 11)] + [near(originals[i]) for i in (14, 17, 20, 23)]
    ref += [" ".join(rng.choice(DEDUP_WORDS) for _ in range(50)) for _ in range(4)]
    reference.mkdir(parents=True)
    pl.DataFrame({"id": [f"ref{i}" for i in range(len(ref))], "text": ref}).write_parquet(
        reference / "eval.parquet"
    )


def original_of(rejected: pl.DataFrame, kept: pl.DataFrame) -> dict[int, int]:
    """n of every rejected copy -> n of the kept document its `detail` names."""
    n = pl.col("meta").str.json_decode(pl.Struct({"n": pl.Int64})).struct.field("n")
    ids = dict(kept.select("id", n.alias("n")).iter_rows())
    return {m: ids[d] for m, d in rejected.select(n.alias("n"), "detail").iter_rows()}


@pytest.mark.slow
def test_dedup_fits_run_their_maps_as_ray_tasks_and_equal_local(tmp_path, ray_instance):
    src, reference = tmp_path / "src", tmp_path / "reference"
    planted_corpus(src, reference)
    traces = {"local": tmp_path / "trace-local", "ray": tmp_path / "trace-ray"}

    def raw(kind: str) -> dict:
        traces[kind].mkdir()
        steps = [
            {"dedup_against": {"reference": str(reference), "cache_dir": str(tmp_path / kind)}},
            {"exact_dedup": {}},
            {"traced_minhash_dedup": {"log": str(traces[kind])}},
        ]
        r = {
            "input": {"path": str(src / "part-*.jsonl")},
            "output": {"path": str(tmp_path / f"out-{kind}")},
            "executor": {"workers": 2, "unit_mb": 0.01},
            "steps": steps,
        }
        return on_ray(r) if kind == "ray" else r

    run(raw("local"))
    notes = Notes()
    m = run(raw("ray"), progress=notes)
    got, want = tmp_path / "out-ray", tmp_path / "out-local"
    assert_same_output(got, want)

    # the planted duplicates, and only they, are rejected, each naming what it copies
    assert m["rejected_by_reason"] == {
        "dedup_against:exact_match": 4,
        "dedup_against:near_match": 4,
        "exact_dedup:duplicate": 20,
        "traced_minhash_dedup:near_duplicate": 20,
    }
    kept, rejected, _ = frames(got)
    assert kept.height == 60 - 8
    against = rejected.filter(pl.col("step") == "dedup_against")
    n = pl.col("meta").str.json_decode(pl.Struct({"n": pl.Int64})).struct.field("n")
    found = dict(against.select(n, "detail").iter_rows())
    assert found == {2: "ref0", 5: "ref1", 8: "ref2", 11: "ref3"} | {
        14: "ref4",
        17: "ref5",
        20: "ref6",
        23: "ref7",
    }
    copies = original_of(rejected.filter(pl.col("step") != "dedup_against"), kept)
    assert copies == {100 + i: i for i in range(0, 60, 3)} | {200 + i: i for i in range(1, 60, 3)}

    # where the fits' maps ran: Ray tasks in worker processes, neither the driver nor the
    # fit's own task; with the local executor, threads of the driver
    shards = len(list((got / "data").glob("*.parquet")))
    ray_fit = [p.name for p in traces["ray"].glob("fit-*")]
    ray_maps = [p.name for p in traces["ray"].iterdir() if not p.name.startswith("fit-")]
    assert len(ray_fit) == 1 and len(ray_maps) > shards > 3
    ray_pids = {int(p.split("-")[0]) for p in ray_maps}
    assert not ray_pids & {os.getpid(), int(ray_fit[0].split("-")[1])}
    local_maps = [p.name for p in traces["local"].iterdir() if not p.name.startswith("fit-")]
    assert len(local_maps) == len(ray_maps)  # the same maps, same number of calls
    assert {int(p.split("-")[0]) for p in local_maps} == {os.getpid()}
    # the executor's own count for every dedup fit
    counted = {}
    for note in notes.notes:
        if " map tasks in " in note:
            step, rest = note.split(": ", 1)
            counted[step] = int(rest.split()[0])
    assert set(counted) == {"dedup_against", "exact_dedup", "traced_minhash_dedup"}
    assert counted["traced_minhash_dedup"] == len(ray_maps)
    assert all(c > shards for c in counted.values())


@pytest.mark.slow
def test_repeated_ids_fail_the_ray_fit_naming_them(tmp_path, ray_instance):
    src = tmp_path / "src"
    src.mkdir()
    rows = [{"doc": "x" if i % 10 == 0 else f"d{i}", "text": f"text {i}"} for i in range(40)]
    write_jsonl(src / "part-0.jsonl", rows)
    raw = raw_recipe(src, tmp_path / "out", [{"exact_dedup": {}}])
    raw["input"]["id_field"] = "doc"
    with pytest.raises(DuplicateIds, match=r"but 1 ids occur more than once \('x' x4\)"):
        run(on_ray(raw))


def test_dedup_fit_states_do_not_depend_on_partitions(tmp_path, monkeypatch):
    """What makes Ray equal local: hash partitions and band splits do not change a state."""
    from corpuskit.dedup import lsh, parts
    from corpuskit.dedup.fit import Policy, exact_state, near_state
    from corpuskit.dedup.normalize import Normalize

    planted_corpus(tmp_path / "src", tmp_path / "ref")
    docs = pl.concat(
        pl.read_ndjson(f).select(id=pl.lit(f.name) + ":" + pl.col("n").cast(pl.String), text="text")
        for f in sorted((tmp_path / "src").glob("*.jsonl"))
    )
    files = []
    for i in range(2):
        files.append(tmp_path / f"part-{i}.parquet")
        docs.slice(i * 50, 50).write_parquet(files[-1], row_group_size=9)
    cfg = MinHashDedup.Config()

    def states(workers: int) -> list[pl.DataFrame]:
        corpus = Corpus(files, tmp_path / "w", workers)
        out = [exact_state(corpus, Normalize(), Policy(k), "ex")[0] for k in ("first", "drop_all")]
        for keep in ("first", "longest"):
            args = (cfg.shingling(), cfg.lsh(), 0.7, True, Policy(keep), "mh")
            out.append(near_state(corpus, *args)[0])
        return out

    whole = states(1)
    # near: the 20 near copies and the 20 exact ones (no exact_dedup before it here)
    assert [s["drop"].is_not_null().sum() for s in whole] == [20, 40, 40, 40]
    monkeypatch.setattr(parts, "PARTITION_ROWS", 7)  # 15 partitions
    monkeypatch.setattr(lsh, "BAND_ROWS", 11)  # every band cut in 8 splits
    for got, want in zip(states(2), whole, strict=True):
        assert got.equals(want)
