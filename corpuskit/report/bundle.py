"""Vega, Vega-Lite and Vega-Embed as one inlinable script, built once per machine.

vl-convert ships the libraries and bundles them with no network; bundling takes seconds,
so the result is kept in the user's cache folder, keyed by vl-convert's version.
`python -m corpuskit.report.bundle` builds it ahead (`make setup` does).
"""

from __future__ import annotations

import os
from pathlib import Path

SNIPPET = "window.vegaEmbed = vegaEmbed;"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "corpuskit"


def vega_bundle() -> str:
    """The script that defines `window.vegaEmbed`, from the cache or built now."""
    try:
        import vl_convert
    except ImportError as e:
        raise RuntimeError(
            "corpuskit report needs its charting extra: pip install 'corpuskit[report]'"
        ) from e
    version = getattr(vl_convert, "__version__", "unknown")
    path = cache_dir() / f"vega-embed-{version}.js"
    if path.exists():
        return path.read_text(encoding="utf-8")
    script = vl_convert.javascript_bundle(snippet=SNIPPET)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(script, encoding="utf-8")
    os.replace(tmp, path)
    return script


if __name__ == "__main__":
    print(f"vega bundle: {len(vega_bundle()):,} characters in {cache_dir()}")
