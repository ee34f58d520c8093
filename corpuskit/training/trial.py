"""A training run that is one trial of a `corpuskit tune` search.

`corpuskit tune` writes RUN_DIR/trial.json (the study's storage URL, study name and trial
id) before it starts the run. A trainer that supports pruning opens it with
`TrialReporter.for_run(run_dir)` and, at every validation, calls `report(step, value)`:
the value goes to the study, and the answer says whether the pruner stops the trial.
Runs without trial.json (plain `corpuskit train`) get None and report nothing.
Only rank 0 of a DDP run reports; it shares the answer with the other ranks itself.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

TRIAL_FILE = "trial.json"
# SQLite waits this long for a lock held by another trial process before failing.
SQLITE_TIMEOUT_S = 120


def open_storage(url: str) -> Any:
    """An Optuna RDB storage; SQLite gets a long busy timeout for concurrent trial processes."""
    import optuna

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    return optuna.storages.RDBStorage(url, **kwargs)


@dataclass(frozen=True)
class TrialInfo:
    """What a trial's run needs to find its study: written by tune, read by the run."""

    storage: str
    study: str
    trial_id: int
    number: int
    metric: str = "val_loss"
    pruner: dict[str, Any] | None = None

    def write(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        tmp = run_dir / f".{TRIAL_FILE}.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        tmp.replace(run_dir / TRIAL_FILE)

    @classmethod
    def read(cls, run_dir: Path) -> TrialInfo | None:
        path = Path(run_dir) / TRIAL_FILE
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def make_pruner(spec: dict[str, Any] | None) -> Any:
    """The Optuna pruner a spec names: median, halving (successive halving) or none."""
    import optuna

    spec = dict(spec or {"kind": "none"})
    kind = spec.pop("kind")
    if kind == "median":
        return optuna.pruners.MedianPruner(**spec)
    if kind == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(**spec)
    if kind == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {kind!r}")


class TrialReporter:
    """Intermediate values of one Optuna trial, and the pruner's verdict on them."""

    def __init__(self, info: TrialInfo) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.info = info
        study = optuna.load_study(
            study_name=info.study,
            storage=open_storage(info.storage),
            pruner=make_pruner(info.pruner),
        )
        self.trial = optuna.trial.Trial(study, info.trial_id)
        self.pruned_at: int | None = None

    @classmethod
    def for_run(cls, run_dir: Path) -> TrialReporter | None:
        """The reporter of a tune trial's run folder; None for a plain training run."""
        info = TrialInfo.read(run_dir)
        return cls(info) if info is not None else None

    def report(self, step: int, value: float) -> bool:
        """Record the validation value at `step`; True when the pruner stops the trial."""
        self.trial.report(float(value), step)
        if self.trial.should_prune():
            self.pruned_at = step
            return True
        return False
