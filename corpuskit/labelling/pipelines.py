"""spaCy pipelines without downloads: blank languages, installed packages, trained folders.

A pipeline is named by one string:
- `blank`: `spacy.blank(lang)`; Chinese gets spaCy's Chinese tokenizer with the jieba
  segmenter (spaCy's default for zh is one token per character).
- an installed pipeline package, e.g. `en_core_web_sm`: `spacy.load(name)`.
- a path to a pipeline folder (one with `config.cfg`), e.g. made by `corpuskit label train`.
  A value with a `/`, or starting with `.` or `~`, is always a path.

`check_spec` validates a name without importing spaCy (recipe validation stays fast);
`build_pipeline` loads it and adds what labelling needs and the pipeline lacks: a
sentencizer when nothing sets sentence boundaries, and an EntityRuler with the shipped
patterns for the language plus the recipe's own, placed before a statistical `ner` if
there is one (rules win where both find an entity).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

import polars as pl

from corpuskit.labelling import patterns as pattern_sets

BLANK = "blank"
# Factories that set sentence boundaries; without one, a sentencizer is added.
SENTENCE_SETTERS = ("parser", "senter", "sentencizer")
CLASSIFIERS = ("textcat", "textcat_multilabel")
RULER_NAME = "corpuskit_entities"


def blank_config(lang: str, segmenter: str = "jieba") -> dict[str, Any]:
    """Config overrides for `spacy.blank(lang)`: Chinese is segmented by jieba (words) by
    default, or `char` (one token per character)."""
    if lang == "zh":
        return {"nlp": {"tokenizer": {"segmenter": segmenter}}}
    return {}


def tokenizer_config(lang: str, segmenter: str = "jieba") -> dict[str, Any]:
    """The full tokenizer block of a blank `lang` pipeline, as a training config needs it."""
    import spacy

    config = dict(spacy.util.get_lang_class(lang).default_config["nlp"]["tokenizer"])
    config.update(blank_config(lang, segmenter).get("nlp", {}).get("tokenizer", {}))
    return config


def quiet_jieba() -> None:
    """jieba logs its dictionary loading at INFO on stderr; keep it to warnings."""
    logging.getLogger("jieba").setLevel(logging.WARNING)
    if importlib.util.find_spec("jieba") is not None:
        import jieba

        jieba.setLogLevel(logging.WARNING)


def is_path(spec: str) -> bool:
    return "/" in spec or "\\" in spec or spec.startswith((".", "~")) or Path(spec).is_dir()


def spacy_langs() -> set[str]:
    """Language codes spaCy has a blank class for (read from its package folder)."""
    found = importlib.util.find_spec("spacy")
    if found is None or not found.submodule_search_locations:
        return set()
    root = Path(next(iter(found.submodule_search_locations))) / "lang"
    return {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}


def check_spec(lang: str, spec: str) -> None:
    """Raise ValueError if the pipeline named by `spec` cannot be loaded for `lang`."""
    if importlib.util.find_spec("spacy") is None:
        raise ValueError("spacy_label needs spaCy: pip install 'spacy>=3.8'")
    if spec == BLANK:
        if lang not in spacy_langs():
            raise ValueError(
                f"spaCy has no blank pipeline for language {lang!r}; name an installed "
                "pipeline or a pipeline folder for it instead"
            )
        if lang == "zh" and importlib.util.find_spec("jieba") is None:
            raise ValueError("the blank Chinese pipeline segments with jieba: pip install jieba")
        return
    if is_path(spec):
        path = Path(spec).expanduser()
        if not (path / "config.cfg").is_file():
            raise ValueError(
                f"{spec!r} is not a spaCy pipeline folder (no config.cfg there); train one "
                "with `corpuskit label train --out DIR` or name an installed pipeline package"
            )
        meta = path / "meta.json"
        if meta.is_file():
            model_lang = json.loads(meta.read_text(encoding="utf-8")).get("lang")
            if model_lang and lang in spacy_langs() and model_lang != lang:
                raise ValueError(f"{spec!r} is a {model_lang!r} pipeline, not {lang!r}")
        return
    if importlib.util.find_spec(spec) is None:
        raise ValueError(
            f"the spaCy pipeline {spec!r} is not installed. Install it with "
            f"`python -m spacy download {spec}` (needs access to GitHub), or offline with "
            f"`pip install /path/to/{spec}-<version>-py3-none-any.whl` from a wheel downloaded "
            "elsewhere; or use `blank`, or a folder made by `corpuskit label train`"
        )


def load_base(lang: str, spec: str) -> Any:
    """The pipeline as named, before corpuskit adds anything."""
    import spacy

    quiet_jieba()
    if spec == BLANK:
        return spacy.blank(lang, config=blank_config(lang))
    if is_path(spec):
        return spacy.load(Path(spec).expanduser())
    return spacy.load(spec)


def load_pipeline_dir(path: Path) -> Any:
    """A pipeline folder (config.cfg, meta.json, component folders) as a Language object."""
    import spacy

    if not (path / "config.cfg").is_file():
        raise ValueError(f"{path}: not a spaCy pipeline folder (no config.cfg)")
    quiet_jieba()
    return spacy.load(path)


def sentencizer_config(lang: str) -> dict[str, Any]:
    """spaCy's defaults, except that Chinese text does not end sentences at an ASCII `.`:
    jieba splits e-mail addresses and URLs into pieces at every dot, and Chinese sentences
    end with `。`."""
    if lang != "zh":
        return {}
    from spacy.pipeline import Sentencizer

    return {"punct_chars": [c for c in Sentencizer.default_punct_chars if c != "."]}


def build_pipeline(
    lang: str,
    spec: str,
    extra_patterns: list[dict[str, Any]] | None = None,
    entities: bool = True,
    max_chars: int | None = None,
) -> Any:
    """Load `spec` for `lang`, then add a sentencizer and the entity patterns it needs."""
    nlp = load_base(lang, spec)
    factories = {nlp.get_pipe_meta(name).factory for name in nlp.pipe_names}
    if not factories & set(SENTENCE_SETTERS):
        nlp.add_pipe("sentencizer", first=True, config=sentencizer_config(nlp.lang))
    found = pattern_sets.shipped_for(nlp.lang) if entities else []
    found = [*found, *(extra_patterns or [])]
    if found:
        where = {"before": "ner"} if "ner" in nlp.pipe_names else {}
        ruler = nlp.add_pipe(
            "entity_ruler",
            name=RULER_NAME,
            config={"validate": True, "overwrite_ents": False},
            **where,
        )
        ruler.add_patterns(found)
    if max_chars is not None:
        nlp.max_length = max(nlp.max_length, max_chars + 1)
    return nlp


def route_by_lang(
    batch: pl.DataFrame, lang_column: str, keys: Collection[str], fallback: str | None
) -> pl.Series:
    """Per row, the key of the pipeline for its language (`zh-cn` and `zh_Hans` count as
    `zh`), else `fallback`; null where neither applies. Without the column, `fallback`."""
    if lang_column not in batch.columns:
        return pl.Series("lang", [fallback] * batch.height, dtype=pl.String())
    primary = (
        pl.col(lang_column)
        .cast(pl.String)
        .str.strip_chars()
        .str.to_lowercase()
        .str.split_exact("-", 1)
        .struct.field("field_0")
        .str.split_exact("_", 1)
        .struct.field("field_0")
    )
    fallback_lit = pl.lit(fallback, dtype=pl.String())
    route = pl.when(primary.is_in(list(keys))).then(primary).otherwise(fallback_lit)
    return batch.select(route.alias("lang")).to_series()


def classifier_of(nlp: Any) -> str | None:
    """The name of the pipeline's text classifier, if it has one."""
    for name in nlp.pipe_names:
        if nlp.get_pipe_meta(name).factory in CLASSIFIERS:
            return name
    return None
