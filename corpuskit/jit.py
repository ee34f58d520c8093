"""Where corpuskit's numba kernels come from, and the one switch that turns them off.

Every kernel module sits next to the Polars/numpy code it replaces, which stays the tested
reference and the fallback. `kernels(name)` imports a kernel module (numba compiles it, or
loads it from its on-disk cache) or returns None: when numba is not installed, when the
environment sets CORPUSKIT_NUMBA=0, or when compiling fails (with a warning).
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings
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
