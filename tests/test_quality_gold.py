"""The quality gold sets (bench/quality/gold) are well-formed, resolve, and are large enough.

Nothing here asserts how well a step does: the bench (bench/bench_quality_gold.py)
reports that, and its TARGETS list says what is expected.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHARED

sys.path.insert(0, str(ROOT / "bench"))
from quality import gold
from quality.metrics import removed_share, score_spans, skeleton, survival

# Every Chinese punctuation mistake issue 16 lists, as the kinds the cleaning gold uses.
LISTED_MISTAKES = {
    "ideographic_space_separator",
    "space_between_names",
    "list_marker",
    "circled_number_nfkc",
    "fullwidth_straight_quotes",
    "fullwidth_time",
    "fullwidth_number",
    "chinese_full_stop_after_number",
    "chinese_full_stop_after_latin",
    "gbk_read_as_latin1",
    "replacement_character_unchanged",
    "private_use_separator",
    "html_entity",
    "broken_entity",
}


def corpora() -> Path:
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is absent (../shared/corpora ships beside the repo in CI only)")
    return SHARED


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return gold.load_docs()


def test_document_gold_schema_and_counts(docs):
    assert len(docs) >= 1000
    labels = Counter(d["label"] for d in docs)
    assert labels["keep"] >= 700 and labels["reject"] >= 300
    domains = Counter(d["domain"] for d in docs)
    for domain, least in {"news": 300, "forum": 250, "web": 300, "book": 50, "junk": 200}.items():
        assert domains[domain] >= least, (domain, domains[domain])
    langs = Counter(d["lang"] for d in docs)
    assert langs["en"] >= 300 and langs["zh"] >= 300
    for d in docs:
        if d["label"] == "reject":
            assert d["reason"] and d["category"], d["id"]
    assert sum(d.get("hard_wrapped", False) for d in docs) >= 100


def test_document_locators_resolve_and_hashes_match(docs):
    root = corpora()
    for d in docs:
        src = gold.verified(d, root)
        if d["locator"]["kind"] not in gold.READER_KINDS:
            assert src.text and src.text.strip(), d["id"]


def test_span_gold(docs):
    root = corpora()
    by_id = {d["id"]: d for d in docs}
    spans = gold.load_spans()
    assert len(spans) >= 300
    assert sum(len(s["spans"]) for s in spans.values()) >= 3000
    for doc_id, rec in spans.items():
        d = by_id[doc_id]
        assert d["label"] == "keep", doc_id
        if d["locator"]["kind"] in gold.READER_KINDS:
            continue  # located in the reader's output at bench time
        text = gold.verified(d, root).text
        for s in rec["spans"]:
            assert s["text"] in text, (doc_id, s["text"][:60])


def test_cleaning_gold():
    root = corpora()
    items = gold.load_cleaning()
    assert len(items) >= 300
    steps = Counter(it["step"] for it in items)
    assert set(steps) == set(gold.CLEANING_STEPS) and min(steps.values()) >= 30
    langs = Counter(it["lang"] for it in items)
    assert langs["zh"] >= 100 and langs["en"] >= 100
    assert sum(it["before"] == it["after"] for it in items) >= 100  # must-stay-unchanged cases
    assert {it["kind"] for it in items} >= LISTED_MISTAKES
    for it in items:
        assert it["before"] in gold.verified(it, root).text, it["id"]


def test_changed_corpus_is_caught(docs, tmp_path):
    root = corpora()
    d = next(x for x in docs if x["locator"]["kind"] == "line")
    with pytest.raises(gold.HashMismatch, match=d["id"]):
        gold.verified({**d, "sha": "0" * 16}, root)
    with pytest.raises(gold.CorporaMissing, match="absent"):
        gold.corpora_root(tmp_path / "nowhere")


def test_book_segments_follow_the_documented_rule():
    root = corpora()
    segs = gold.book_segments(root / "gutenberg" / "11-0.txt")
    body = [k for k in segs if k.isdigit()]
    assert segs["header"].rstrip().endswith("***") and segs["footer"].startswith("*** END OF")
    assert len(body) == 12  # Alice: title page + chapter I, then chapters II-XII
    assert all(segs[k].startswith("CHAPTER") for k in body[1:])
    assert all(gold.BOOK_MIN_CHARS <= len(segs[k]) <= gold.BOOK_MAX_CHARS for k in body)


# --- the bench's scoring, on made-up text (no corpora needed) -------------------------------


def test_skeleton_ignores_punctuation_space_and_width():
    assert skeleton("Ｈｅｌｌｏ，  world!\n１２３") == "helloworld123"


def test_survival_through_rejoined_lines_and_deletions():
    text_in = "Wrapped line one\ncontinues here.\nBoilerplate: share this\nLast line."
    text_out = "Wrapped line one continues here.\nLast line."
    alive = survival(text_in, text_out)
    sk = skeleton(text_in)
    kept = "".join(c for c, ok in zip(sk, alive, strict=True) if ok)
    assert kept == skeleton("Wrapped line one continues here. Last line.")
    assert removed_share(text_in, text_out) == pytest.approx(
        len(skeleton("Boilerplate share this")) / len(sk)
    )


def test_span_scores():
    text_in = "Article body stays.\n> quoted reply\n-- \nsig line"
    spans = [
        {"text": "> quoted reply", "label": "remove"},
        {"text": "-- \nsig line", "label": "remove"},
    ]
    perfect = score_spans(spans, "keep", text_in, "Article body stays.")
    assert (perfect.content_lost, perfect.boilerplate_removed) == (0, perfect.boilerplate)
    lossy = score_spans(spans, "keep", text_in, "> quoted reply")
    assert lossy.content_lost == perfect.content and lossy.boilerplate_removed == len(
        skeleton("sig line")
    )
    gone = score_spans(spans, "keep", text_in, None)
    assert gone.content_lost == gone.content


@pytest.mark.slow
def test_bench_runs_on_a_slice(tmp_path):
    corpora()
    out = tmp_path / "res.json"
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "bench_quality_gold.py"),
        "--corpora",
        "sms_spam,gutenberg",
        "--steps",
        "length_filter",
        "--recipes",
        "",
        "--no-peer",
        "--json",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "length_filter" in proc.stdout and out.exists()
