"""Regex pattern lists shared by remove_boilerplate_lines and ad_filter: the lists shipped
under corpuskit/data/<kind>/ (one regular expression per line, "#" comments, "cut:" for
patterns that remove only their match), a recipe's own, and their combination into few
Rust regexes."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import polars as pl

CUT_PREFIX = "cut:"


@dataclass(frozen=True)
class Pattern:
    """One pattern of a list: its regex, whether it cuts only the match, and where it is from."""

    regex: str
    cut: bool
    origin: str


def shipped_lists(kind: str) -> dict[str, Traversable]:
    """The pattern lists shipped under corpuskit/data/<kind>/, by name ("zh", "en")."""
    root = resources.files("corpuskit") / "data" / kind
    return {
        p.name.removesuffix(".txt"): p
        for p in root.iterdir()
        if p.is_file() and p.name.endswith(".txt")
    }


def parse_patterns(text: str, origin: str, allow_cut: bool = True) -> list[Pattern]:
    """Patterns of a list file: one per line, '#' comments and blank lines skipped."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        out.append(pattern_from(line, f"{origin}:{n}", allow_cut))
    return out


def pattern_from(line: str, origin: str, allow_cut: bool = True) -> Pattern:
    cut = allow_cut and line.startswith(CUT_PREFIX)
    regex = line[len(CUT_PREFIX) :].strip() if cut else line
    if not regex:
        raise ValueError(f"empty pattern at {origin}")
    return Pattern(regex, cut, origin)


def check_pattern(p: Pattern) -> None:
    """Compile with the engine that will run it (Polars' Rust regex); errors name the pattern."""
    try:
        empty = pl.Series([""]).str.contains(ascii_boundaries(p.regex)).item()
    except pl.exceptions.PolarsError as e:
        detail = str(e).split("\n\nThis error occurred")[0].strip()
        raise ValueError(f"invalid regex {p.regex!r} at {p.origin}: {detail}") from None
    if empty:
        raise ValueError(
            f"pattern {p.regex!r} at {p.origin} matches the empty string, "
            "so it would remove everything"
        )


def read_pattern_file(path: str, allow_cut: bool = True) -> list[Pattern]:
    full = Path(os.path.expanduser(path))
    try:
        text = full.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"pattern file {path!r} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"pattern file {path!r} cannot be read: {e}") from None
    return parse_patterns(text, str(path), allow_cut)


_WORD_BOUNDARY = re.compile(r"(?<!\\)((?:\\\\)*)\\([bB])")


def ascii_boundaries(regex: str) -> str:
    """\\b and \\B as ASCII word boundaries: Rust regex's fast DFA gives up on a Unicode \\b
    as soon as the text is not ASCII (Chinese), which made one list 40x slower."""
    return _WORD_BOUNDARY.sub(r"\1(?-u:\\\2)", regex)


def collect_patterns(
    kind: str,
    languages: tuple[str, ...],
    exclude: tuple[str, ...],
    extra: tuple[str, ...],
    files: tuple[str, ...],
    allow_cut: bool,
    keys: tuple[str, str] = ("exclude_patterns", "extra_patterns"),
) -> list[Pattern]:
    """Shipped lists `languages` of corpuskit/data/<kind>/, minus `exclude` (exact pattern
    text), plus the `extra` patterns and the patterns of `files`, in that order."""
    available = shipped_lists(kind)
    out: list[Pattern] = []
    for lang in languages:
        if lang not in available:
            raise ValueError(
                f"languages: no shipped {kind} list {lang!r}; "
                f"available: {', '.join(sorted(available))}"
            )
        text = available[lang].read_text(encoding="utf-8")
        out.extend(parse_patterns(text, f"{kind}/{lang}.txt", allow_cut))
    if exclude:
        by_text = {(f"{CUT_PREFIX} {p.regex}" if p.cut else p.regex): p for p in out}
        wanted = {e.strip() for e in exclude}
        missing = sorted(wanted - set(by_text))
        if missing:
            raise ValueError(
                f"{keys[0]}: {missing[0]!r} is in none of the shipped lists "
                f"{list(languages)}; give a pattern's exact text as in the file"
            )
        out = [p for key, p in by_text.items() if key not in wanted]
    for i, line in enumerate(extra):
        out.append(pattern_from(line.strip(), f"{keys[1]}[{i}]", allow_cut))
    for path in files:
        out.extend(read_pattern_file(path, allow_cut))
    return out


def combine(patterns: list[Pattern], ignore_case: bool) -> str | None:
    """One alternation of all patterns, each in its own group so inline flags stay local."""
    if not patterns:
        return None
    body = "|".join(f"(?:{ascii_boundaries(p.regex)})" for p in patterns)
    return f"(?i:{body})" if ignore_case else body


def combine_groups(patterns: list[Pattern], ignore_case: bool) -> list[str]:
    """One combined regex per list file and anchoring (patterns with "^" apart).

    A single alternation of every list is 2-3x slower on Chinese text than these few: Rust
    regex's lazy DFA runs out of cache on one big Unicode alternation, and the unanchored
    patterns keep their literal prefilter when the "^\\W*..." ones are not mixed in.
    """
    groups: dict[tuple[str, bool], list[Pattern]] = {}
    for p in patterns:
        source = p.origin.rsplit(":", 1)[0].split("[", 1)[0]
        groups.setdefault((source, "^" in p.regex), []).append(p)
    return [r for g in groups.values() if (r := combine(g, ignore_case)) is not None]


_VERBOSE = re.compile(r"\(\?[a-zA-Z-]*x")


def top_branches(regex: str) -> list[str] | None:
    """The top-level alternatives of `regex` ("a|(?:b|c)|[|]" -> "a", "(?:b|c)", "[|]");
    None where a branch sets flags for the ones after it (`(?i)` outside a group), in
    verbose mode (a "#" comment may hold any character) and where groups do not balance."""
    if _VERBOSE.search(regex):
        return None
    out: list[str] = []
    depth, start, i, n = 0, 0, 0, len(regex)
    while i < n:
        ch = regex[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":  # a class: "]" first (or after "^") is a member; nested classes
            i += 1
            if i < n and regex[i] == "^":
                i += 1
            if i < n and regex[i] == "]":
                i += 1
            level = 1
            while i < n and level:
                if regex[i] == "\\":
                    i += 1
                elif regex[i] == "[":
                    level += 1
                elif regex[i] == "]":
                    level -= 1
                i += 1
            continue
        if ch == "(":
            if depth == 0 and re.match(r"\(\?[a-zA-Z-]+\)", regex[i:]):
                return None
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(regex[start:i])
            start = i + 1
        i += 1
    out.append(regex[start:])
    return None if depth else out
