"""`corpuskit tune CONFIG`: hyper-parameter search with Optuna over a training config.

The config's `search:` block declares the space, one entry per config key:

    search:
      learning_rate: {log_uniform: [1.0e-4, 3.0e-3]}
      dropout: {uniform: [0.0, 0.3]}
      n_layer: {choice: [2, 4, 6]}
      warmup_iters: {int: [0, 200], step: 50}

Every trial is a `corpuskit train` of the config with the sampled values, run as its own
process (torchrun ranks with --nproc) in TUNE_DIR/trials/trial-NNNN/, with its share of
the cores. At every validation the run reports its loss to the study and asks the
pruner whether to go on (corpuskit.training.trial). The study lives in TUNE_DIR/study.db
(SQLite): `corpuskit tune` run again continues it; a trial that was running when the
search was killed resumes from its last checkpoint. At the end: TUNE_DIR/best.yaml (the
config with the best values, ready for `corpuskit train`), trials.csv, tune.json, and
plots/ (optimization history, parameter importances, parallel coordinates, intermediate
values) as HTML and PNG.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from corpuskit.training.base import get_trainer, validate_config
from corpuskit.training.config import (
    TrainConfigError,
    merge,
    read_config_file,
    save_config,
)
from corpuskit.training.launch import cpu_cores, open_data, threads_per_rank
from corpuskit.training.trial import TRIAL_FILE, TrialInfo, open_storage

STUDY = "tune"
SPACE_KINDS = ("uniform", "log_uniform", "int", "log_int", "choice")
PRUNERS = ("median", "halving", "none")
# Files of a finished trial's run that the search no longer needs.
TRIAL_LEFTOVERS = ("checkpoints", "best", "tb")


def require_optuna() -> Any:
    """The optuna module, or an error that says how to install it."""
    try:
        import optuna
    except ImportError:
        raise TrainConfigError(
            "corpuskit tune needs Optuna: pip install 'corpuskit[tune]' "
            "(optuna, plotly for the HTML plots)"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


@dataclass(frozen=True)
class TuneOptions:
    """How the search runs: its size, parallelism, pruner and where it lives."""

    trials: int = 20
    timeout: float | None = None
    jobs: int = 1
    nproc: int = 1
    pruner: str = "median"
    sampler: str = "tpe"
    budget: float | None = None  # full training runs of compute (steps / max_iters)
    metric: str = "val_loss"
    seed: int = 0
    tune_dir: Path | None = None
    cores: int | None = None
    report_only: bool = False  # write best.yaml, trials.csv, tune.json, plots; run nothing


@dataclass
class Running:
    """A trial whose training process is running."""

    trial_id: int
    number: int
    run_dir: Path
    proc: subprocess.Popen
    started: float
    max_iters: int


@dataclass
class Search:
    """A search as read from a config file: the base config (no search block) and its space."""

    base: dict[str, Any]
    space: dict[str, dict[str, Any]]
    tune_dir: Path
    fingerprint: str = field(default="")


# --- the space --------------------------------------------------------------------


def load_search(path: Path, overrides: dict[str, Any], tune_dir: Path | None) -> Search:
    """The config's base values and search space, validated against the trainer's keys."""
    raw = merge(read_config_file(path), overrides)
    space = raw.pop("search", None)
    if not space or not isinstance(space, dict):
        raise TrainConfigError(
            f"{path}: no `search:` block; declare the space, e.g. "
            "search: {learning_rate: {log_uniform: [1.0e-4, 3.0e-3]}}"
        )
    run_dir = Path(raw.get("run_dir") or Path("runs") / path.stem)
    tune_dir = Path(tune_dir or f"{run_dir}-tune")
    raw["run_dir"] = str(tune_dir / "base")
    cfg = validate_config(raw, origin=str(path))
    fields = type(cfg).model_fields
    for key, spec in space.items():
        if key not in fields or key in ("trainer", "data", "run_dir", "search"):
            raise TrainConfigError(f"{path}: search.{key}: not a searchable key of {cfg.trainer}")
        parse_spec(f"{path}: search.{key}", spec)
    blob = json.dumps({"base": raw, "space": space}, sort_keys=True, default=str)
    fingerprint = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return Search(raw, space, tune_dir, fingerprint)


def parse_spec(where: str, spec: Any) -> tuple[str, list[Any], dict[str, Any]]:
    """(kind, values, options) of one search entry; errors name the key."""
    if not isinstance(spec, dict):
        raise TrainConfigError(f"{where}: expected a mapping like {{uniform: [0, 0.3]}}")
    kinds = [k for k in spec if k in SPACE_KINDS]
    if len(kinds) != 1:
        raise TrainConfigError(f"{where}: give exactly one of {', '.join(SPACE_KINDS)}")
    kind = kinds[0]
    values = spec[kind]
    options = {k: v for k, v in spec.items() if k != kind}
    if set(options) - {"step"}:
        raise TrainConfigError(f"{where}: unknown option(s) {sorted(set(options) - {'step'})}")
    if kind == "choice":
        if not isinstance(values, list) or not values:
            raise TrainConfigError(f"{where}: choice takes a non-empty list")
        return kind, values, options
    if not (isinstance(values, list) and len(values) == 2):
        raise TrainConfigError(f"{where}: {kind} takes [low, high]")
    low, high = values
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise TrainConfigError(f"{where}: {kind} bounds must be numbers")
    if low >= high:
        raise TrainConfigError(f"{where}: low ({low}) must be below high ({high})")
    if kind.startswith("log") and low <= 0:
        raise TrainConfigError(f"{where}: {kind} needs low > 0")
    if kind in ("int", "log_int") and not all(float(v).is_integer() for v in values):
        raise TrainConfigError(f"{where}: {kind} bounds must be integers")
    return kind, values, options


def distributions(space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The Optuna distribution of each searched key."""
    optuna = require_optuna()
    d = optuna.distributions
    out: dict[str, Any] = {}
    for key, spec in space.items():
        kind, values, options = parse_spec(f"search.{key}", spec)
        if kind == "choice":
            out[key] = d.CategoricalDistribution(values)
        elif kind in ("int", "log_int"):
            step = int(options.get("step", 1))
            out[key] = d.IntDistribution(
                int(values[0]), int(values[1]), log=kind == "log_int", step=step
            )
        else:
            step = options.get("step")
            out[key] = d.FloatDistribution(
                float(values[0]), float(values[1]), log=kind == "log_uniform", step=step
            )
    return out


