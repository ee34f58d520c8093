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


@pytest.fixture
def plugin_site(tmp_path_factory, monkeypatch) -> dict[str, str]:
    """Installs test-only steps (and one broken plugin) as a real distribution on sys.path.

    Returns an environment for subprocesses that sees the same plugins.
    """
    site = tmp_path_factory.mktemp("site")
    dist = site / "corpuskit_testplugins-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: corpuskit-testplugins\nVersion: 0.0\n"
    )
    (dist / "entry_points.txt").write_text(TEST_ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    registry.refresh()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(site), env.get("PYTHONPATH", "")])
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
