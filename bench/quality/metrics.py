"""Scoring a step's decisions against the gold sets.

Character accounting works on a *skeleton* of the text: its letters and digits (NFKC,
lower-cased), with spaces and punctuation dropped. Cleaning steps rewrite punctuation
and whitespace and line-aware steps may rejoin lines, so comparing skeletons tells
which input characters survived a step without being fooled by those rewrites.
"""

from __future__ import annotations

import difflib
import re
import statistics
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_NOT_ALNUM = re.compile(r"[\W_]+")
# Addresses, phone-like digit runs and mask_pii's placeholders are left out on both sides,
# so a masked text still lines up with its source.
_PII = re.compile(r"\S+@\S+|<(?:EMAIL|PHONE|IP|ID_NUMBER|CARD)>|\+?\d[\d\s().-]{6,}\d")


def skeleton(text: str) -> str:
    """The letters and digits of `text`, NFKC-normalized and lower-cased, without PII."""
    text = _PII.sub(" ", unicodedata.normalize("NFKC", text))
    return _NOT_ALNUM.sub("", text.lower())


def survival(text_in: str, text_out: str) -> list[bool]:
    """For each skeleton character of `text_in`: does it survive into `text_out`?

    Output lines are matched in order (a step deletes or rewrites, it does not reorder);
    a line not found verbatim is aligned with difflib against the input that follows."""
    sk_in = skeleton(text_in)
    alive = [False] * len(sk_in)
    cursor = 0
    for line in text_out.split("\n"):
        sk = skeleton(line)
        if not sk:
            continue
        at = sk_in.find(sk, cursor)
        if at >= 0:
            alive[at : at + len(sk)] = [True] * len(sk)
            cursor = at + len(sk)
            continue
        window = sk_in[cursor : cursor + 3 * len(sk) + 200]
        matcher = difflib.SequenceMatcher(None, window, sk, autojunk=False)
        last = 0
        for block in matcher.get_matching_blocks():
            if block.size >= 4:
                start = cursor + block.a
                alive[start : start + block.size] = [True] * block.size
                last = block.a + block.size
        cursor += last
    return alive


@dataclass
class SpanScore:
    content: int = 0
    content_lost: int = 0
    boilerplate: int = 0
    boilerplate_removed: int = 0
    stale: int = 0

    def add(self, other: SpanScore) -> None:
        for k in ("content", "content_lost", "boilerplate", "boilerplate_removed", "stale"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


def locate(haystack: str, needle: str, cursor: int) -> tuple[int, int]:
    """Where `needle` sits in `haystack` (after `cursor` if it can): (start, end), or (-1, -1).

    A span that a cleaning step partly rewrote (an address masked as <EMAIL>) is found by
    alignment in the text after `cursor`, when at least half of it matches."""
    for start in (cursor, 0):
        at = haystack.find(needle, start)
        if at >= 0:
            return at, at + len(needle)
    window = haystack[cursor : cursor + 3 * len(needle) + 200]
    blocks = [
        b
        for b in difflib.SequenceMatcher(None, window, needle, autojunk=False).get_matching_blocks()
        if b.size >= 4
    ]
    if blocks and sum(b.size for b in blocks) * 2 >= len(needle):
        return cursor + blocks[0].a, cursor + blocks[-1].a + blocks[-1].size
    return -1, -1


def score_spans(
    spans: list[dict[str, Any]], default: str, text_in: str, text_out: str | None
) -> SpanScore:
    """Content characters lost and boilerplate characters removed in one document.

    `spans` are located in `text_in` by their skeleton, in document order; characters no
    span covers count as `default` (keep, remove or ignore). `text_out` None means the
    document was rejected: everything is gone."""
    sk_in = skeleton(text_in)
    label = [default] * len(sk_in)
    score = SpanScore()
    cursor = 0
    for s in spans:
        sk = skeleton(s["text"])
        if not sk:
            continue
        at, end = locate(sk_in, sk, cursor)
        if at < 0:
            score.stale += 1
            continue
        label[at:end] = [s["label"]] * (end - at)
        cursor = end
    alive = survival(text_in, text_out) if text_out is not None else [False] * len(sk_in)
    for lab, ok in zip(label, alive, strict=True):
        if lab == "keep":
            score.content += 1
            score.content_lost += not ok
        elif lab == "remove":
            score.boilerplate += 1
            score.boilerplate_removed += not ok
    return score


# Unrepairable mojibake and private-use characters (issue 16's "garbled" runs).
GARBLED = re.compile(
    "\ufffd|锟斤拷|[\ue000-\uf8ff]|[埃保玻常矗担叮罚福梗]{3,}|(?:[À-ÿ][\u0080-\u00ff]){3,}"
)


def garbled(text: str) -> bool:
    """Does `text` carry a garbled run (U+FFFD, 锟斤拷, private use, shifted or Latin-1 GBK)?"""
    return GARBLED.search(text) is not None


def removed_share(text_in: str, text_out: str) -> float:
    """Share of the input's characters (skeleton) that the step removed."""
    n = len(skeleton(text_in))
    return 1 - sum(survival(text_in, text_out)) / n if n else 0.0


@dataclass
class Tally:
    """Decisions of one step on one group of gold documents."""

    keep: int = 0
    false_rejections: list[str] = field(default_factory=list)
    out_of_scope: int = 0
    junk: int = 0
    junk_rejected: int = 0
    dedup_rejected: int = 0
    removed: list[float] = field(default_factory=list)
    removed_wrapped: list[float] = field(default_factory=list)
    spans: SpanScore = field(default_factory=SpanScore)
    zh_kept: int = 0
    zh_garbled: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "keep_docs": self.keep,
            "false_rejections": len(self.false_rejections),
            "false_rejection_rate": _rate(len(self.false_rejections), self.keep),
            "out_of_scope_language": self.out_of_scope,
            "dedup_rejected": self.dedup_rejected,
            "junk_docs": self.junk,
            "junk_rejected": self.junk_rejected,
            "junk_recall": _rate(self.junk_rejected, self.junk),
            "removed_median": _stat(statistics.median, self.removed),
            "removed_mean": _stat(statistics.fmean, self.removed),
            "wrapped_docs_kept": len(self.removed_wrapped),
            "wrapped_removed_median": _stat(statistics.median, self.removed_wrapped),
            "wrapped_removed_mean": _stat(statistics.fmean, self.removed_wrapped),
            "span_content_lost": _rate(self.spans.content_lost, self.spans.content),
            "span_boilerplate_removed": _rate(
                self.spans.boilerplate_removed, self.spans.boilerplate
            ),
            "span_stale": self.spans.stale,
            "zh_kept": self.zh_kept,
            "zh_garbled_share": _rate(len(self.zh_garbled), self.zh_kept),
        }


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _stat(fn: Any, xs: Iterable[float]) -> float | None:
    xs = list(xs)
    return round(fn(xs), 4) if xs else None