# --- pruners and samplers ---------------------------------------------------------


def pruner_spec(name: str, base: dict[str, Any]) -> dict[str, Any]:
    """The pruner's settings, stored with every trial so its run builds the same one."""
    if name not in PRUNERS:
        raise TrainConfigError(f"--pruner must be one of {', '.join(PRUNERS)}")
    interval = int(base.get("eval_interval") or 0)
    if name == "median":  # not before 4 complete trials, nor at the first validation
        return {"kind": "median", "n_startup_trials": 4, "n_warmup_steps": 2 * interval}
    if name == "halving":  # rungs at 1, 3, 9... validations; keep the best third
        return {"kind": "halving", "min_resource": max(1, interval), "reduction_factor": 3}
    return {"kind": "none"}


def make_sampler(name: str, seed: int, jobs: int) -> Any:
    optuna = require_optuna()
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        # constant_liar: parallel trials do not all sample the same promising point
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=5, multivariate=True, constant_liar=jobs > 1
        )
    raise TrainConfigError("--sampler must be tpe or random")


# --- the search -------------------------------------------------------------------


@contextlib.contextmanager
def exclusive(tune_dir: Path) -> Iterator[None]:
    """One `corpuskit tune` per folder: every RUNNING trial in the study is then ours."""
    import fcntl

    tune_dir.mkdir(parents=True, exist_ok=True)
    with open(tune_dir / "tune.lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TrainConfigError(
                f"{tune_dir}: another `corpuskit tune` is running on this folder"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_tune(config: Path, overrides: dict[str, Any], opts: TuneOptions, log: Any = print) -> dict:
    """Run (or continue) the search of `config`; returns the result written to tune.json."""
    optuna = require_optuna()
    search = load_search(config, overrides, opts.tune_dir)
    tune_dir = search.tune_dir
    if opts.report_only:  # reads the study; a search may be running on it meanwhile
        if not (tune_dir / "study.db").exists():
            raise TrainConfigError(f"{tune_dir} holds no study yet")
        study = optuna.load_study(
            study_name=STUDY, storage=open_storage(f"sqlite:///{(tune_dir / 'study.db').resolve()}")
        )
        return report(study, search, opts, log)
    with exclusive(tune_dir):
        storage_url = f"sqlite:///{(tune_dir / 'study.db').resolve()}"
        storage = open_storage(storage_url)
        pruning = pruner_spec(opts.pruner, search.base)
        study = open_study(storage, opts)
        made_for = study.user_attrs.get("fingerprint")
        if made_for is None:
            study.set_user_attr("fingerprint", search.fingerprint)
            study.set_user_attr("config", str(config))
            study.set_user_attr("pruner", opts.pruner)
        elif made_for != search.fingerprint:
            raise TrainConfigError(
                f"{tune_dir}: its study was made for another config or search space; "
                "pass --run-dir for a new search"
            )
        prepare_data(search, tune_dir, opts, log)
        run_trials(study, search, storage_url, pruning, opts, log)
        return report(study, search, opts, log)


def open_study(storage: Any, opts: TuneOptions) -> Any:
    """The search's study, new or continued, with its sampler.

    A continued search must not replay the draws of the first: seeded alike, the sampler's
    random start-up trials would repeat the earlier trials' values, so the seed moves on
    by the number of trials the study holds."""
    optuna = require_optuna()
    study = optuna.create_study(
        study_name=STUDY, storage=storage, load_if_exists=True, direction="minimize"
    )
    done = len(study.get_trials(deepcopy=False))
    study.sampler = make_sampler(opts.sampler, opts.seed + done, opts.jobs)
    return study


def prepare_data(search: Search, tune_dir: Path, opts: TuneOptions, log: Any) -> None:
    """Tokenizer and token shards once, in the shared cache the trials read."""
    run_dir = tune_dir / "base"
    cfg = validate_config(trial_config(search, {}, run_dir, threads=1))
    trainer = get_trainer(cfg.trainer)(cfg)
    save_config(cfg, run_dir / "config.yaml")
    log(f"preparing the data once for all trials in {run_dir}")
    trainer.prepare(open_data(cfg), run_dir, world_size=opts.nproc)


def trial_config(
    search: Search, params: dict[str, Any], run_dir: Path, threads: int
) -> dict[str, Any]:
    """The training config of one trial: the base, the sampled values, its own folder."""
    raw = merge(search.base, params)
    raw["run_dir"] = str(run_dir)
    cfg_fields = type(validate_config(search.base)).model_fields
    extra = {
        "cache_dir": str(search.tune_dir / "tokens"),
        "threads": threads,
        "progress": "false",
        "tensorboard": False,
        "resume": "auto",
    }
    raw.update({k: v for k, v in extra.items() if k in cfg_fields})
    return raw


def run_trials(
    study: Any,
    search: Search,
    storage_url: str,
    pruning: dict[str, Any],
    opts: TuneOptions,
    log: Any,
) -> None:
    """Launch trials up to --trials / --budget / --timeout, --jobs at a time; tell results."""
    optuna = require_optuna()
    TrialState = optuna.trial.TrialState
    dists = distributions(search.space)
    threads = threads_per_rank(opts.jobs * opts.nproc, opts.cores or cpu_cores())
    full = int(search.base.get("max_iters") or 0) or 1
    started = time.monotonic()
    deadline = None if opts.timeout is None else started + opts.timeout
    spent_before = float(study.user_attrs.get("seconds", 0.0))

    def record_time() -> None:  # at every settled trial, so a killed search keeps most of it
        study.set_user_attr("seconds", round(spent_before + time.monotonic() - started, 1))

    running: list[Running] = []
    # Trials left RUNNING by a killed search: resume them (their runs resume too).
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        run_dir = search.tune_dir / "trials" / f"trial-{t.number:04d}"
        log(f"trial {t.number}: was running when the search stopped; resuming it")
        running.append(launch(search, t, run_dir, storage_url, pruning, opts, threads, log))

    def finished_count() -> int:
        done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        return len(study.get_trials(deepcopy=False, states=done))

    def steps_used() -> int:
        return sum(int(t.user_attrs.get("steps", 0)) for t in study.get_trials(deepcopy=False))

    while True:
        for r in [r for r in running if r.proc.poll() is not None]:
            running.remove(r)
            settle(study, r, opts.metric, log)
            record_time()
        if len(running) >= opts.jobs:
            time.sleep(0.5)
            continue
        room = (
            finished_count() + len(running) < opts.trials
            and (deadline is None or time.monotonic() < deadline)
            and (
                opts.budget is None
                or steps_used() + full * (len(running) + 1) <= opts.budget * full
            )
        )
        if room:
            trial = study.ask(dists)
            run_dir = search.tune_dir / "trials" / f"trial-{trial.number:04d}"
            try:
                validate_config(trial_config(search, trial.params, run_dir, threads))
            except TrainConfigError as e:  # e.g. n_embd not a multiple of the sampled n_head
                trial.set_user_attr("error", str(e))
                study.tell(trial, state=TrialState.FAIL)
                log(f"trial {trial.number}: invalid combination, skipped: {e}")
                continue
            running.append(launch(search, trial, run_dir, storage_url, pruning, opts, threads, log))
            continue
        if not running:
            break
        time.sleep(0.5)
    record_time()


def launch(
    search: Search,
    trial: Any,
    run_dir: Path,
    storage_url: str,
    pruning: dict[str, Any],
    opts: TuneOptions,
    threads: int,
    log: Any,
) -> Running:
    """Start `corpuskit train` for one trial in its own process.

    `trial` is a Trial or FrozenTrial; its run reaches it by the storage's trial id
    (`_trial_id`: Optuna's Trial(study, trial_id) takes it, nothing public returns it).
    """
    raw = trial_config(search, trial.params, run_dir, threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / "trial.yaml"
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), "utf-8")
    TrialInfo(storage_url, STUDY, trial._trial_id, trial.number, opts.metric, pruning).write(
        run_dir
    )
    cmd = [sys.executable, "-m", "corpuskit.cli", "train", str(config_path)]
    if opts.nproc > 1:
        cmd += ["--nproc", str(opts.nproc)]
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    with open(run_dir / "train.log", "ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent
        )
    shown = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    log(f"trial {trial.number}: started ({shown})")
    return Running(
        trial._trial_id,
        trial.number,
        run_dir,
        proc,
        time.monotonic(),
        int(raw.get("max_iters") or 0),
    )


