"""The per-step ledger: documents in, out, rejected, seconds and step counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StepStats:
    key: str
    docs_in: int = 0
    docs_out: int = 0
    rejected: int = 0
    seconds: float = 0.0
    setup_seconds: float = 0.0
    chars_in: int = 0
    chars_out: int = 0
    counters: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)

    def add(self, other: StepStats) -> None:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.rejected += other.rejected
        self.seconds += other.seconds
        self.setup_seconds += other.setup_seconds
        self.chars_in += other.chars_in
        self.chars_out += other.chars_out
        self.counters.update(other.counters)
        self.reasons.update(other.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.key,
            "in": self.docs_in,
            "out": self.docs_out,
            "rejected": self.rejected,
            "seconds": round(self.seconds, 4),
            "setup_seconds": round(self.setup_seconds, 4),
            "chars_in": self.chars_in,
            "chars_out": self.chars_out,
            "counters": dict(sorted(self.counters.items())),
            "reasons": dict(sorted(self.reasons.items())),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepStats:
        return cls(
            d["step"],
            d["in"],
            d["out"],
            d["rejected"],
            d["seconds"],
            d.get("setup_seconds", 0.0),
            d.get("chars_in", 0),
            d.get("chars_out", 0),
            Counter(d.get("counters", {})),
            Counter(d.get("reasons", {})),
        )


class Ledger:
    """Step statistics in pipeline order, mergeable across units and workers."""

    def __init__(self) -> None:
        self.steps: dict[str, StepStats] = {}

    def get(self, key: str) -> StepStats:
        if key not in self.steps:
            self.steps[key] = StepStats(key)
        return self.steps[key]

    def merge(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.get(row["step"]).add(StepStats.from_dict(row))

    def to_list(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.steps.values()]
