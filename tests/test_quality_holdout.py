"""The held-out document gold (bench/quality/gold/holdout.jsonl) is well-formed, resolves,
shares nothing with docs.jsonl, and is what holdout_sample.py draws.

How well the steps do on it is the bench's business (README: "Held-out set").
"""

from __future__ import annotations

import sys
from collections import Counter

import pytest

from tests.conftest import ROOT, SHARED

sys.path.insert(0, str(ROOT / "bench"))
from quality import gold, holdout_sample

HOLDOUT = gold.GOLD_DIR / "holdout.jsonl"


def corpora():
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is absent (../shared/corpora ships beside the repo in CI only)")
    return SHARED


@pytest.fixture(scope="module")
def holdout() -> list[dict]:
    return gold.load_docs(HOLDOUT)


def test_holdout_schema_and_counts(holdout):
    assert len(holdout) >= 250
    labels = Counter(d["label"] for d in holdout)
    assert labels["keep"] >= 150 and labels["reject"] >= 80
    assert {d["lang"] for d in holdout} == {"en", "zh"}
    assert {d["corpus"] for d in holdout} >= {"lcsts", "tinyshakespeare"}  # never used before
    for d in holdout:
        assert d["id"].startswith("ho-"), d["id"]
        assert d["category"] in ("news", "forum", "book") or d["label"] == "reject", d["id"]


def test_holdout_locators_resolve_and_hashes_match(holdout):
    root = corpora()
    for d in holdout:
        assert gold.verified(d, root).text.strip(), d["id"]


def test_holdout_is_disjoint_from_the_tuned_gold(holdout):
    root = corpora()
    tuned = gold.load_docs()
    assert not {d["id"] for d in holdout} & {d["id"] for d in tuned}
    tuned_texts = {gold.resolve(d["locator"], root).text for d in tuned}
    assert not [d["id"] for d in holdout if gold.verified(d, root).text in tuned_texts]


def test_holdout_is_what_the_sampler_draws(holdout):
    """The labels cover exactly the seeded candidates (same locators, same hashes)."""
    drawn = holdout_sample.draw(corpora())
    keys = ("id", "corpus", "domain", "lang", "locator", "sha")
    assert [{k: d[k] for k in keys} for d in holdout] == drawn


def test_new_locator_kinds(tmp_path):
    (tmp_path / "play.txt").write_text("A:\nOne line,\nand the next.\n\nB:\nReply.\n")
    src = gold.resolve({"kind": "lines", "path": "play.txt", "start": 2, "end": 3}, tmp_path)
    assert src.text == "One line,\nand the next."
    with pytest.raises(gold.GoldError, match="lines 5-9"):
        gold.resolve({"kind": "lines", "path": "play.txt", "start": 5, "end": 9}, tmp_path)
    (tmp_path / "lcsts.txt").write_text(
        "<doc id=7>\n    <human_label>5</human_label>\n    <summary>\n        标题\n"
        "    </summary>\n    <short_text>\n        正文。\n    </short_text>\n</doc>\n"
    )
    src = gold.resolve({"kind": "lcsts", "path": "lcsts.txt", "doc": 7}, tmp_path)
    assert src.text == "标题\n正文。"
    with pytest.raises(gold.GoldError, match="no <doc id=8>"):
        gold.resolve({"kind": "lcsts", "path": "lcsts.txt", "doc": 8}, tmp_path)
