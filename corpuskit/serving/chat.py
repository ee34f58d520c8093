"""The terminal chat: a conversation with history, streamed replies, a few commands."""

from __future__ import annotations

import contextlib
import itertools
import sys
from dataclasses import dataclass
from typing import TextIO

from corpuskit.serving.generator import PromptTooLong, SamplingParams, TextGenerator

HELP = "commands: /reset  /system TEXT  /help  /exit"


@dataclass(frozen=True)
class Settings:
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 0
    max_tokens: int | None = None
    seed: int | None = None


class ChatSession:
    """A conversation with a TextGenerator; `reply` streams the assistant's answer."""

    def __init__(
        self, generator: TextGenerator, settings: Settings, system: str | None = None
    ) -> None:
        self.generator = generator
        self.settings = settings
        self.system = system
        self.history: list[dict[str, str]] = []
        self._ids = itertools.count(1)
        self._turn = 0

    def messages(self) -> list[dict[str, str]]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return head + self.history

    def reset(self, system: str | None = None, keep_system: bool = True) -> None:
        self.history = []
        if not keep_system:
            self.system = system

    def _prompt(self, out: TextIO) -> list[int] | None:
        """The prompt ids; the oldest turns go first when the context is too short."""
        gen = self.generator
        if not gen.has_chat_template:
            return gen.encode(self.history[-1]["content"])
        dropped = 0
        while True:
            ids = gen.chat_prompt(self.messages())
            try:
                gen.room(ids, self.settings.max_tokens)
                break
            except PromptTooLong as e:
                if len(self.history) <= 1:
                    out.write(f"[{e}]\n")
                    self.history.pop()
                    return None
                del self.history[:2]
                dropped += 2
        if dropped:
            out.write(f"[dropped the {dropped} oldest messages to fit the context]\n")
        return ids

    def reply(self, text: str, out: TextIO = sys.stdout, prefix: str = "") -> str:
        """Send a user message; stream the answer to `out` after `prefix` (notes about the
        context come before it); return the answer (kept in history)."""
        self.history.append({"role": "user", "content": text})
        prompt = self._prompt(out)
        if prompt is None:
            return ""
        out.write(prefix)
        out.flush()
        s = self.settings
        self._turn += 1
        seed = None if s.seed is None else s.seed + self._turn
        params = SamplingParams(s.max_tokens, s.temperature, s.top_p, s.top_k, seed)
        seq = next(self._ids)
        self.generator.add(seq, prompt, params)
        answer = []
        try:
            finished = False
            while not finished:
                for d in self.generator.step():
                    if d.seq == seq:
                        out.write(d.text)
                        out.flush()
                        answer.append(d.text)
                        finished = d.finish is not None
        except KeyboardInterrupt:
            self.generator.remove(seq)
            out.write(" [stopped]")
        out.write("\n")
        text = "".join(answer)
        if self.generator.has_chat_template:
            self.history.append({"role": "assistant", "content": text})
        else:
            self.history.clear()
        return text

    def repl(self, interactive: bool, inp: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
        """Read messages and commands until /exit or end of input."""
        if interactive:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401 (line editing and input history)
        gen = self.generator
        out.write(f"{gen.name}: context {gen.context_length} tokens. {HELP}\n")
        if not gen.has_chat_template:
            out.write("[no chat template: a base model; each message is continued as text]\n")
        while True:
            try:
                line = input("you> ") if interactive else inp.readline()
            except (EOFError, KeyboardInterrupt):
                out.write("\n")
                return
            if not interactive and line == "":
                return
            line = line.strip()
            if not line:
                continue
            if line in ("/exit", "/quit"):
                return
            if line == "/help":
                out.write(HELP + "\n")
            elif line == "/reset":
                self.reset()
                out.write("[conversation cleared]\n")
            elif line.startswith("/system"):
                self.reset(line[len("/system") :].strip() or None, keep_system=False)
                out.write(f"[system: {self.system or '(none)'}; conversation cleared]\n")
            elif line.startswith("/"):
                out.write(f"[unknown command {line.split()[0]}; {HELP}]\n")
            else:
                if not interactive:
                    out.write(f"you> {line}\n")
                self.reply(line, out, prefix="assistant> ")
