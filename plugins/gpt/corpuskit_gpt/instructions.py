"""`chat_messages`: a recipe step that turns documents into instruction conversations.

Each task matches documents by their `source` (the input file, a regex) and writes a
`messages` column, `[{role, content}]` (system if set, user, assistant), from templates
over the document's fields: `{text}`, `{title}`, any column, or a key of `meta` (the
input's other fields, e.g. `{en}` of a TSV column or `{label}` of a labelled text);
`{text:.80}` keeps the first 80 characters. A task may have several variants (phrasings
or directions): each document gets one, chosen by a hash of its id, as is `keep`, the
share of a task's documents kept. Documents that match no task, lack a field, or are
sampled out are rejected with that reason, so the run accounts for every one.

    - chat_messages:
        tasks:
          - source: cmn\\.txt
            keep: 0.3
            variants:
              - {user: "Translate into Chinese: {en}", assistant: "{text}"}
              - {user: "把这句话翻译成英文：{text}", assistant: "{en}"}
"""

from __future__ import annotations

import hashlib
import re
import string
from typing import ClassVar

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from corpuskit.steps import FilterStep, StepConfig

MESSAGE = pl.Struct({"role": pl.String(), "content": pl.String()})


class Variant(StepConfig):
    user: str = Field(description="the user's message: a template over the document's fields")
    assistant: str = Field(description="the assistant's reply: a template")


class Task(StepConfig):
    source: str = Field(description="regex on the document's source (input file)")
    name: str | None = Field(None, description="the task's name (default: its source regex)")
    system: str | None = Field(None, description="system message of this task's conversations")
    keep: float = Field(1.0, gt=0.0, le=1.0, description="share of the documents kept")
    variants: list[Variant] = Field(min_length=1)

    @field_validator("source")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"source {v!r} is not a valid regex: {e}") from None
        return v


class ChatMessagesConfig(StepConfig):
    tasks: list[Task] = Field(min_length=1)
    system: str | None = Field(None, description="system message of every task without one")
    seed: int = Field(0, ge=0, description="hash key of the variant and keep choices")


def hash_positions(ids: list[str], seed: int) -> np.ndarray:
    """Each id's place in [0, 1) from a keyed BLAKE2b-64 hash; the key differs from the
    train/val/test split's (corpuskit.training.split), so which documents a task keeps
    says nothing about which split they land in."""
    key = f"chat_messages:{seed}".encode()
    digests = b"".join(hashlib.blake2b(i.encode(), digest_size=8, key=key).digest() for i in ids)
    return np.frombuffer(digests, dtype=">u8").astype(np.float64) * 2.0**-64


def parse_template(template: str) -> list[tuple[str, str | None, int | None]]:
    """(literal, field, max chars) pieces of a `{field}` / `{field:.N}` template."""
    out = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if conversion:
            raise ValueError(f"template {template!r}: conversions (!r, !s) are not supported")
        limit = None
        if name is not None:
            if not name:
                raise ValueError(f"template {template!r}: name the field, e.g. {{text}}")
            if spec:
                m = re.fullmatch(r"\.(\d+)", spec)
                if not m:
                    raise ValueError(f"template {template!r}: {{{name}:{spec}}}; use {{f:.N}}")
                limit = int(m.group(1))
        out.append((literal, name, limit))
    return out


class ChatMessages(FilterStep):
    """Build instruction conversations (`messages`) from documents with per-source templates."""

    Config = ChatMessagesConfig
    reads: ClassVar[tuple[str, ...]] = ("id", "text", "source", "meta")
    columns: ClassVar[dict[str, pl.DataType]] = {
        "messages": pl.List(MESSAGE),
        "task": pl.String(),
    }

    def validate(self) -> None:
        for i, task in enumerate(self.config.tasks):
            for j, v in enumerate(task.variants):
                for part in ("user", "assistant"):
                    try:
                        parse_template(getattr(v, part))
                    except ValueError as e:
                        raise ValueError(f"tasks[{i}].variants[{j}].{part}: {e}") from None

    def _template(self, template: str, columns: list[str]) -> pl.Expr:
        pieces: list[pl.Expr] = []
        for literal, name, limit in parse_template(template):
            if literal:
                pieces.append(pl.lit(literal))
            if name is None:
                continue
            if name in columns:
                value = pl.col(name).cast(pl.String)
            else:
                key = name.replace("'", "\\'")
                value = pl.col("meta").str.json_path_match(f"$['{key}']")
            value = value.str.strip_chars()
            value = pl.when(value != "").then(value)  # an empty field counts as missing
            if limit is not None:
                value = value.str.slice(0, limit)
            pieces.append(value)
        return pl.concat_str(pieces) if pieces else pl.lit("")

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        cfg: ChatMessagesConfig = self.config
        u = pl.Series(hash_positions(batch["id"].cast(pl.String).fill_null("").to_list(), cfg.seed))
        batch = batch.with_columns(_u=u)
        columns = batch.columns
        user = assistant = system = task_name = kept = None
        for task in cfg.tasks:
            matches = pl.col("source").str.contains(task.source)
            n = len(task.variants)
            pick = (pl.col("_u") * n).floor().cast(pl.Int64).clip(0, n - 1)
            for k, v in enumerate(task.variants):
                cond = matches & (pick == k)
                u_expr, a_expr = (
                    self._template(v.user, columns),
                    self._template(v.assistant, columns),
                )
                s_expr = pl.lit(task.system or cfg.system, dtype=pl.String())
                name = pl.lit(task.name or task.source)
                # share kept: a second draw from the same hash, independent of the variant
                keep = ((pl.col("_u") * n) % 1.0) < task.keep
                if user is None:
                    user, assistant, system = (
                        pl.when(cond).then(u_expr),
                        pl.when(cond).then(a_expr),
                        pl.when(cond).then(s_expr),
                    )
                    task_name, kept = pl.when(cond).then(name), pl.when(cond).then(keep)
                else:
                    user, assistant = (
                        user.when(cond).then(u_expr),
                        assistant.when(cond).then(a_expr),
                    )
                    system, task_name = (
                        system.when(cond).then(s_expr),
                        task_name.when(cond).then(name),
                    )
                    kept = kept.when(cond).then(keep)
        turn = [
            pl.struct(role=pl.lit("user"), content=pl.col("_user")),
            pl.struct(role=pl.lit("assistant"), content=pl.col("_assistant")),
        ]
        with_system = pl.concat_list(
            [pl.struct(role=pl.lit("system"), content=pl.col("_system")), *turn]
        )
        out = batch.with_columns(
            _user=user.otherwise(None),
            _assistant=assistant.otherwise(None),
            _system=system.otherwise(None),
            task=task_name.otherwise(None),
            _kept=kept.otherwise(None),
        )
        return out.with_columns(
            messages=pl.when(pl.col("_user").is_null() | pl.col("_assistant").is_null())
            .then(None)
            .when(pl.col("_system").is_not_null())
            .then(with_system)
            .otherwise(pl.concat_list(turn))
        )

    def rules(self) -> list[tuple[str, pl.Expr]]:
        return [
            ("no_task", pl.col("task").is_null()),
            ("missing_field", pl.col("_user").is_null() | pl.col("_assistant").is_null()),
            ("sampled_out", ~pl.col("_kept")),
        ]
