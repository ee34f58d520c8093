"""Plugin discovery: steps, readers and trainers found through Python entry points.

Built-ins register through the same entry points (in corpuskit's own pyproject) as
third-party plugins. A plugin that fails to import is recorded with its error and
does not hide the others.
"""

from __future__ import annotations

import importlib.metadata as md
from dataclasses import dataclass, field
from functools import cache
from typing import Any

GROUPS = {
    "steps": "corpuskit.steps",
    "readers": "corpuskit.readers",
    "trainers": "corpuskit.trainers",
}


@dataclass
class Plugins:
    loaded: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    providers: dict[str, str] = field(default_factory=dict)


@cache
def discover(kind: str) -> Plugins:
    """Load every entry point of one group; cached until `refresh()`."""
    out = Plugins()
    for ep in sorted(md.entry_points(group=GROUPS[kind]), key=lambda e: e.name):
        provider = ep.dist.name if ep.dist is not None else "?"
        out.providers.setdefault(ep.name, provider)
        if ep.name in out.loaded:
            out.errors[ep.name] = f"name also registered by {out.providers[ep.name]}; ignored"
            continue
        try:
            obj = ep.load()
        except Exception as e:  # a broken plugin must not break the others
            out.errors[ep.name] = (
                f"{type(e).__name__}: {e} (entry point {ep.value}, from {provider})"
            )
            continue
        out.loaded[ep.name] = obj
        out.providers[ep.name] = provider
    return out


def refresh() -> None:
    """Forget discovered plugins, e.g. after installing one in the same process."""
    discover.cache_clear()


def steps() -> dict[str, Any]:
    return discover("steps").loaded


def step_errors() -> dict[str, str]:
    return discover("steps").errors


def readers() -> dict[str, Any]:
    return discover("readers").loaded


def trainers() -> dict[str, Any]:
    return discover("trainers").loaded


def get_reader(fmt: str) -> Any:
    found = readers()
    if fmt not in found:
        err = discover("readers").errors.get(fmt)
        raise KeyError(
            err or f"unknown input format {fmt!r}; available: {', '.join(sorted(found))}"
        )
    return found[fmt]
