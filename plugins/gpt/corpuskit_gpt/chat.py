"""Conversations: the ChatML template, its tokens, and which tokens the loss is taken on.

A conversation is a list of messages `{role, content}` (the OpenAI API's and TRL's
convention); a prompt/completion pair is the conversation `[user: prompt, assistant:
completion]`. The template is ChatML:

    <|im_start|>system\nYou are ...<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n
    <|im_start|>assistant\nHello!<|im_end|>\n

stored as a Jinja `chat_template` in tokenizer_config.json, so `apply_chat_template`
works on a saved model. The assistant's content and its `<|im_end|>` sit inside
`{% generation %}` tags: `apply_chat_template(..., return_assistant_tokens_mask=True)`
(TRL's `assistant_only_loss`) marks the same tokens the trainer learns from here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from tokenizers import AddedToken, Tokenizer

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
ROLES = ("system", "user", "assistant")
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}"
    "{{ '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


class BadConversation(ValueError):
    """A conversation that cannot be rendered; the message says which message and why."""


def with_chat_tokens(tok: Tokenizer) -> Tokenizer:
    """The tokenizer with ChatML's two special tokens (the next free ids, if missing)."""
    missing = [t for t in (IM_START, IM_END) if tok.token_to_id(t) is None]
    if missing:
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in missing])
    return tok


def as_messages(value: Any, origin: str = "conversation") -> list[dict[str, str]]:
    """A conversation from a Parquet value: a list of {role, content} or its JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as e:
            raise BadConversation(f"{origin}: messages are not valid JSON: {e}") from None
    if not isinstance(value, list) or not value:
        raise BadConversation(f"{origin}: messages must be a non-empty list of {{role, content}}")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise BadConversation(f"{origin}: message {i} is not a mapping with role and content")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise BadConversation(f"{origin}: message {i} has role {role!r}; use one of {ROLES}")
        if not isinstance(content, str):
            raise BadConversation(f"{origin}: message {i} ({role}) has no text content")
        out.append({"role": role, "content": content})
    return out


def pair_messages(prompt: str, completion: str, system: str | None = None) -> list[dict]:
    """A prompt/completion pair as a conversation."""
    head = [{"role": "system", "content": system}] if system else []
    turn = [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
    return [*head, *turn]


def render(
    messages: Sequence[dict[str, str]], add_generation_prompt: bool = False
) -> tuple[str, list[tuple[int, int]]]:
    """The template's text (exactly what CHATML_TEMPLATE gives) and the character spans the
    loss is taken on: each assistant message's content and its `<|im_end|>`."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    at = 0
    for m in messages:
        head = f"{IM_START}{m['role']}\n"
        body = m["content"] + IM_END
        if m["role"] == "assistant":
            spans.append((at + len(head), at + len(head) + len(body)))
        piece = head + body + "\n"
        parts.append(piece)
        at += len(piece)
    if add_generation_prompt:
        parts.append(f"{IM_START}assistant\n")
    return "".join(parts), spans


def encode_conversations(
    tok: Tokenizer, conversations: Sequence[Sequence[dict[str, str]]]
) -> Iterator[tuple[list[int], list[int]]]:
    """(token ids, loss mask) of each conversation: mask 1 on assistant tokens.

    The whole rendered text is tokenized at once (as at inference) and a token belongs
    to the assistant when it starts inside an assistant span.
    """
    rendered = [render(c) for c in conversations]
    encodings = tok.encode_batch([text for text, _ in rendered], add_special_tokens=False)
    for (_, spans), enc in zip(rendered, encodings, strict=True):
        mask = [0] * len(enc.ids)
        k = 0
        for i, (start, _) in enumerate(enc.offsets):
            while k < len(spans) and start >= spans[k][1]:
                k += 1
            if k < len(spans) and spans[k][0] <= start:
                mask[i] = 1
        yield enc.ids, mask


def conversation_texts(conversations: Iterable[Sequence[dict[str, str]]]) -> Iterator[str]:
    """Rendered conversations (to train a tokenizer on)."""
    for c in conversations:
        yield render(c)[0]
