"""The output folder: final shards, rejected shards, manifest, and the resume state."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Unix: no advisory lock
    fcntl = None  # type: ignore[assignment]

#: The file that says corpuskit made (and may delete inside) an output folder.
MARKER = ".corpuskit-output"
#: The advisory lock a run holds on its output folder, with the holder's pid.
LOCK = ".corpuskit.lock"
#: Everything corpuskit writes at the top of an output folder; nothing else is ever deleted.
OWNED = ("data", "rejected", "_state", "_work", "manifest.json")


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
        """Make the folder ready; returns 'fresh', 'resume' or 'complete'.

        `--overwrite` deletes only what corpuskit wrote (`OWNED`), and only in a folder
        that carries its marker (or, from before the marker, holds nothing but a run).
        """
        if overwrite and self.root.exists() and not self.owned():
            raise OutputError(
                f"{self.root} is not a corpuskit output folder (no {MARKER} marker; it "
                f"holds {', '.join(self._entries()[:5])}); --overwrite only replaces a "
                "folder corpuskit made: choose another --output"
            )
        if overwrite and self.root.exists():
            for name in OWNED:
                p = self.root / name
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                elif p.exists() or p.is_symlink():
                    p.unlink()
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
        if self.root.exists() and not self.owned():
            raise OutputError(
                f"{self.root} is not empty and holds no corpuskit run "
                f"({', '.join(self._entries()[:5])}); choose another --output"
            )
        self.state.mkdir(parents=True, exist_ok=True)
        mark(self.root)
        self.run_file.write_text(json.dumps({"fingerprint": fingerprint}), encoding="utf-8")
        return "fresh"

    def _entries(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.name != LOCK)

    def owned(self) -> bool:
        """Empty, or made by corpuskit: its marker, or (a run from before the marker) a
        corpuskit manifest or run state, with its fingerprint."""
        if (self.root / MARKER).exists() or not self._entries():
            return True
        return any(_fingerprinted(p) for p in (self.manifest, self.run_file))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's advisory lock for a run; another run gets an error naming us.

        A folder that is not (or did not become) corpuskit's is left as it was found.
        """
        created = not self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            yield
            return
        path = self.root / LOCK
        existed = path.exists()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
                raise OutputError(
                    f"{self.root} is in use by another corpuskit run ({holder}); wait for it "
                    "to finish or choose another --output"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode(), 0)
            yield
        finally:
            if not existed and not (self.root / MARKER).exists():
                path.unlink(missing_ok=True)
                if created:
                    with contextlib.suppress(OSError):
                        self.root.rmdir()
            os.close(fd)  # closing releases the lock

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


def _fingerprinted(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("fingerprint"), str)


def mark(root: Path) -> None:
    """Say in `root` that corpuskit made it (only such folders are ever cleaned)."""
    marker = root / MARKER
    if not marker.exists():
        marker.write_text(
            "This folder is a corpuskit output; `--overwrite` replaces data/, rejected/, "
            "_state/, _work/ and manifest.json here, and nothing else.\n",
            encoding="utf-8",
        )


def check_apart(root: str | Path, patterns: Iterable[str], files: Iterable[str | Path]) -> None:
    """Refuse an output folder that is, holds, or sits inside an input.

    An output equal to or above an input would be deleted with `--overwrite` and read
    back by the next run; one inside a folder read whole (or a `**` glob) would be too.
    """
    out = Path(os.path.abspath(root))

    def within(p: Path, folder: Path) -> bool:
        return p == folder or folder in p.parents

    real = Path(os.path.realpath(out))
    for f in files:
        for a, b in ((Path(os.path.abspath(f)), out), (Path(os.path.realpath(f)), real)):
            if within(a, b):
                raise OutputError(
                    f"output.path {root} holds the input file {f}; an output folder must "
                    "be apart from the inputs (--overwrite would delete them)"
                )
    for pattern in patterns:
        full = os.path.abspath(os.path.expanduser(pattern))
        magic = glob.has_magic(full)
        base = Path(full)
        while glob.has_magic(str(base)):
            base = base.parent
        read_whole = (not magic and base.is_dir()) or "**" in full
        for a, b in ((out, base), (real, Path(os.path.realpath(base)))):
            if a == b or (read_whole and within(a, b)):
                raise OutputError(
                    f"output.path {root} is inside the input {pattern!r}: the next run "
                    "would read its own output; choose an output folder apart from the inputs"
                )


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The manifest of a finished run in `root`."""
    path = Path(root) / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no manifest; is {root} the output of a finished run?")
    return json.loads(path.read_text(encoding="utf-8"))
