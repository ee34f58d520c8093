"""corpuskit.jit: one switch (CORPUSKIT_NUMBA=0) sends every step to its reference code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from corpuskit import jit

KERNEL_MODULES = [
    "corpuskit.dedup.minhash_kernels",
    "corpuskit.text.segment_kernels",
    "corpuskit.text.paragraphs_kernels",
    "corpuskit.steps.gopher_repetition_kernels",
    "corpuskit.steps.normalize_punctuation_kernels",
]


def test_every_kernel_is_off_with_corpuskit_numba_0():
    code = (
        "import sys\n"
        "from corpuskit.dedup.hashing import numba_kernels\n"
        "from corpuskit.text.segment import segment_kernels\n"
        "from corpuskit.steps.gopher_repetition import ngram_kernel\n"
        "from corpuskit.steps.normalize_punctuation import compiled_kernel\n"
        "from corpuskit.text.paragraphs import paragraph_kernels\n"
        "print([f() is None for f in (numba_kernels, segment_kernels, ngram_kernel,"
        " compiled_kernel, paragraph_kernels)], 'numba' in sys.modules)\n"
    )
    env = {"CORPUSKIT_NUMBA": "0", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[True, True, True, True, True] False"


@pytest.mark.parametrize("module", KERNEL_MODULES)
def test_kernels_load_where_numba_is_installed(module):
    pytest.importorskip("numba")
    loaded = jit.kernels(module)
    assert loaded is not None and loaded.__name__ == module
    assert jit.kernels(module) is loaded  # decided once per process


def test_a_kernel_module_that_fails_warns_and_falls_back(tmp_path, monkeypatch):
    (tmp_path / "broken_kernels.py").write_text("raise RuntimeError('no LLVM today')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match="broken_kernels unavailable.*no LLVM today"):
        assert jit.kernels("broken_kernels") is None
    assert jit.kernels("missing_kernels_module") is None  # not installed: quietly None
