from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from corpuskit import registry

# `make test` and CI draw the same hypothesis examples on every run, so a red run means the
# change broke something; HYPOTHESIS_PROFILE=explore searches new examples (bugs it finds
# get a deterministic regression test).
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpora"

TEST_ENTRY_POINTS = """\
[corpuskit.steps]
slow_identity = tests.helpers:SlowIdentity
first_copy = tests.helpers:FirstCopy
boom = tests.helpers:Boom
undeclared = tests.helpers:Undeclared
checksum = tests.helpers:Checksum
broken_plugin = corpuskit_no_such_module.steps:Missing
"""


def install_distribution(
    site: Path, name: str, entry_points: str, monkeypatch, version: str = "0.0"
) -> dict[str, str]:
    """Puts a real distribution (a dist-info with entry points) in `site`, on sys.path.

    Returns an environment for subprocesses that sees the same distribution.
    """
    dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(site))
    registry.refresh()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(site), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture
def plugin_site(tmp_path_factory, monkeypatch) -> dict[str, str]:
    """Installs test-only steps (and one broken plugin) as a real distribution on sys.path.

    Returns an environment for subprocesses that sees the same plugins.
    """
    site = tmp_path_factory.mktemp("site")
    env = install_distribution(site, "corpuskit-testplugins", TEST_ENTRY_POINTS, monkeypatch)
    yield env
    registry.refresh()


@pytest.fixture(autouse=True)
def _fresh_registry():
    registry.refresh()
    yield
    registry.refresh()


def write_jsonl(path: Path, rows: list, encoding: str = "utf-8") -> Path:
    """Rows are dicts (JSON-encoded) or raw str lines written as they are."""
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    data = ("\n".join(lines) + "\n").encode(encoding)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    elif path.suffix == ".zst":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def corpuskit_cmd() -> list[str]:
    return [sys.executable, "-m", "corpuskit.cli"]


def needs_shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/corpora ships beside the repo in CI only)")
    return path
