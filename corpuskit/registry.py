"""Plugin discovery: steps, readers and trainers found through Python entry points.

Built-ins register through the same entry points (in corpuskit's own pyproject) as
third-party plugins. A plugin that fails to import is recorded with its error and
does not hide the others.
"""

from __future__ import annotations

import importlib.metadata as md
import warnings
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
    conflicts: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)


class PluginWarning(UserWarning):
    """A plugin was ignored (it reuses a registered name)."""


#: The distribution whose entry points are the built-ins.
BUILTIN = "corpuskit"


@cache
def discover(kind: str) -> Plugins:
    """Load every entry point of one group; cached until `refresh()`."""
    out = Plugins()
    # corpuskit's own entry points first: a plugin cannot replace a built-in by its name
    found = sorted(
        md.entry_points(group=GROUPS[kind]),
        key=lambda e: (e.name, _provider(e) != BUILTIN),
    )
    for ep in found:
        provider = _provider(ep)
        if ep.name in out.loaded or ep.name in out.errors:
            other = out.providers[ep.name]
            if other == provider and ep.value == out.values.get(ep.name):
                continue  # the same distribution seen twice on the path
            note = f"{provider} also registers {ep.name!r} ({ep.value}); ignored, " + (
                f"the built-in {ep.name!r} is kept" if other == BUILTIN else f"{other}'s is kept"
            )
            out.conflicts.append(note)
            warnings.warn(note, PluginWarning, stacklevel=2)
            continue
        out.providers[ep.name] = provider
        out.values[ep.name] = ep.value
        try:
            obj = ep.load()
        except BaseException as e:  # a broken plugin (even one calling sys.exit) is contained
            if isinstance(e, KeyboardInterrupt):
                raise
            out.errors[ep.name] = (
                f"plugin {ep.name!r} from {provider} failed to import "
                f"({type(e).__name__}: {e}; entry point {ep.value})"
            )
            continue
        out.loaded[ep.name] = obj
    return out


def _provider(ep: md.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "?"


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
