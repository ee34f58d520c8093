"""fix_spelling: clear typos fixed, everything doubtful left exactly as it was."""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import polars as pl
import pytest

from corpuskit.steps.fix_spelling import FixSpelling, FixSpellingConfig, is_spelling_variant

pytest.importorskip("symspellpy")

AG_NEWS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "ag_news" / "test.csv"


@pytest.fixture(scope="module")
def step() -> FixSpelling:
    s = FixSpelling(FixSpellingConfig(), name="fix_spelling")
    s.ensure_ready()
    return s


CASES = [
    # (input, expected output, fixes); every input is plain English prose
    ("I will recieve the parcel in the morning.", "I will receive the parcel in the morning.", 1),
    (
        "The goverment said that it was (untill) now.",
        "The government said that it was (until) now.",
        2,
    ),
    ("It  occured\tto the team and\n'begining' was hard.", None, 2),
    ("Teh man said it is the best of the year.", None, 0),  # capitalized, and too short
    ("And teh man said it is the best of the year.", None, 0),  # length 3 < min_word_length
    ("The Microsft team and the Recieve button are in it.", None, 0),  # capitalized
    ("See http://exmaple.com or exmaple.com for the details.", None, 0),  # URL, domain
    ("Mail a@recieve.org, #recieve and @recieve on the web.", None, 0),  # e-mail, tag, handle
    ("It is the recieve2 code and the recieve's end.", None, 0),  # digits, apostrophe
    ("The colorful labor of the neighborhood is a favorite.", None, 0),  # US spelling
    ("The struggle for the underserved is not over.", None, 0),  # rare valid word
    ("The cost of fueling the economy was not high.", None, 0),  # "fuelling" in US form
]


@pytest.mark.parametrize(("text", "expected", "fixes"), CASES)
def test_cases(step: FixSpelling, text: str, expected: str | None, fixes: int) -> None:
    df = pl.DataFrame({"id": ["1"], "text": [text]})
    out = step.process(df).batch
    want = text if expected is None else expected
    if expected is None and fixes:
        want = text.replace("occured", "occurred").replace("begining", "beginning")
    assert out["text"][0] == want
    assert out["spelling_fixes"][0] == fixes


def test_language_column_selects_documents(step: FixSpelling) -> None:
    df = pl.DataFrame(
        {
            "id": ["1", "2", "3"],
            "text": ["recieve it", "recieve it", None],
            "lang": ["en", "fr", "en"],
        }
    )
    result = step.process(df)
    assert result.batch["text"].to_list() == ["receive it", "recieve it", None]
    assert result.batch["spelling_fixes"].to_list() == [1, None, None]
    assert result.counters["spelling_fixes"] == 1


def test_without_language_column_only_english_like_text(step: FixSpelling) -> None:
    texts = [
        "Ça va, tout le monde? Très bien, merci beaucoup, à demain.",
        "这是中文 recieve",
        "the recieve of the day",
    ]
    df = pl.DataFrame({"id": ["1", "2", "3"], "text": texts})
    out = step.process(df).batch
    assert out["text"].to_list() == [*texts[:2], "the receive of the day"]
    assert out["spelling_fixes"].to_list() == [None, None, 1]


def test_spelling_variants() -> None:
    assert is_spelling_variant("color", "colour")
    assert is_spelling_variant("traveling", "travelling")
    assert is_spelling_variant("analyze", "analyse")
    assert not is_spelling_variant("recieve", "receive")


def test_config_and_pickling(step: FixSpelling) -> None:
    with pytest.raises(ValueError):
        FixSpellingConfig(max_edit_distance=0)
    with pytest.raises(ValueError):
        FixSpellingConfig(unknown=1)
    clone = pickle.loads(pickle.dumps(step))
    assert {"_symspell", "_known", "_cache"}.isdisjoint(clone.__dict__)


def test_ag_news_is_mostly_untouched(step: FixSpelling) -> None:
    if not AG_NEWS.exists():
        pytest.skip(f"{AG_NEWS} is absent")
    with AG_NEWS.open(encoding="utf-8", newline="") as f:
        texts = [row[2] for _, row in zip(range(2000), csv.reader(f), strict=False)]
    df = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    out = step.process(df).batch
    changed = out.filter(pl.col("text") != df["text"])
    assert changed.height <= 20  # a handful of real typos, no US/UK rewrites
    tokens = df["text"].str.split(" ").explode()
    new_tokens = out["text"].str.split(" ").explode()
    assert tokens.len() == new_tokens.len()  # whitespace kept exactly
