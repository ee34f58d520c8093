"""Verse (corpuskit.text.verse): a play or a poem keeps its line breaks through
rejoin_paragraphs and its lines through c4_quality, and nothing else reads as verse: wrapped
prose, quoted mail, tables of contents, menus."""

from __future__ import annotations

import json
import statistics

import polars as pl
import pytest

from corpuskit.schema import REASON_COLUMN
from corpuskit.steps.c4_quality import DATATROVE as C4_DATATROVE
from corpuskit.text.paragraphs import Wrapping, paragraphs
from corpuskit.text.verse import verse_documents, verse_flags
from tests.conftest import ROOT, needs_shared
from tests.test_paragraphs import WRAPPED
from tests.test_quality import run_step

# The Winter's Tale, I.2 (public domain), as Tiny Shakespeare prints it
SCENE = (
    "POLIXENES:\n"
    "I do believe thee:\n"
    "I saw his heart in 's face. Give me thy hand:\n"
    "Be pilot to me and thy places shall\n"
    "Still neighbour mine. My ships are ready and\n"
    "My people did expect my hence departure\n"
    "Two days ago. This jealousy\n"
    "Is for a precious creature: as she's rare,\n"
    "Must it be great, and as his person's mighty,\n"
    "Must it be violent, and as he does conceive\n"
    "He is dishonour'd by a man which ever\n"
    "Profess'd to him, why, his revenges must\n"
    "In that be made more bitter. Let us avoid.\n"
    "\n"
    "CAMILLO:\n"
    "It is in mine authority to command\n"
    "The keys of all the posterns: please your highness\n"
    "To take the urgent hour. Come, sir, away.\n"
    "\n"
    "First Lady:\n"
    "Come, my gracious lord,\n"
    "Shall I be your playfellow?\n"
)
QUOTED_MAIL = (
    "JW> 1) Where is there a book or code that will teach me how\n"
    "JW> to read and write pcx, dbf, and gif files?\n"
    "JW> Thanks in advance,\n"
    "JW> Joe Wilson.\n"
)
CONTENTS = (
    "Chapter 1\n"
    "\tFrom Tragedy the Antibiotic Age is Born\n"
    "Chapter 2\n"
    "\tThe Disease and the Cure:  The Microscopic World of Bacteria and\n"
    "\tAntibiotics\n"
    "Chapter 3\n"
    "\tReliance on Medicine and Self-Medication: The Seeds of Antibiotic\n"
    "\tMisuse.\n"
)
MENU = "Home\nAbout Us,\nProducts,\nContact\nPrivacy Policy.\n"


def flags(text: str) -> pl.DataFrame:
    lines = pl.DataFrame({"line": text.split("\n")}).with_columns(row=pl.lit(0, pl.UInt32))
    return verse_flags(lines)


def test_a_speech_is_a_verse_block_and_its_labels_are_speaker_labels():
    f = flags(SCENE)
    verse = f.filter("verse")["line"].to_list()
    assert "Be pilot to me and thy places shall" in verse
    # no soft end in this speech: verse because the document has verse blocks
    assert "It is in mine authority to command" in verse
    assert f.filter("speaker")["line"].to_list() == ["POLIXENES:", "CAMILLO:", "First Lady:"]
    assert f.filter("verse")["verse_closed"].all()


@pytest.mark.parametrize(
    "text",
    [WRAPPED, QUOTED_MAIL, CONTENTS, MENU],
    ids=["wrapped_prose", "quoted_mail", "contents", "menu"],
)
def test_prose_mail_contents_and_menus_are_no_verse(text):
    f = flags(text)
    assert not f["verse"].any()
    assert not f["speaker"].any()
    docs = pl.Series([text])
    assert not verse_documents(docs, pl.Series([False]))[0]


def test_an_unclosed_block_is_verse_but_not_closed():
    f = flags("Twinkle, twinkle, little bat,\nHow I wonder what you're at")
    assert f["verse"].all() and not f["verse_closed"].any()


def test_a_play_is_not_rejoined_prose_is():
    docs = pl.Series([SCENE, WRAPPED])
    uns = pl.Series([False, False])
    assert verse_documents(docs, uns).to_list() == [True, False]
    got = paragraphs(docs, uns).text.to_list()
    assert got[0] == SCENE
    assert got[1] != WRAPPED  # the wrapped prose is rejoined
    # without keep_verse the play's full lines run together
    joined = paragraphs(docs, uns, Wrapping(keep_verse=False)).text[0]
    assert "Give me thy hand: Be pilot" in joined
    for kernels in (True, False):  # the numba twin and the Polars reference alike
        assert paragraphs(docs, uns, kernels=kernels).text[0] == SCENE


def test_rejoin_paragraphs_step_keeps_verse():
    out = run_step("rejoin_paragraphs", [SCENE])
    assert out["text"][0] == SCENE
    off = run_step("rejoin_paragraphs", [SCENE], keep_verse=False)
    assert off["text"][0] != SCENE


def test_c4_quality_keeps_a_speech_whole():
    kept = run_step("c4_quality", [SCENE])["text"][0]
    # only the blank lines go (C4 drops lines without words)
    assert kept.split("\n") == [ln for ln in SCENE.split("\n") if ln]
    off = run_step("c4_quality", [SCENE], keep_verse=False)["text"][0]
    assert "Be pilot to me and thy places shall" not in off
    assert "CAMILLO:" not in off
    assert C4_DATATROVE["keep_verse"] is False


def test_c4_quality_drops_an_unfinished_stanza():
    text = (
        "The committee met on Tuesday and agreed on the budget for next year.\n"
        "Twinkle, twinkle, little bat,\nHow I wonder what you're at\n"
    )
    kept = run_step("c4_quality", [text], min_num_sentences=1)["text"][0]
    assert "Twinkle" not in kept


def test_tiny_shakespeare_loses_little_under_c4_quality():
    """The held-out gold set's ten Tiny Shakespeare pieces: c4_quality removed a median 30-38%
    of their characters (verse lines end without a full stop); now only blank lines go."""
    path = needs_shared("tinyshakespeare/input.txt")
    lines = path.read_text(encoding="utf-8").split("\n")
    gold = ROOT / "bench" / "quality" / "gold" / "holdout.jsonl"
    pieces = [
        "\n".join(lines[r["locator"]["start"] - 1 : r["locator"]["end"]])
        for r in map(json.loads, gold.read_text(encoding="utf-8").splitlines())
        if r["corpus"] == "tinyshakespeare"
    ]
    assert len(pieces) == 10
    out = run_step("c4_quality", pieces)
    assert out[REASON_COLUMN].is_null().all()
    lost = [1 - len(o) / len(t) for o, t in zip(out["text"], pieces, strict=True)]
    assert statistics.median(lost) < 0.03
    assert max(lost) < 0.05
