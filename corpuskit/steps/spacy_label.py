"""spacy_label: sentences, tokens, entities and a trained class for each document, with spaCy.

Offline by design: the default pipelines are blank spaCy languages (English, and Chinese
segmented with jieba) plus a sentencizer and an EntityRuler whose patterns ship in
corpuskit/data/spacy (see corpuskit.labelling.patterns). A recipe can instead name an
installed pipeline package (`en_core_web_sm`) or a folder made by `corpuskit label train`,
whose text classifier then fills `class` and `score`.

Routing: each document goes to the pipeline of its `lang` (the `language` step's column;
`zh-cn` counts as `zh`). Documents without a `lang` column or value, or whose language has
no pipeline, go to the `fallback` pipeline (default `en`); with `fallback: null` they are
left unlabelled (`labels` null). The step never drops a document.

Speed: texts go through `nlp.pipe` in batches of `batch_size`; the pipelines load once per
process in `setup()`. With `n_process` > 1 the step keeps its own pool of that many
processes for its whole life, each loading the pipelines once in its initializer, and
splits every batch among them (spaCy's `nlp.pipe(n_process=...)` would start new processes
and copy the pipelines on every call, i.e. every batch). The engine's `workers` already run
units in parallel, so `n_process` is for runs with few workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.util import Finalize
from typing import Any, ClassVar

import numpy as np
import polars as pl
from pydantic import Field, field_validator, model_validator

from corpuskit.labelling import patterns as pattern_sets
from corpuskit.labelling.pipelines import (
    build_pipeline,
    check_spec,
    classifier_of,
    route_by_lang,
)
from corpuskit.steps.base import MapStep, StepConfig

ALL = "all"  # key of `patterns` that applies to every pipeline

ENTITY = pl.Struct(
    {"text": pl.String(), "label": pl.String(), "start": pl.Int64(), "end": pl.Int64()}
)
LABELS = pl.Struct(
    {
        "lang": pl.String(),  # the pipeline that labelled the document
        "sentences": pl.Int64(),
        "tokens": pl.Int64(),  # tokens that are not whitespace
        "entities": pl.List(ENTITY),  # start/end: character offsets into `text`
        "class": pl.String(),  # the classifier's top class; null without a classifier
        "score": pl.Float64(),  # its score (probability for exclusive classes)
    }
)

PatternItem = str | dict[str, Any]


class SpacyLabelConfig(StepConfig):
    # language code -> `blank`, an installed pipeline package, or a pipeline folder
    pipelines: dict[str, str] = Field(default_factory=lambda: {"en": "blank", "zh": "blank"})
    # the column naming each document's language (from the `language` step)
    lang_column: str = "lang"
    # pipeline for documents with no language or one without a pipeline; null: leave them
    # unlabelled
    fallback: str | None = "en"
    # the shipped EntityRuler patterns (common + the pipeline's language)
    entities: bool = True
    # extra EntityRuler patterns: a list (for every pipeline) or a mapping of pipeline
    # language (or `all`) to a list; each item is a JSONL file path or an inline pattern
    patterns: list[PatternItem] | dict[str, list[PatternItem]] = Field(default_factory=list)
    batch_size: int = Field(256, ge=1)
    n_process: int = Field(1, ge=1)
    # only this many leading characters of a document are labelled (spaCy's memory grows
    # with the text length; its own limit is 1,000,000)
    max_chars: int = Field(100_000, ge=1)

    @field_validator("pipelines")
    @classmethod
    def _some_pipeline(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            raise ValueError("name at least one pipeline, e.g. {en: blank}")
        return {k.strip().lower(): s.strip() for k, s in v.items()}

    @model_validator(mode="after")
    def _known_keys(self) -> SpacyLabelConfig:
        if self.fallback is not None and self.fallback not in self.pipelines:
            raise ValueError(
                f"fallback {self.fallback!r} is not one of the pipelines "
                f"({', '.join(self.pipelines)}); use null to leave such documents unlabelled"
            )
        if isinstance(self.patterns, dict):
            unknown = set(self.patterns) - set(self.pipelines) - {ALL}
            if unknown:
                raise ValueError(
                    f"patterns: no pipeline for {', '.join(sorted(unknown))}; keys are "
                    f"pipeline languages or `{ALL}`"
                )
        return self

    def patterns_by_lang(self) -> dict[str, list[PatternItem]]:
        if isinstance(self.patterns, list):
            return {ALL: list(self.patterns)} if self.patterns else {}
        return {k: list(v) for k, v in self.patterns.items()}


def resolve_patterns(config: SpacyLabelConfig) -> dict[str, list[dict[str, Any]]]:
    """The recipe's patterns for each pipeline language, files read and checked."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for key, items in config.patterns_by_lang().items():
        out: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            if isinstance(item, str):
                out.extend(pattern_sets.load_file(item))
            else:
                out.append(pattern_sets.check_pattern(item, f"patterns.{key}[{i}]"))
        by_key[key] = out
    return {lang: [*by_key.get(ALL, []), *by_key.get(lang, [])] for lang in config.pipelines}


