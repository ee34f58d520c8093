"""Median against successive-halving pruning, replayed on recorded learning curves.

    python bench/bench_pruners.py runs/shakespeare-char-tune/study.db

Reads the trials of a `corpuskit tune` study that ran to the end (complete: their
validation loss at every evaluation is recorded), and replays them, in their order,
through a fresh study with each pruner: a trial stops at the first evaluation where
the pruner says so. Prints, per pruner, the steps trained (compute; a survivor counts its
whole run), the trials stopped, and whether the best trial of the recording survived. A
trial with the same values as an earlier one is replayed once.
The same curves go through every pruner, so the comparison is free of sampling noise;
it is only as good as the number of complete trials recorded (a `--pruner none` search
records the most).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from corpuskit.training.trial import make_pruner
from corpuskit.training.tune import pruner_spec


def replay(
    curves: list[dict[int, float]], finals: list[float], lengths: list[int], spec: dict
) -> dict:
    study = optuna.create_study(direction="minimize", pruner=make_pruner(spec))
    steps, stopped, survivors = 0, 0, []
    for i, (curve, final, length) in enumerate(zip(curves, finals, lengths, strict=True)):
        trial = study.ask()
        pruned_at = None
        for step in sorted(curve):
            trial.report(curve[step], step)
            if trial.should_prune():
                pruned_at = step
                break
        if pruned_at is None:
            study.tell(trial, final)
            steps += length
            survivors.append(i)
        else:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            steps += pruned_at
            stopped += 1
    return {"steps": steps, "stopped": stopped, "survivors": survivors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("study", type=Path, help="a tune folder's study.db")
    ap.add_argument("--eval-interval", type=int, default=250)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    recorded = optuna.load_study(study_name="tune", storage=f"sqlite:///{args.study}")
    done, seen = [], []
    for t in recorded.trials:  # a trial that repeats an earlier one's values adds no curve
        if t.state.name == "COMPLETE" and t.intermediate_values and t.params not in seen:
            done.append(t)
            seen.append(t.params)
    if len(done) < 3:
        sys.exit(f"{args.study}: {len(done)} complete trials; the replay needs at least 3")
    curves = [dict(t.intermediate_values) for t in done]
    finals = [t.value for t in done]
    # A surviving trial trains to its end (the final evaluation is not an intermediate value).
    lengths = [int(t.user_attrs.get("steps") or max(c)) for t, c in zip(done, curves, strict=True)]
    best = min(range(len(done)), key=lambda i: finals[i])
    full = sum(lengths)
    print(f"{len(done)} complete trials, best trial {done[best].number} ({finals[best]:.4f})")
    print("pruner  | steps trained | share of no pruning | trials stopped | best survives")
    for name in ("none", "median", "halving"):
        spec = pruner_spec(name, {"eval_interval": args.eval_interval})
        r = replay(curves, finals, lengths, spec)
        print(
            f"{name:7} | {r['steps']:13,} | {r['steps'] / full:19.2f} | "
            f"{r['stopped']:14} | {'yes' if best in r['survivors'] else 'NO'}"
        )


if __name__ == "__main__":
    main()
