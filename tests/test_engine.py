"""The local executor: ledger identity, determinism, stages, resume after kill -9, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest
import yaml

from corpuskit.engine.run import run_recipe
from corpuskit.output.layout import OutputError
from corpuskit.recipe import recipe_from_dict
from tests.conftest import corpuskit_cmd, write_jsonl

WORDS = "the market rose as investors weighed new data on growth and prices".split(" ")


def make_corpus(folder: Path, files: int = 3, docs: int = 400) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        rows: list = []
        for i in range(docs):
            n = (i * 7 + f) % 40 + 1
            rows.append({"text": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(n)), "i": i})
            if i % 50 == 0:
                rows.append(rows[-1])  # exact duplicates within and across files
        rows[10] = "{broken json"
        rows[20] = {"text": ""}
        write_jsonl(folder / (f"part-{f}.jsonl" + (".gz" if f == 2 else "")), rows)
    return folder


def raw_recipe(src: Path, out: Path, steps=None, **executor) -> dict:
    return {
        "input": {"path": str(src / "part-*")},
        "output": {"path": str(out)},
        "executor": {"workers": 2, "unit_mb": 0.004, **executor},
        "steps": steps if steps is not None else [{"length_filter": {"min_chars": 30}}],
    }


def run(raw: dict, **kw):
    return run_recipe(recipe_from_dict(raw), **kw).manifest


def frames(out: Path) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    data = sorted((out / "data").glob("*.parquet"))
    rej = sorted((out / "rejected").glob("*.parquet"))
    names = [p.name for p in data + rej]
    kept = pl.concat([pl.read_parquet(p) for p in data]) if data else pl.DataFrame()
    rejected = pl.concat([pl.read_parquet(p) for p in rej]) if rej else pl.DataFrame()
    return kept, rejected, names


def test_ledger_identity_and_manifest(tmp_path):
    src = make_corpus(tmp_path / "src")
    m = run(raw_recipe(src, tmp_path / "out"))
    kept, rejected, _ = frames(tmp_path / "out")
    t = m["totals"]
    assert t["read"] == 3 * 408 == t["kept"] + t["rejected"]
    assert kept.height == t["kept"] and rejected.height == t["rejected"]
    assert set(kept["id"]).isdisjoint(rejected["id"])
    assert kept["id"].n_unique() + rejected["id"].n_unique() == t["read"]
    ledger = {row["step"]: row for row in m["ledger"]}
    assert ledger["read"]["reasons"] == {"read:empty_text": 3, "read:malformed_json": 3}
    lf = ledger["0:length_filter"]
    assert lf["in"] == ledger["read"]["out"] and lf["in"] == lf["out"] + lf["rejected"]
    assert set(rejected["reason"]) == {
        "read:empty_text",
        "read:malformed_json",
        "length_filter:too_short",
    }
    assert (
        rejected.filter(pl.col("reason") == "length_filter:too_short")["signals"]
        .str.contains("length_chars")
        .all()
    )
    assert kept["length_chars"].min() >= 30
    assert [i["sha256"] for i in m["inputs"]] and all(len(i["sha256"]) == 64 for i in m["inputs"])
    assert m["schema"]["length_chars"] == "Int64" and m["recipe"]["steps"]
    assert sum(s["rows"] for s in m["shards"]) == t["kept"]
    assert not (tmp_path / "out" / "_state").exists() and not (tmp_path / "out" / "_work").exists()


def test_deterministic_across_runs_and_worker_counts(tmp_path, plugin_site):
    src = make_corpus(tmp_path / "src")
    steps = [{"checksum": {}}, {"length_filter": {"min_chars": 30}}]
    outs = []
    for i, workers in enumerate([1, 2, 2]):
        out = tmp_path / f"out{i}"
        run(raw_recipe(src, out, steps, workers=workers))
        outs.append(frames(out))
    for kept, rejected, names in outs[1:]:
        assert names == outs[0][2]
        assert kept.equals(outs[0][0]) and rejected.equals(outs[0][1])
    assert len([n for n in outs[0][2] if n.startswith("part-0")]) > 3  # many units


def test_global_step_splits_stages(tmp_path, plugin_site):
    src = make_corpus(tmp_path / "src")
    steps = [{"length_filter": {"min_chars": 30}}, {"first_copy": {}}, {"checksum": {}}]
    m = run(raw_recipe(src, tmp_path / "out", steps))
    assert m["stages"] == [["length_filter"], ["first_copy", "checksum"]]
    kept, rejected, _ = frames(tmp_path / "out")
    assert kept["text"].is_unique().all()
    dups = rejected.filter(pl.col("step") == "first_copy")
    assert dups.height > 0 and (dups["reason"] == "first_copy:duplicate").all()
    keepers = dups["detail"].str.strip_prefix("copy of ")
    assert keepers.is_in(kept["id"].implode()).all()
    assert m["totals"]["read"] == m["totals"]["kept"] + m["totals"]["rejected"]
    ledger = {row["step"]: row for row in m["ledger"]}
    assert ledger["1:first_copy"]["counters"]["clusters"] > 0
    assert list(m["schema"])[-2:] == ["copies", "md5"]
    again = tmp_path / "again"
    run(raw_recipe(src, again, steps, workers=1))
    assert frames(again)[0].equals(kept)


def test_limit_reads_first_records(tmp_path):
    src = make_corpus(tmp_path / "src")
    m = run(raw_recipe(src, tmp_path / "out", []), limit=100)
    assert m["totals"]["read"] == 100
    kept, _rejected, _ = frames(tmp_path / "out")
    assert kept["id"][0].endswith("part-0.jsonl:1") and kept["id"][-1].endswith(":100")


def test_shard_size_cap(tmp_path):
    src = make_corpus(tmp_path / "src", files=1, docs=3000)
    raw = raw_recipe(src, tmp_path / "out", [], unit_mb=10)
    raw["output"]["max_shard_mb"] = 0.01
    m = run(raw)
    assert len(m["shards"]) > 3
    assert all(s["file"].startswith("data/part-00000-") for s in m["shards"])


def test_output_folder_rules(tmp_path):
    src = make_corpus(tmp_path / "src", files=1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty"):
        run(raw_recipe(src, out))
    m1 = run(raw_recipe(src, out), overwrite=True)
    assert (out / "precious.txt").exists()
    outcome = run_recipe(recipe_from_dict(raw_recipe(src, out)))
    assert outcome.status == "complete" and outcome.manifest["totals"] == m1["totals"]
    with pytest.raises(OutputError, match="different recipe"):
        run(raw_recipe(src, out, [{"length_filter": {"min_chars": 5}}]))


def test_step_failure_names_step_and_unit(tmp_path, plugin_site):
    src = make_corpus(tmp_path / "src", files=1)
    write_jsonl(src / "part-9.jsonl", [{"text": "fine"}, {"text": "this one says BOOM"}])
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(yaml.safe_dump(raw_recipe(src, tmp_path / "out", [{"boom": {}}])))
    p = subprocess.run(
        [*corpuskit_cmd(), "run", str(recipe_file), "--quiet"],
        capture_output=True,
        text=True,
        env=plugin_site,
    )
    assert p.returncode == 1
    assert "steps[0] (boom) failed on" in p.stderr and "part-9.jsonl" in p.stderr
    assert "found BOOM" in p.stderr and "Traceback" not in p.stderr


def test_undeclared_column_is_an_error(tmp_path, plugin_site):
    src = make_corpus(tmp_path / "src", files=1)
    with pytest.raises(RuntimeError, match=r"steps\[0\] \(undeclared\) added undeclared columns"):
        run(raw_recipe(src, tmp_path / "out", [{"undeclared": {}}], workers=1))


@pytest.mark.slow
def test_kill_9_then_resume_gives_identical_output(tmp_path, plugin_site):
    src = make_corpus(tmp_path / "src", files=3, docs=1500)
    steps = [
        {"slow_identity": {"seconds": 0.08}},
        {"first_copy": {}},
        {"slow_identity": {"seconds": 0.02}},
        {"length_filter": {"min_chars": 30}},
    ]
    ref = tmp_path / "ref"
    run(raw_recipe(src, ref, [s for s in steps if "slow_identity" not in s]))

    out = tmp_path / "out"
    recipe_file = tmp_path / "r.yaml"
    recipe_file.write_text(yaml.safe_dump(raw_recipe(src, out, steps)))
    cmd = [*corpuskit_cmd(), "run", str(recipe_file), "--quiet"]
    # Kill once in the middle of stage 0 and once in the middle of stage 1.
    for stage, after in ((0, 5), (1, 5)):
        proc = subprocess.Popen(cmd, env=plugin_site, stderr=subprocess.PIPE)
        markers = out / "_state" / f"stage-{stage}"
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if markers.exists() and len(list(markers.glob("*.json"))) >= after:
                break
            time.sleep(0.01)
        assert proc.poll() is None, proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not (out / "manifest.json").exists()
    p = subprocess.run(cmd, env=plugin_site, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    got, want = frames(out), frames(ref)
    assert got[2] == want[2]
    assert got[0].drop("copies").equals(want[0].drop("copies"))
    assert got[1].select("id", "reason").equals(want[1].select("id", "reason"))
    m = json.loads((out / "manifest.json").read_text())
    assert m["totals"]["read"] == m["totals"]["kept"] + m["totals"]["rejected"]


def test_stage_fingerprint_follows_steps_configs_and_the_fit_state(tmp_path):
    """What a worker process's set-up steps are kept under (`worker.stage_steps`)."""
    from corpuskit.engine.runner import stage_fingerprint
    from corpuskit.engine.stages import build_steps, split_stages

    src = make_corpus(tmp_path / "src", files=1, docs=30)

    def stages(min_chars: int):
        steps = [{"length_filter": {"min_chars": min_chars}}, {"exact_dedup": {}}]
        return split_stages(build_steps(recipe_from_dict(raw_recipe(src, tmp_path, steps))))

    first, again, other = stages(30), stages(30), stages(31)
    assert stage_fingerprint(first[0], None) == stage_fingerprint(again[0], None)
    assert stage_fingerprint(first[0], None) != stage_fingerprint(other[0], None)
    state = tmp_path / "stage-1.fit"
    state.write_bytes(b"state of a first run")
    before = stage_fingerprint(first[1], str(state))
    assert stage_fingerprint(again[1], str(state)) == before
    state.write_bytes(b"the state of a later run, same path")  # e.g. --overwrite
    assert stage_fingerprint(first[1], str(state)) != before
