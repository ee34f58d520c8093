"""Where corpuskit keeps what it builds once per machine (derived tables, indexes)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(name: str) -> Path:
    """$CORPUSKIT_CACHE_DIR/<name>, else corpuskit/<name> in $XDG_CACHE_HOME or ~/.cache.
    Not created here: a writer makes it, and a read-only one only costs a rebuild."""
    if env := os.environ.get("CORPUSKIT_CACHE_DIR"):
        return Path(env) / name
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "corpuskit" / name