def _die_with_parent() -> None:
    """In the child: SIGTERM when the tuner dies (Linux), so no trial runs on unwatched."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def settle(study: Any, r: Running, metric: str, log: Any) -> None:
    """Tell the study how a finished trial ended: complete, pruned or failed."""
    import shutil

    optuna = require_optuna()
    TrialState = optuna.trial.TrialState
    summary_path = r.run_dir / "summary.json"
    summary = json.loads(summary_path.read_text("utf-8")) if summary_path.exists() else {}
    steps = summary.get("steps") or last_step(r.run_dir)
    attrs = {"steps": steps, "seconds": round(time.monotonic() - r.started, 1)}
    trial = optuna.trial.Trial(study, r.trial_id)
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    if r.proc.returncode != 0 or not summary:
        tail = (r.run_dir / "train.log").read_text("utf-8", errors="replace")[-2000:]
        trial.set_user_attr("error", tail)
        study.tell(r.number, state=TrialState.FAIL, skip_if_finished=True)
        log(f"trial {r.number}: failed (exit {r.proc.returncode}); see {r.run_dir}/train.log")
        return
    for name in TRIAL_LEFTOVERS:
        shutil.rmtree(r.run_dir / name, ignore_errors=True)
    if summary.get("pruned"):
        study.tell(r.number, state=TrialState.PRUNED, skip_if_finished=True)
        log(f"trial {r.number}: pruned at step {steps} (val {summary.get('best_val_loss')})")
        return
    value = summary.get(metric)
    if value is None or not math.isfinite(float(value)):
        study.tell(r.number, state=TrialState.FAIL, skip_if_finished=True)
        log(f"trial {r.number}: no {metric} in its summary")
        return
    study.tell(r.number, float(value), skip_if_finished=True)
    log(f"trial {r.number}: {metric} {float(value):.4f} after {steps} steps")


def last_step(run_dir: Path) -> int:
    """The last step a run logged (metrics.jsonl), for runs that left no summary."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return 0
    steps = [json.loads(line).get("step", 0) for line in path.read_text("utf-8").splitlines()]
    return max(steps, default=0)


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


