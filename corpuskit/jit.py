"""Where corpuskit's numba kernels come from, and the one switch that turns them off.

Every kernel module sits next to the Polars/numpy code it replaces, which stays the tested
reference and the fallback. `kernels(name)` imports a kernel module (numba compiles it, or
loads it from its on-disk cache) or returns None: when numba is not installed, when the
environment sets CORPUSKIT_NUMBA=0, or when compiling fails (with a warning).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

_LOADED: dict[str, ModuleType | None] = {}
_LOCK = threading.Lock()


def enabled() -> bool:
    """False where the environment sets CORPUSKIT_NUMBA=0."""
    return os.environ.get("CORPUSKIT_NUMBA", "1") != "0"


def kernels(module: str) -> ModuleType | None:
    """The kernel module `module` (e.g. "corpuskit.dedup.minhash_kernels"), or None: the fallback.

    Decided once per process; the first call pays numba's import and the cache load.
    """
    if module in _LOADED:
        return _LOADED[module]
    with _LOCK:
        if module not in _LOADED:
            loaded = None
            if enabled():
                try:
                    loaded = importlib.import_module(module)
                except ImportError:
                    loaded = None
                except Exception as exc:  # a compile failure: the reference code still works
                    warnings.warn(
                        f"corpuskit: numba kernels {module} unavailable ({exc!r}); "
                        "using the reference code",
                        stacklevel=2,
                    )
            _LOADED[module] = loaded
    return _LOADED[module]


#: Every kernel module; `warm_kernels` compiles the cold ones into numba's on-disk cache.
KERNEL_MODULES = (
    "corpuskit.steps.normalize_punctuation_kernels",
    "corpuskit.steps.gopher_repetition_kernels",
    "corpuskit.text.segment_kernels",
    "corpuskit.text.paragraphs_kernels",
    "corpuskit.dedup.minhash_kernels",
)


def cold(module: str) -> bool:
    """True where numba's cache beside `module` holds nothing yet (first run on a machine)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return False
    path = Path(spec.origin)
    return not any((path.parent / "__pycache__").glob(f"{path.stem}.*.nbi"))


def warm_kernels(announce: Callable[[str], None] | None = None) -> float:
    """Compile the kernels whose cache is cold, here and now, so that no step's timing (nor
    a worker's first unit) pays for it; `announce` is told once. Returns the seconds spent."""
    if not enabled():
        return 0.0
    todo = [m for m in KERNEL_MODULES if cold(m)]
    if not todo:
        return 0.0
    if announce is not None:
        announce("compiling kernels, once per machine (numba; later runs load them from its cache)")
    t0 = time.perf_counter()
    for module in todo:
        loaded = kernels(module)
        for name in ("warm", "warm_up"):
            fn = getattr(loaded, name, None)
            if callable(fn):
                fn()
    return time.perf_counter() - t0


if __name__ == "__main__":  # `make setup`: python -m corpuskit.jit
    spent = warm_kernels(print)
    print(f"numba kernels ready ({spent:.1f}s)")
