"""remove_frequent_lines: corpus-wide line counts with spill files, scopes, and a real run."""

from __future__ import annotations

import itertools

import polars as pl
import pytest

from corpuskit.corpus import Corpus
from corpuskit.engine.run import run_recipe
from corpuskit.engine.stages import build_steps
from corpuskit.recipe import RecipeError, recipe_from_dict
from corpuskit.schema import REASON_COLUMN
from corpuskit.steps.remove_frequent_lines import (
    FrequentLinesConfig,
    RemoveFrequentLines,
    normalized,
)
from tests.conftest import write_jsonl

ANIMALS = "otter heron badger falcon lynx walrus beaver magpie".split()
PLACES = "harbour meadow quarry orchard station market chapel bridge".split()
FOOTER = "Sign up for the Daily Planet newsletter and never miss a story"
NAV = "Home | World | Business | Sport | Culture"


def story(i: int) -> str:
    """A content line no other document has (words, not digits: digits normalize to 0)."""
    a, p = list(itertools.product(ANIMALS, PLACES))[i]
    return f"A {a} was seen near the old {p} this morning, residents said."


def corpus(tmp_path, frames: list[pl.DataFrame]) -> Corpus:
    files = []
    for i, f in enumerate(frames):
        path = tmp_path / f"shard-{i}.parquet"
        f.write_parquet(path)
        files.append(path)
    return Corpus(files, tmp_path / "work", 1)


def docs(texts: list[str], source: str = "a.jsonl", urls: list[str | None] | None = None):
    return pl.DataFrame(
        {
            "id": [f"{source}:{i}" for i in range(len(texts))],
            "text": texts,
            "source": [source] * len(texts),
            "url": urls or [None] * len(texts),
        },
        schema={"id": pl.String, "text": pl.String, "source": pl.String, "url": pl.String},
    )


def step(**config) -> RemoveFrequentLines:
    return RemoveFrequentLines(FrequentLinesConfig(**config), name="remove_frequent_lines")


def test_fit_counts_documents_and_apply_removes(tmp_path):
    texts = [f"{NAV}\n{story(i)}\n{FOOTER}" for i in range(4)]
    texts += [f"{story(4)}\n{FOOTER}\n{FOOTER}\n{FOOTER}"]  # counted once for its document
    texts += [f"{story(5)}\nYes.\nYes.", f"{story(6)}\nYes.", f"{story(7)}\nYes."]
    texts += [f"{story(8)}\n{story(9)}", FOOTER + "\n" + NAV]  # last: nothing but boilerplate
    frame = docs(texts)
    s = step(min_docs=5)
    state = s.fit(corpus(tmp_path, [frame[:4], frame[4:]]))
    assert state.dtype == pl.UInt64 and state.len() == 2  # FOOTER (6 docs), NAV (5 docs)
    result = s.process(frame, state)
    out = result.batch
    assert out["text"].to_list()[:-1] == [story(i) for i in range(5)] + texts[5:9]
    assert out["frequent_lines_removed"].to_list() == [2, 2, 2, 2, 3, 0, 0, 0, 0, 2]
    assert out[REASON_COLUMN].to_list() == [None] * 9 + ["remove_frequent_lines:empty"]
    assert out["text"][-1] == texts[-1]  # the rejected keep their text
    chars = [len(a) - len(b) for a, b in zip(texts, out["text"], strict=True)][:-1]
    assert out["frequent_chars_removed"].to_list()[:-1] == chars
    assert result.counters == {
        "lines_removed": 13,
        "chars_removed": sum(chars) + len(texts[-1]),
        "docs_changed": 6,
    }
    # one document fewer and FOOTER's 6 documents still count; NAV's 5 do not reach 6
    assert step(min_docs=6).fit(corpus(tmp_path, [frame])).len() == 1
    assert not list((tmp_path / "work").rglob("*.parquet"))  # spill files are removed


def test_short_lines_are_spared(tmp_path):
    texts = [f"{story(i)}\nThank you.\nFirst Citizen:" for i in range(6)]
    frame = docs(texts)
    assert step().fit(corpus(tmp_path, [frame])).len() == 0  # min_chars 20
    s = step(min_chars=5)
    state = s.fit(corpus(tmp_path, [frame]))
    assert s.process(frame, state).batch["text"].to_list() == [story(i) for i in range(6)]


def test_normalized_keys():
    lines = pl.Series(
        [
            "Page 12 of 40 -- Next!",
            "page 3 of 9: next",
            "  PAGE 7   OF 8 NEXT  ",
            "Page twelve of forty",
            "【客服热线】400-123-4567",
        ]
    )
    keys = pl.select(normalized(pl.lit(lines))).to_series().to_list()
    assert keys[:3] == ["page 00 of 00 next", "page 0 of 0 next", "page 0 of 0 next"]
    assert keys[3] == "page twelve of forty"
    assert keys[4] == "客服热线0000000000"