# --- results ----------------------------------------------------------------------


def report(study: Any, search: Search, opts: TuneOptions, log: Any) -> dict[str, Any]:
    """best.yaml, trials.csv, tune.json and the plots of the study as it stands."""
    optuna = require_optuna()
    TrialState = optuna.trial.TrialState
    tune_dir = search.tune_dir
    trials = study.get_trials(deepcopy=False)
    full = int(search.base.get("max_iters") or 0) or 1
    steps = sum(int(t.user_attrs.get("steps", 0)) for t in trials)
    rows = [
        {
            "trial": t.number,
            "state": t.state.name.lower(),
            opts.metric: None if t.value is None else round(t.value, 5),
            "steps": t.user_attrs.get("steps"),
            "seconds": t.user_attrs.get("seconds"),
            **{k: t.params.get(k) for k in search.space},
        }
        for t in trials
    ]
    write_csv(tune_dir / "trials.csv", rows)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    result: dict[str, Any] = {
        "study": str(tune_dir / "study.db"),
        "trials": {k: v for k, v in counts.items() if v},
        "steps": steps,
        "full_runs": round(steps / full, 2),
        "seconds": study.user_attrs.get("seconds"),
        "metric": opts.metric,
        "pruner": study.user_attrs.get("pruner", opts.pruner),
    }
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        path = write_best_config(search, best, opts.metric)
        result.update(
            best_value=best.value, best_trial=best.number, best_params=best.params, best=str(path)
        )
    result["plots"] = write_plots(study, tune_dir / "plots", log)
    (tune_dir / "tune.json").write_text(json.dumps(result, indent=2, default=str), "utf-8")
    return result


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_best_config(search: Search, best: Any, metric: str) -> Path:
    """TUNE_DIR/best.yaml: the base config with the best trial's values, ready to train."""
    raw = merge(search.base, best.params)
    raw["run_dir"] = str(search.tune_dir.with_name(search.tune_dir.name + "-best"))
    header = (
        f"# corpuskit tune: trial {best.number} of {search.tune_dir}, {metric} {best.value:.4f}\n"
        f"# searched: {', '.join(f'{k}={_short(v)}' for k, v in best.params.items())}\n"
        f"#   corpuskit train {search.tune_dir / 'best.yaml'}\n"
    )
    path = search.tune_dir / "best.yaml"
    body = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    path.write_text(header + body, encoding="utf-8")
    return path


