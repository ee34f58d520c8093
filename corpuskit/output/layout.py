"""The output folder: final shards, rejected shards, manifest, and the resume state."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any


class OutputError(RuntimeError):
    """The output folder cannot be used as asked; the message says what to do."""


class OutputLayout:
    """Paths of one run's output; `_state` and `_work` exist only while a run is unfinished."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.data = self.root / "data"
        self.rejected = self.root / "rejected"
        self.manifest = self.root / "manifest.json"
        self.state = self.root / "_state"
        self.work = self.root / "_work"
        self.run_file = self.state / "run.json"

    def stage_work(self, stage: int) -> Path:
        return self.work / f"stage-{stage}"

    def marker(self, stage: int, key: str) -> Path:
        return self.state / f"stage-{stage}" / f"{key}.json"

    def fit_state(self, stage: int) -> Path:
        return self.state / f"stage-{stage}.fit"

    def prepare(self, fingerprint: str, overwrite: bool) -> str:
        """Make the folder ready; returns 'fresh', 'resume' or 'complete'."""
        if overwrite and self.root.exists():
            for p in (self.data, self.rejected, self.state, self.work):
                shutil.rmtree(p, ignore_errors=True)
            self.manifest.unlink(missing_ok=True)
        if self.manifest.exists():
            done = json.loads(self.manifest.read_text(encoding="utf-8"))
            if done.get("fingerprint") == fingerprint:
                return "complete"
            raise OutputError(
                f"{self.root} holds the output of a different recipe or input; "
                "pass --overwrite to replace it, or choose another --output"
            )
        if self.run_file.exists():
            previous = json.loads(self.run_file.read_text(encoding="utf-8"))
            if previous.get("fingerprint") != fingerprint:
                raise OutputError(
                    f"{self.root} holds an interrupted run of a different recipe or input "
                    "(a file changed since); pass --overwrite to start afresh"
                )
            return "resume"
        if not overwrite and self.root.exists() and any(self.root.iterdir()):
            raise OutputError(
                f"{self.root} is not empty and holds no corpuskit run; "
                "pass --overwrite to replace its data/ and rejected/, or choose another --output"
            )
        self.state.mkdir(parents=True, exist_ok=True)
        self.run_file.write_text(json.dumps({"fingerprint": fingerprint}), encoding="utf-8")
        return "fresh"

    def completed(self, stage: int) -> dict[str, dict[str, Any]]:
        """Results of the units of a stage that finished, by unit key."""
        folder = self.state / f"stage-{stage}"
        if not folder.exists():
            return {}
        return {
            p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))
        }

    def clear_unit(self, stage: int, key: str, kept_dir: Path) -> None:
        """Remove whatever an interrupted attempt at a unit left behind."""
        for folder, prefix in (
            (kept_dir, f"part-{key}-"),
            (self.rejected, f"part-s{stage}-{key}-"),
        ):
            if folder.exists():
                for p in folder.iterdir():
                    if p.name.startswith(prefix) or p.name.startswith(f".{prefix}"):
                        p.unlink(missing_ok=True)

    def finish(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.state, ignore_errors=True)


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The manifest of a finished run in `root`."""
    path = Path(root) / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no manifest; is {root} the output of a finished run?")
    return json.loads(path.read_text(encoding="utf-8"))
