"""`corpuskit tune`: search space, trials as processes, pruning, SQLite resume after kill -9."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("corpuskit_gpt")
optuna = pytest.importorskip("optuna")

from click.testing import CliRunner  # noqa: E402

from corpuskit.cli import main  # noqa: E402
from corpuskit.training import TrainConfigError  # noqa: E402
from corpuskit.training.tune import TuneOptions, load_search, parse_spec, run_tune  # noqa: E402
from tests.conftest import ROOT, corpuskit_cmd  # noqa: E402
from tests.test_gpt_plugin import TINY, corpus  # noqa: E402, F401

TUNE_TINY = {
    **TINY,
    "gradient_accumulation_steps": 1,
    "max_iters": 40,
    "eval_interval": 10,
    "checkpoint_interval": 10,
    "final_eval_iters": 4,
    "bleu_docs": 0,
    "sample_tokens": 0,
    "search": {
        "learning_rate": {"log_uniform": [1e-3, 1e-2]},
        "dropout": {"uniform": [0.0, 0.2]},
        "n_layer": {"choice": [1, 2]},
    },
}


def write_config(path: Path, corpus_dir: Path, **overrides) -> Path:
    raw = {**TUNE_TINY, "data": str(corpus_dir), "run_dir": str(path.parent / "run"), **overrides}
    path.write_text(yaml.safe_dump(raw))
    return path


def test_search_block_is_validated(tmp_path, corpus):  # noqa: F811
    with pytest.raises(TrainConfigError, match=r"search\.n_layers: not a searchable key"):
        load_search(
            write_config(tmp_path / "a.yaml", corpus, search={"n_layers": {"choice": [1]}}),
            {},
            None,
        )
    with pytest.raises(TrainConfigError, match=r"low .* must be below high"):
        parse_spec("search.dropout", {"uniform": [0.3, 0.1]})
    with pytest.raises(TrainConfigError, match="needs low > 0"):
        parse_spec("search.learning_rate", {"log_uniform": [0, 1e-3]})
    with pytest.raises(TrainConfigError, match="exactly one of"):
        parse_spec("search.x", {"between": [1, 2]})
    with pytest.raises(TrainConfigError, match="no `search:` block"):
        load_search(write_config(tmp_path / "b.yaml", corpus, search=None), {}, None)
    search = load_search(write_config(tmp_path / "c.yaml", corpus), {}, None)
    assert search.tune_dir == tmp_path / "run-tune" and set(search.space) == {
        "learning_rate",
        "dropout",
        "n_layer",
    }


def test_shipped_shakespeare_space_has_no_invalid_corner(tmp_path):
    """Every corner of recipes/shakespeare-char-tune.yaml's space is a valid config: a
    sampled invalid combination (e.g. n_embd not a multiple of n_head, min_lr above the
    learning rate) would spend one of the search's trials on nothing."""
    import itertools

    from corpuskit.training.base import validate_config
    from corpuskit.training.tune import trial_config

    search = load_search(ROOT / "recipes" / "shakespeare-char-tune.yaml", {}, tmp_path / "t")
    corners = {key: parse_spec(key, spec)[1] for key, spec in search.space.items()}
    for combo in itertools.product(*corners.values()):
        params = dict(zip(corners, combo, strict=True))
        validate_config(trial_config(search, params, tmp_path / "run", threads=1))
    assert search.base["max_iters"] == 2000 and search.base["batch_size"] == 12
    assert search.base["block_size"] == 64 and search.base["gradient_accumulation_steps"] == 1


def test_median_pruner_waits_for_the_second_validation():
    """The first validation (after warm-up differences) is too early to stop a trial."""
    from corpuskit.training.trial import make_pruner
    from corpuskit.training.tune import pruner_spec

    study = optuna.create_study(pruner=make_pruner(pruner_spec("median", {"eval_interval": 250})))
    for value in (1.0, 1.1, 1.2, 1.3):  # the startup trials, complete
        trial = study.ask()
        trial.report(value, 250)
        trial.report(value, 500)
        study.tell(trial, value)
    bad = study.ask()
    bad.report(9.0, 250)
    assert not bad.should_prune()
    bad.report(9.0, 500)
    assert bad.should_prune()


def test_a_continued_search_does_not_replay_its_first_draws(tmp_path):
    """Restarted (e.g. after kill -9), the sampler's start-up draws are new points: seeded
    as before, they repeated the earlier trials' values and spent the budget twice."""
    from corpuskit.training.trial import open_storage
    from corpuskit.training.tune import distributions, open_study

    dists = distributions({"learning_rate": {"log_uniform": [1e-4, 1e-2]}})
    url = f"sqlite:///{tmp_path / 'study.db'}"
    opts = TuneOptions(jobs=2)
    first = open_study(open_storage(url), opts)
    drawn = [first.ask(dists).params["learning_rate"] for _ in range(2)]
    again = open_study(open_storage(url), opts)
    redrawn = [again.ask(dists).params["learning_rate"] for _ in range(2)]
    assert not set(drawn) & set(redrawn)