def test_scopes(tmp_path):
    a = docs([f"{story(i)}\n{FOOTER}" for i in range(3)], source="a.jsonl")
    b = docs([f"{story(i + 3)}\n{FOOTER}" for i in range(2)], source="b.jsonl")
    c = corpus(tmp_path, [a, b])
    assert step(min_docs=3).fit(c).len() == 1  # corpus: 5 documents
    s = step(min_docs=3, scope="source")
    state = s.fit(c)
    assert state.len() == 1  # only a.jsonl has it 3 times
    assert s.process(a, state).batch["frequent_lines_removed"].to_list() == [1, 1, 1]
    assert s.process(b, state).batch["frequent_lines_removed"].to_list() == [0, 0]
    urls = ["https://news.example.com/a", "http://NEWS.example.com:8080/b", None]
    h = docs([f"{story(i)}\n{FOOTER}" for i in range(3)], urls=urls)
    s = step(min_docs=2, scope="host")
    state = s.fit(corpus(tmp_path, [h]))
    assert s.process(h, state).batch["frequent_lines_removed"].to_list() == [1, 1, 0]


def test_spilled_partitions_give_the_same_state(tmp_path):
    texts = [f"{story(i)}\n{FOOTER}\n{NAV}" for i in range(40)]
    frames = [docs(texts[i : i + 5]) for i in range(0, 40, 5)]
    # stories 41..49 are each in two documents, 40 and 50 in one
    texts += [story(i) + "\n" + story(i + 1) for i in range(40, 50)]
    frames.append(docs(texts[40:]))
    reference = step(min_docs=2).fit(corpus(tmp_path, frames))
    spilled = step(min_docs=2, partitions=7).fit(corpus(tmp_path, frames))
    assert reference.to_list() == spilled.to_list() and reference.len() == 2 + 9
    assert not list((tmp_path / "work").rglob("*.parquet"))


def test_state_round_trip(tmp_path):
    s = step()
    state = pl.Series("h", [3, 1, 2], dtype=pl.UInt64)
    s.save_state(state, tmp_path / "state.fit")
    assert s.load_state(tmp_path / "state.fit").to_list() == [3, 1, 2]


def test_config_errors(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    for config, message in [
        ({"min_docs": 1}, "min_docs"),
        ({"scope": "domain"}, "scope"),
        ({"partitions": 0}, "partitions"),
    ]:
        raw = {
            "input": {"path": str(src)},
            "output": {"path": str(tmp_path / "out")},
            "steps": [{"remove_frequent_lines": config}],
        }
        with pytest.raises(RecipeError, match=message):
            build_steps(recipe_from_dict(raw))


def test_recipe_run_as_a_global_step(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in range(3):
        rows = []
        for i in range(12):
            n = f * 12 + i
            lines = [story(n)] + ([FOOTER] if n % 3 else []) + ([NAV] if n % 4 == 0 else [])
            rows.append({"text": "\n".join(lines)})
        rows.append({"text": f"{FOOTER}\n{NAV}"})
        write_jsonl(src / f"part-{f}.jsonl", rows)
    raw = {
        "input": {"path": str(src / "part-*")},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"workers": 2, "unit_mb": 0.001},
        "steps": [
            {"length_filter": {"min_chars": 10}},
            {"remove_frequent_lines": {"min_docs": 5}},
        ],
    }
    m = run_recipe(recipe_from_dict(raw)).manifest
    assert m["stages"] == [["length_filter"], ["remove_frequent_lines"]]
    kept = pl.read_parquet(tmp_path / "out" / "data" / "*.parquet")
    rejected = pl.read_parquet(tmp_path / "out" / "rejected" / "*.parquet")
    assert sorted(kept["text"].to_list()) == sorted(story(n) for n in range(36))
    assert rejected["reason"].to_list() == ["remove_frequent_lines:empty"] * 3
    assert sorted(rejected["text"].to_list()) == [f"{FOOTER}\n{NAV}"] * 3
    ledger = {row["step"]: row for row in m["ledger"]}
    counters = ledger["1:remove_frequent_lines"]["counters"]
    kept_footers = sum(1 for n in range(36) if n % 3)  # 24
    kept_navs = sum(1 for n in range(36) if n % 4 == 0)  # 9
    assert counters["lines_removed"] == kept_footers + kept_navs + 3 * 2
    # each removed line takes its newline along; the rejected count all their characters
    assert counters["chars_removed"] == (
        kept_footers * (len(FOOTER) + 1) + kept_navs * (len(NAV) + 1) + 3 * len(f"{FOOTER}\n{NAV}")
    )
    assert m["schema"]["frequent_lines_removed"] == "Int32"
    assert not (tmp_path / "out" / "_state").exists()