def write_plots(study: Any, folder: Path, log: Any) -> list[str]:
    """Optimization history, parameter importances, parallel coordinates and learning
    curves: HTML (plotly) and PNG (matplotlib); a plot the study cannot make yet is skipped."""
    optuna = require_optuna()
    folder.mkdir(parents=True, exist_ok=True)
    names = {
        "history": "plot_optimization_history",
        "importances": "plot_param_importances",
        "parallel": "plot_parallel_coordinate",
        "intermediate": "plot_intermediate_values",
    }
    written: list[str] = []
    for name, fn in names.items():
        try:
            fig = getattr(optuna.visualization, fn)(study)
            fig.write_html(folder / f"{name}.html", include_plotlyjs="cdn")
            written.append(str(folder / f"{name}.html"))
        except ImportError:
            log("plotly is not installed: no HTML plots (pip install 'corpuskit[tune]')")
        except (ValueError, RuntimeError) as e:
            log(f"plot {name}: skipped ({e})")
        try:
            import matplotlib

            matplotlib.use("Agg")
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = getattr(optuna.visualization.matplotlib, fn)(study)
            fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
            fig.set_size_inches(9, 5)
            fig.tight_layout()
            fig.savefig(folder / f"{name}.png", dpi=100)
            import matplotlib.pyplot as plt

            plt.close(fig)
            written.append(str(folder / f"{name}.png"))
        except ImportError:
            log("matplotlib is not installed: no PNG plots")
        except (ValueError, RuntimeError, IndexError) as e:
            log(f"plot {name} (png): skipped ({e})")
    return written


__all__ = ["TRIAL_FILE", "TuneOptions", "load_search", "run_tune"]
