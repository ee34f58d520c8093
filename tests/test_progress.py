"""Honest progress (issue 18, item 4): short bar labels, one header per stage, logs uncut."""

from __future__ import annotations

import io

from rich.console import Console

from corpuskit import jit
from corpuskit.progress import LOG_WIDTH, Progress, make_console, short_label, summary_table

CHAIN = "stage 0: read → " + " → ".join(f"step_number_{i}" for i in range(12))


def test_stage_bar_label_is_short_and_the_header_prints_once() -> None:
    assert short_label(CHAIN) == "stage 0"
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True)
    p = Progress(console=console)
    p.start_stage(CHAIN, 3, 0)
    p.advance(10)
    p.unit_done()
    p.end_stage()
    text = out.getvalue()
    assert text.count("step_number_11") == 1
    assert "stage 0" in text and "docs" in text


def test_a_console_that_is_not_a_terminal_cuts_nothing() -> None:
    console = make_console()  # pytest captures stdout: not a terminal
    assert not console.is_terminal and console.width == LOG_WIDTH
    reason = "gopher_repetition:top_2_gram_character_fraction_is_far_too_high"
    manifest = {
        "totals": {"read": 10, "kept": 5, "rejected": 5},
        "ledger": [
            {
                "step": "0:gopher_repetition",
                "in": 10,
                "out": 5,
                "rejected": 5,
                "seconds": 1.0,
                "reasons": {reason: 5},
            },
        ],
    }
    buf = io.StringIO()
    console.file = buf
    console.print(summary_table(manifest))
    console.print("error: " + "x" * 300)
    text = buf.getvalue()
    assert reason in text and "…" not in text
    assert any(line.startswith("error: ") and line.endswith("x" * 10) for line in text.splitlines())


def test_warm_kernels_announces_only_when_the_cache_is_cold(monkeypatch) -> None:
    said: list[str] = []
    monkeypatch.setattr(jit, "cold", lambda module: False)
    assert jit.warm_kernels(said.append) == 0.0 and said == []
    monkeypatch.setattr(jit, "cold", lambda module: module.endswith("segment_kernels"))
    jit.warm_kernels(said.append)
    if jit.enabled():
        assert said == [
            "compiling kernels, once per machine (numba; later runs load them from its cache)"
        ]
