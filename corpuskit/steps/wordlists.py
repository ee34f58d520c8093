"""Plain word lists shared by bad_words and url_filter: one word or phrase per line."""

from __future__ import annotations

import os
from pathlib import Path


def read_words(path: Path | str, origin: str | None = None) -> list[str]:
    """One word or phrase per line; blank lines and '#' comments skipped; errors name the file."""
    full = Path(os.path.expanduser(str(path)))
    try:
        text = full.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"word list {origin or path!s} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"word list {origin or path!s} cannot be read: {e}") from None
    return [w for line in text.splitlines() if (w := line.strip()) and not w.startswith("#")]
