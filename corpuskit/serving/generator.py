"""The generator interface: what a trainer plugin returns from `Trainer.generator()`.

A generator holds a loaded model and decodes several sequences together, one token per
sequence per `step()`; sequences join (`add`) and leave (`remove`) between steps, so a
server batches whatever requests are running (continuous batching). Text comes back in
`Delta`s that never split a character and never show a stop sequence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class SamplingParams:
    """How one sequence is sampled; the OpenAI API's names and meanings."""

    max_tokens: int | None = None  # None: up to the end of the context
    temperature: float = 1.0  # 0: greedy
    top_p: float = 1.0
    top_k: int = 0  # 0: all tokens
    seed: int | None = None
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False  # keep going past end-of-text / end-of-turn (benchmarks)


@dataclass
class Delta:
    """What one step produced for one sequence: new text, and how it ended if it did."""

    seq: int
    text: str
    completion_tokens: int
    finish: FinishReason | None = None


class PromptTooLong(ValueError):
    """The prompt leaves no room to generate in the model's context."""


class TextGenerator(ABC):
    """A loaded model that decodes up to `slots` sequences at once."""

    name: str
    context_length: int
    slots: int

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of a plain-text prompt."""

    @abstractmethod
    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """Token ids of a conversation through the model's chat template, ready for the
        assistant's reply; ValueError if the model has none or a message is malformed."""

    @property
    def has_chat_template(self) -> bool:
        return True

    @abstractmethod
    def add(self, seq: int, prompt: list[int], params: SamplingParams) -> None:
        """Start a sequence (prefilled at the next step); at most `slots` live at once."""

    @abstractmethod
    def remove(self, seq: int) -> None:
        """Forget a sequence (finished or cancelled) and free its slot."""

    @abstractmethod
    def step(self) -> list[Delta]:
        """One new token for every live sequence; finished ones are removed."""

    def room(self, prompt: list[int], max_tokens: int | None) -> int:
        """Tokens the sequence may generate: `max_tokens`, checked against the context."""
        left = self.context_length - len(prompt)
        if left < 1:
            raise PromptTooLong(
                f"the prompt is {len(prompt)} tokens; the model's context is "
                f"{self.context_length} tokens and leaves no room for a reply"
            )
        if max_tokens is None:
            return left
        if max_tokens > left:
            raise PromptTooLong(
                f"max_tokens {max_tokens} + the prompt's {len(prompt)} tokens exceed the "
                f"model's context of {self.context_length} tokens (at most {left} here)"
            )
        return max_tokens