def build_pipelines(config: SpacyLabelConfig) -> dict[str, Any]:
    """Every configured pipeline, loaded and completed (sentencizer, entity ruler)."""
    extra = resolve_patterns(config)
    return {
        lang: build_pipeline(lang, spec, extra[lang], config.entities, config.max_chars)
        for lang, spec in config.pipelines.items()
    }


def label_texts(nlp: Any, texts: list[str], batch_size: int) -> dict[str, list[Any]]:
    """Run `nlp.pipe` and keep what `labels` stores, as flat lists (cheap to pickle).

    Per document: sentences, tokens, class, score. Entities are flat: `ent_doc` is the
    index of the entity's document in `texts`.
    """
    from spacy.attrs import IS_SPACE, SENT_START

    classifier = classifier_of(nlp)
    out: dict[str, list[Any]] = {
        k: []
        for k in (
            "sentences", "tokens", "class", "score",
            "ent_doc", "ent_text", "ent_label", "ent_start", "ent_end",
        )
    }  # fmt: skip
    sentences, tokens, classes, scores = out["sentences"], out["tokens"], out["class"], out["score"]
    ent_doc, ent_text, ent_label = out["ent_doc"], out["ent_text"], out["ent_label"]
    ent_start, ent_end = out["ent_start"], out["ent_end"]
    for i, doc in enumerate(nlp.pipe(texts, batch_size=batch_size)):
        if len(doc):
            arr = doc.to_array([IS_SPACE, SENT_START])
            words = arr[:, 0] == 0
            # Sentences holding at least one non-space token (a trailing newline after the
            # last full stop is not a sentence): distinct sentence ids among the words.
            ids = np.cumsum(arr[:, 1] == 1)[words]
            sentences.append(int(ids.size and 1 + np.count_nonzero(ids[1:] != ids[:-1])))
            tokens.append(int(ids.size))
        else:
            sentences.append(0)
            tokens.append(0)
        for e in doc.ents:
            ent_doc.append(i)
            ent_text.append(e.text)
            ent_label.append(e.label_)
            ent_start.append(e.start_char)
            ent_end.append(e.end_char)
        if classifier is not None and doc.cats:
            top = max(doc.cats, key=doc.cats.get)
            classes.append(top)
            scores.append(float(doc.cats[top]))
        else:
            classes.append(None)
            scores.append(None)
    return out


# --- the step's own process pool (n_process > 1) -------------------------------------

_WORKER_PIPELINES: dict[str, Any] = {}


def _init_pool_worker(config_json: str) -> None:
    # Die with the parent: a killed run must not leave labelling processes behind.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = SpacyLabelConfig.model_validate_json(config_json)
    _WORKER_PIPELINES.update(build_pipelines(config))


def _pool_label(lang: str, texts: list[str], batch_size: int) -> dict[str, list[Any]]:
    return label_texts(_WORKER_PIPELINES[lang], texts, batch_size)


def _pool_ready() -> int:
    """Answered by a pool process once its initializer (the pipelines) has run."""
    time.sleep(0.05)  # long enough that an idle process does not take every call
    return os.getpid()


def start_pool(config: SpacyLabelConfig, timeout: float = 900.0) -> ProcessPoolExecutor:
    """A pool of `n_process` processes, returned once every one has loaded the pipelines.

    ProcessPoolExecutor starts processes as work arrives; asking until each process has
    answered moves the loading out of the first batches (and raises here, naming the
    cause, if a pipeline fails to load).
    """
    pool = ProcessPoolExecutor(
        config.n_process,
        mp_context=mp.get_context("spawn"),
        initializer=_init_pool_worker,
        initargs=(config.model_dump_json(),),
    )
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < config.n_process and time.monotonic() < deadline:
        calls = [pool.submit(_pool_ready) for _ in range(config.n_process)]
        seen.update(call.result() for call in calls)
    return pool


