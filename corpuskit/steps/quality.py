"""What the quality filters (gopher_quality, gopher_repetition, c4_quality, fineweb_quality)
share: how unspaced (CJK) documents are recognised, and datatrove's way to switch a rule off."""

from __future__ import annotations

from pydantic import Field

from corpuskit.steps.base import StepConfig


class UnspacedConfig(StepConfig):
    """How unspaced (CJK) documents are recognised when there is no `lang` column."""

    unspaced_cjk_ratio: float = Field(0.3, ge=0, le=1)


def rule_on(value: float | None) -> bool:
    """datatrove disables a rule whose threshold is None or 0."""
    return bool(value)
