"""Fit state as data: a zip of Arrow IPC tables, NumPy arrays and a JSON skeleton.

A global step's fit state lives in the output folder between a crash and its resume,
and on a shared filesystem under Ray. It is saved as data, never as pickle, so a file
planted there can at worst be a wrong state, never code that runs. What is saved:
None, bool, int, float, str, bytes, lists, tuples, dicts, Polars frames and series,
Arrow tables, NumPy arrays (no object dtype) and dataclasses of those. A dataclass is
rebuilt only when its class is already imported (loading never imports a module)
and is a dataclass: the file names data, it never chooses code.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

FORMAT = "corpuskit-state/1"
_SKELETON = "state.json"


class StateError(ValueError):
    """A state that cannot be saved as data, or a file that is not a valid state."""


def save_state(state: Any, path: Path) -> None:
    """Write `state` to `path` as data (see the module docstring for what is allowed)."""
    blobs: dict[str, bytes] = {}
    skeleton = {"format": FORMAT, "state": _encode(state, blobs)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(_SKELETON, json.dumps(skeleton))
        for name, data in blobs.items():
            z.writestr(name, data)


def load_state(path: Path) -> Any:
    """Read a state written by `save_state`; anything else is a StateError, never run."""
    try:
        with zipfile.ZipFile(path) as z:
            skeleton = json.loads(z.read(_SKELETON))
            if not isinstance(skeleton, dict) or skeleton.get("format") != FORMAT:
                raise StateError(f"{path}: not a {FORMAT} file")
            return _decode(skeleton["state"], z)
    except StateError:
        raise
    except Exception as e:
        raise StateError(
            f"{path}: not a valid corpuskit fit state ({type(e).__name__}: {e})"
        ) from None


def _blob(blobs: dict[str, bytes], data: bytes, ext: str) -> str:
    name = f"{len(blobs):06d}.{ext}"
    blobs[name] = data
    return name


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue()


def _encode(obj: Any, blobs: dict[str, bytes]) -> Any:
    if obj is None or isinstance(obj, bool | int | float | str):
        if isinstance(obj, float) and not np.isfinite(obj):
            return {"float": repr(obj)}
        return obj
    if isinstance(obj, list):
        return {"list": [_encode(v, blobs) for v in obj]}
    if isinstance(obj, tuple):
        return {"tuple": [_encode(v, blobs) for v in obj]}
    if isinstance(obj, set | frozenset):
        return {"set": [_encode(v, blobs) for v in sorted(obj, key=repr)]}
    if isinstance(obj, dict):
        return {"dict": [[_encode(k, blobs), _encode(v, blobs)] for k, v in obj.items()]}
    if isinstance(obj, bytes):
        return {"bytes": _blob(blobs, obj, "bin")}
    if isinstance(obj, pl.DataFrame):
        return {"frame": _blob(blobs, _ipc(obj.to_arrow()), "arrow")}
    if isinstance(obj, pl.Series):
        table = pa.table({"s": obj.to_arrow()})
        return {"series": _blob(blobs, _ipc(table), "arrow"), "name": obj.name}
    if isinstance(obj, pa.Table):
        return {"table": _blob(blobs, _ipc(obj), "arrow")}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), blobs)
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise StateError("a NumPy array of Python objects cannot be saved as data")
        buf = io.BytesIO()
        np.save(buf, obj, allow_pickle=False)
        return {"ndarray": _blob(blobs, buf.getvalue(), "npy")}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        fields = {f.name: _encode(getattr(obj, f.name), blobs) for f in dataclasses.fields(obj)}
        return {"dataclass": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    raise StateError(
        f"a fit state holding a {type(obj).__module__}.{type(obj).__qualname__} cannot be "
        "saved as data; return frames, arrays, dataclasses or plain values from fit(), "
        "or override save_state/load_state"
    )


def _decode(node: Any, z: zipfile.ZipFile) -> Any:
    if node is None or isinstance(node, bool | int | float | str):
        return node
    if not isinstance(node, dict) or not node:
        raise StateError(f"unexpected node {str(node)[:80]}")
    kind = next(iter(node))
    value = node[kind]
    if kind == "float":
        return float(value)
    if kind in ("list", "tuple", "set"):
        items = [_decode(v, z) for v in value]
        return {"list": list, "tuple": tuple, "set": set}[kind](items)
    if kind == "dict":
        return {_decode(k, z): _decode(v, z) for k, v in value}
    if kind == "bytes":
        return z.read(value)
    if kind in ("frame", "series", "table"):
        table = pa.ipc.open_file(pa.BufferReader(z.read(value))).read_all()
        if kind == "table":
            return table
        frame = pl.from_arrow(table)
        return frame if kind == "frame" else frame.to_series().alias(node["name"])
    if kind == "ndarray":
        return np.load(io.BytesIO(z.read(value)), allow_pickle=False)
    if kind == "dataclass":
        return _dataclass(value)(**{k: _decode(v, z) for k, v in node["fields"].items()})
    raise StateError(f"unknown node kind {kind!r}")


def _dataclass(name: str) -> type:
    """The dataclass `module:qualname`, if its module is imported already (never imports)."""
    module_name, _, qualname = str(name).partition(":")
    obj: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        raise StateError(f"{name} is not a dataclass loaded by this run's steps")
    return obj