class SpacyLabel(MapStep):
    """Label documents with spaCy: sentence and token counts, entities, a trained class."""

    Config = SpacyLabelConfig
    columns: ClassVar[dict[str, pl.DataType]] = {"labels": LABELS}

    def validate(self) -> None:
        c: SpacyLabelConfig = self.config
        for lang, spec in c.pipelines.items():
            try:
                check_spec(lang, spec)
            except ValueError as e:
                raise ValueError(f"pipelines.{lang}: {e}") from None
        resolved = resolve_patterns(c)
        for lang, found in resolved.items():
            pattern_sets.validate_token_patterns(found, f"patterns ({lang})")

    def setup(self) -> None:
        c: SpacyLabelConfig = self.config
        self._pipelines: dict[str, Any] = {}
        self._pool: ProcessPoolExecutor | None = None
        if c.n_process > 1:
            self._pool = start_pool(c)
            # Shut the pool down with the process (also in engine workers, which exit
            # through multiprocessing's own exit hooks rather than atexit).
            Finalize(self, self._pool.shutdown, kwargs={"cancel_futures": True}, exitpriority=10)
        else:
            self._pipelines = build_pipelines(c)

    def _transient(self) -> tuple[str, ...]:
        return ("_pipelines", "_pool")

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        """Counts docs_labelled, docs_unlabelled, entities and pipeline:<lang>."""
        c: SpacyLabelConfig = self.config
        n = batch.height
        routed = pl.DataFrame(
            {
                "i": pl.int_range(n, eager=True),
                "lang": self._routes(batch),
                "text": batch["text"].fill_null("").str.slice(0, c.max_chars),
            }
        )
        jobs = []
        for (lang,), group in routed.filter(pl.col("lang").is_not_null()).group_by(
            "lang", maintain_order=True
        ):
            jobs.extend(self._label(lang, group["i"], group["text"].to_list()))
        docs, ents = [], []
        for lang, rows, result in jobs:
            if not isinstance(result, dict):
                result = result.result()  # a future of the pool
            docs.append(
                pl.DataFrame(
                    {
                        "i": rows,
                        "lang": pl.repeat(lang, rows.len(), dtype=pl.String(), eager=True),
                        **{k: result[k] for k in ("sentences", "tokens", "class", "score")},
                    },
                    schema_overrides={"class": pl.String(), "score": pl.Float64()},
                )
            )
            ents.append(
                pl.DataFrame(
                    {
                        "i": rows.gather(result["ent_doc"]) if result["ent_doc"] else [],
                        "text": result["ent_text"],
                        "label": result["ent_label"],
                        "start": result["ent_start"],
                        "end": result["ent_end"],
                    },
                    schema={"i": pl.Int64(), **ENTITY.to_schema()},
                )
            )
        schema = {"i": pl.Int64(), **LABELS.to_schema()}
        labelled = pl.DataFrame(schema=schema)
        if docs:
            per_doc = pl.concat(docs, how="vertical_relaxed")
            entities = (
                pl.concat(ents)
                .group_by("i")
                .agg(entities=pl.struct("text", "label", "start", "end"))
            )
            labelled = (
                per_doc.join(entities, on="i", how="left")
                .with_columns(pl.col("entities").fill_null([]))
                .select(list(schema))
                .cast(schema)
            )
        labels = (
            routed.select("i")
            .join(labelled, on="i", how="left", maintain_order="left")
            .select(
                pl.when(pl.col("lang").is_not_null())
                .then(pl.struct(*LABELS.to_schema()))
                .alias("labels")
            )
            .to_series()
        )
        self.count("docs_labelled", labels.is_not_null().sum())
        self.count("docs_unlabelled", labels.is_null().sum())
        self.count("entities", labels.struct.field("entities").list.len().sum() or 0)
        for lang, n in labels.struct.field("lang").drop_nulls().value_counts().iter_rows():
            self.count(f"pipeline:{lang}", n)
        return batch.with_columns(labels)

    def _routes(self, batch: pl.DataFrame) -> pl.Series:
        """The pipeline key of each document, null where it stays unlabelled."""
        c: SpacyLabelConfig = self.config
        return route_by_lang(batch, c.lang_column, c.pipelines, c.fallback)

    def _label(
        self, lang: str, rows: pl.Series, texts: list[str]
    ) -> list[tuple[str, pl.Series, Any]]:
        """(lang, rows, result or future) parts; in the pool, one part per process."""
        c: SpacyLabelConfig = self.config
        if self._pool is None:
            return [(lang, rows, label_texts(self._pipelines[lang], texts, c.batch_size))]
        parts = []
        size = -(-len(texts) // c.n_process)
        for start in range(0, len(texts), size):
            chunk = texts[start : start + size]
            future = self._pool.submit(_pool_label, lang, chunk, c.batch_size)
            parts.append((lang, rows.slice(start, size), future))
        return parts
