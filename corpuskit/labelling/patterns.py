"""EntityRuler patterns: the sets shipped in corpuskit/data/spacy, and the recipe's own.

Files are spaCy's EntityRuler JSONL (`{"label": ..., "pattern": ...}` a line), with `#`
comment lines and blank lines allowed. A string pattern is a phrase; a list is a Matcher
token pattern (dates, money and percentages are token patterns with LIKE_NUM, REGEX and IN
predicates, so spaCy's Matcher finds them, not hand-written loops).

Shipped: `common.jsonl` (language-neutral: e-mails, URLs, % and currency signs, numeric
dates and times) for every pipeline, plus `en.jsonl` / `zh.jsonl` for those languages
(organizations by suffix and by name, countries, provinces and cities, regions, money,
percentages, dates, times).
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

COMMON = "common"
SHIPPED_LANGS = ("en", "zh")


def read_patterns(text: str, origin: str) -> list[dict[str, Any]]:
    """Parse EntityRuler JSONL; raise ValueError naming `origin` and the line."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{origin}:{number}: not valid JSON: {e.msg}") from None
        out.append(check_pattern(item, f"{origin}:{number}"))
    return out


def check_pattern(item: Any, where: str) -> dict[str, Any]:
    """The shape EntityRuler needs: a label, and a phrase or a list of token specs."""
    if not isinstance(item, dict):
        raise ValueError(f"{where}: a pattern is an object with label and pattern")
    unknown = set(item) - {"label", "pattern", "id"}
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    label = item.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"{where}: `label` must be a non-empty string")
    pattern = item.get("pattern")
    if isinstance(pattern, str):
        if not pattern.strip():
            raise ValueError(f"{where}: the phrase pattern is empty")
    elif isinstance(pattern, list) and pattern and all(isinstance(t, dict) for t in pattern):
        pass
    else:
        raise ValueError(
            f"{where}: `pattern` must be a phrase (string) or a non-empty list of token specs"
        )
    return item


def validate_token_patterns(patterns: list[dict[str, Any]], origin: str) -> None:
    """spaCy's own schema check of token patterns (attribute names, operators, predicates),
    and every REGEX compiled with Python's `re`, as spaCy's Matcher will."""
    if not any(isinstance(item["pattern"], list) for item in patterns):
        return  # phrases only: no need to import spaCy (seconds) to validate a recipe
    from spacy.schemas import validate_token_pattern

    for i, item in enumerate(patterns):
        if not isinstance(item["pattern"], list):
            continue
        where = f"{origin}: pattern {i + 1} ({item['label']})"
        errors = validate_token_pattern(item["pattern"])
        if errors:
            raise ValueError(f"{where}: {errors[0]}")
        for regex in _regexes(item["pattern"]):
            try:
                re.compile(regex)
            except re.error as e:
                raise ValueError(f"{where}: REGEX {regex!r} does not compile: {e}") from None


def _regexes(value: Any) -> list[str]:
    """Every REGEX predicate's expression inside a token pattern."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "REGEX" and isinstance(inner, str):
                found.append(inner)
            else:
                found.extend(_regexes(inner))
    elif isinstance(value, list):
        for inner in value:
            found.extend(_regexes(inner))
    return found


@functools.cache
def shipped(name: str) -> tuple[dict[str, Any], ...]:
    """A shipped pattern set (`common`, `en`, `zh`), or () where none ships for `name`."""
    ref = resources.files("corpuskit") / "data" / "spacy" / f"{name}.jsonl"
    if not ref.is_file():
        return ()
    return tuple(read_patterns(ref.read_text(encoding="utf-8"), f"corpuskit/data/spacy/{name}"))


def shipped_for(lang: str) -> list[dict[str, Any]]:
    """Common patterns plus the language's own, if corpuskit ships some."""
    return [*shipped(COMMON), *shipped(lang)]


def load_file(path: str | Path) -> list[dict[str, Any]]:
    """A user's pattern file (EntityRuler JSONL)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ValueError(f"pattern file {str(path)!r} not found")
    return read_patterns(p.read_text(encoding="utf-8"), str(path))