def test_train_ignores_the_search_block(tmp_path, corpus):  # noqa: F811
    config = write_config(tmp_path / "t.yaml", corpus, max_iters=2, eval_interval=0)
    r = CliRunner().invoke(main, ["train", str(config), "checkpoint_interval=0"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 2


def test_missing_optuna_is_a_clear_error(tmp_path, corpus, monkeypatch):  # noqa: F811
    monkeypatch.setitem(sys.modules, "optuna", None)
    r = CliRunner().invoke(main, ["tune", str(write_config(tmp_path / "t.yaml", corpus))])
    assert r.exit_code != 0
    assert "pip install 'corpuskit[tune]'" in r.output


@pytest.mark.slow
def test_a_search_prunes_writes_best_config_table_and_plots(tmp_path, corpus):  # noqa: F811
    config = write_config(tmp_path / "t.yaml", corpus)
    opts = TuneOptions(trials=6, jobs=2, pruner="median", cores=2)
    result = run_tune(config, {}, opts, log=lambda m: None)
    tune_dir = tmp_path / "run-tune"
    study = optuna.load_study(study_name="tune", storage=f"sqlite:///{tune_dir / 'study.db'}")
    states = [t.state.name for t in study.trials]
    assert len(states) == 6 and "COMPLETE" in states and "FAIL" not in states, states
    for t in study.trials:  # every trial reported at its validations
        if t.state.name != "FAIL":
            assert set(t.intermediate_values) <= {10, 20, 30} and t.intermediate_values
    best = yaml.safe_load((tune_dir / "best.yaml").read_text())
    assert "search" not in best and best["learning_rate"] == study.best_params["learning_rate"]
    assert best["run_dir"].endswith("run-tune-best")
    assert result["best_value"] == pytest.approx(study.best_value)
    with open(tune_dir / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and {"trial", "state", "val_loss", "steps", "dropout"} <= set(rows[0])
    assert result["steps"] == sum(int(r["steps"]) for r in rows)
    for name in ("history", "parallel", "importances"):
        assert (tune_dir / "plots" / f"{name}.html").stat().st_size > 1000
        assert (tune_dir / "plots" / f"{name}.png").stat().st_size > 1000
    # The best config trains as it is.
    r = CliRunner().invoke(main, ["train", str(tune_dir / "best.yaml"), "max_iters=2"])
    assert r.exit_code == 0, r.output
    (tune_dir / "best.yaml").unlink()
    r = CliRunner().invoke(main, ["tune", str(config), "--report"])
    assert r.exit_code == 0, r.output
    assert (tune_dir / "best.yaml").exists() and '"best_trial"' in r.output
    # Run again: the study is complete, nothing new starts.
    again = run_tune(config, {}, opts, log=lambda m: None)
    assert sum(again["trials"].values()) == 6


@pytest.mark.slow
def test_budget_caps_the_compute(tmp_path, corpus):  # noqa: F811
    config = write_config(tmp_path / "t.yaml", corpus)
    result = run_tune(
        config, {}, TuneOptions(trials=50, budget=2.5, pruner="none", cores=1), log=lambda m: None
    )
    assert result["trials"] == {"complete": 2} and result["full_runs"] == 2.0


@pytest.mark.slow
def test_killed_search_resumes_losing_at_most_the_running_trial(tmp_path, corpus):  # noqa: F811
    """kill -9 the whole search while a trial trains, start it again: it finishes the study,
    keeps the finished trials and resumes the interrupted one from its checkpoint."""
    config = write_config(tmp_path / "t.yaml", corpus, max_iters=60)
    cmd = [*corpuskit_cmd(), "tune", str(config), "--trials", "3", "--pruner", "none"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    tune_dir = tmp_path / "run-tune"
    second = tune_dir / "trials" / "trial-0001" / "checkpoints" / "latest"
    deadline = time.monotonic() + 600
    while not second.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert second.exists(), "the search ended before its second trial checkpointed"
    first_summary = tune_dir / "trials" / "trial-0000" / "summary.json"
    first_mtime = first_summary.stat().st_mtime_ns
    killed_at = int(second.read_text().removeprefix("step-"))
    assert killed_at < 60

    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    study = optuna.load_study(study_name="tune", storage=f"sqlite:///{tune_dir / 'study.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    assert first_summary.stat().st_mtime_ns == first_mtime  # trial 0 was not run again
    log = (tune_dir / "trials" / "trial-0001" / "train.log").read_text()
    assert f"resuming from {tune_dir / 'trials' / 'trial-0001' / 'checkpoints'}" in log.replace(
        "\n", ""
    )
    metrics = [
        json.loads(line)
        for line in (tune_dir / "trials" / "trial-0001" / "metrics.jsonl").read_text().splitlines()
    ]
    steps = [r["step"] for r in metrics if "train_loss" in r]
    assert steps == list(range(1, 61))  # one curve, resumed, no step twice


@pytest.mark.slow
def test_ddp_trials_report_from_rank_0(tmp_path, corpus):  # noqa: F811
    """--nproc 2: each trial is a 2-rank torchrun job; rank 0 reports, both stop alike."""
    config = write_config(tmp_path / "t.yaml", corpus, max_iters=20)
    result = run_tune(
        config, {}, TuneOptions(trials=2, nproc=2, pruner="none", cores=2), log=lambda m: None
    )
    assert result["trials"] == {"complete": 2}
    study = optuna.load_study(
        study_name="tune", storage=f"sqlite:///{tmp_path / 'run-tune' / 'study.db'}"
    )
    for t in study.trials:
        assert sorted(t.intermediate_values) == [10]
        log = (tmp_path / "run-tune" / "trials" / f"trial-{t.number:04d}" / "train.log").read_text()
        assert "2 process(es)" in log
