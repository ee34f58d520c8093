"""A letter's frame (corpuskit.text.paragraphs.letter_frame) and what the line steps make of
it (issue 16): fineweb_quality judges the author's own paragraphs, a hard-wrapped quote as
paragraphs, and leaves the signature and the sign-off out; c4_quality keeps the salutation
and the sign-off. Small posts modelled on the 20news gold documents these rules fixed."""

from __future__ import annotations

import polars as pl

from corpuskit.schema import REASON_COLUMN
from corpuskit.text.paragraphs import letter_frame
from tests.test_quality import run_step as run

# a reply: attribution, a hard-wrapped quote (never rejoined), a short answer, a sign-off and
# a signature (20news talk.politics.mideast-76275, comp.os.ms-windows.misc-9791)
REPLY = (
    "In article <1993Apr20.164517.20876@kpc.com> henrik@quayle.kpc.com writes:\n"
    ">\n"
    ">Aside from spelling, why is it that you do not want to admit your past\n"
    ">mistakes? You know the invasion of the island was a mistake and too\n"
    ">bad that the U.N. did not do anything about it. You may ask: mistake\n"
    ">or not? Yes, I would say so, and I would say it again at any time\n"
    ">of the day, to anyone who asks me about it\n"
    ">\n"
    "\n"
    "The other side did try to invade the island just before: they failed. \n"
    "\n"
    "Thanks in advance,\n"
    "  Jerry\n"
    "-- \n"
    "Jerry Smith                            jsmith@example.edu\n"
    "Dept. of Physics                       University of Somewhere\n"
)
# a question with its sign-off: short lines by nature (comp.sys.ibm.pc.hardware-60717)
QUESTION = (
    "I'm looking for a printer driver for Windows 3.1.  Does anybody happen to know where I "
    "could find such a beast?\n"
    "\n"
    "Howdy all,\n"
    "\n"
    "Regards,\n"
    "Rob\n"
    "rob@example.edu\n"
)


def frame_of(text: str) -> pl.DataFrame:
    lines = text.split("\n")
    return letter_frame(pl.DataFrame({"row": [0] * len(lines), "s": lines}))


def test_letter_frame_flags_each_part():
    f = frame_of(REPLY)
    by_line = dict(zip(f["s"].to_list(), f.iter_rows(named=True), strict=False))
    assert by_line[REPLY.split("\n")[0]]["attribution"]
    quoted = f.filter("quoted")
    assert quoted.height == 7
    # the quoted paragraph counts once, on its last line, with all its characters
    assert quoted["quote_end"].sum() == 1
    assert quoted.filter("quote_end")["s"][0].endswith("asks me about it")
    assert quoted.filter("quote_end")["quote_chars"][0] > 300
    assert f.filter("closing")["s"].to_list() == ["Thanks in advance,", "  Jerry"]
    assert f.filter("signature")["s"].str.strip_chars().to_list()[0] == "--"
    assert f.filter("signature").height == 4  # the separator, two lines and the last blank
    assert not f["opening"].any()


def test_frame_needs_a_body():
    # a lone "Regards,\nRob" is no letter's closing: nothing above it
    f = frame_of("Regards,\nRob")
    assert not f["closing"].any() and not f["opening"].any()
    f = frame_of("Hi all,\n\nThe meeting moved to Friday, room 4.\n\nCheers,\nAnn")
    assert f.filter("opening")["s"].to_list() == ["Hi all,"]
    assert f.filter("closing")["s"].to_list() == ["Cheers,", "Ann"]


def test_fineweb_judges_the_authors_own_text():
    out = run("fineweb_quality", [REPLY, QUESTION])
    assert out[REASON_COLUMN].to_list() == [None, None]
    # datatrove's count: every physical quoted line, the signature and the sign-off
    old = run("fineweb_quality", [REPLY, QUESTION], judge_own_text=False)
    assert old[REASON_COLUMN].to_list() == [
        "fineweb_quality:line_punct_ratio",
        "fineweb_quality:short_line_ratio",
    ]


def test_fineweb_frame_only_document_is_judged_line_by_line():
    # nothing but a quote: judged as before (the quote is all the text there is)
    quote_only = "> Home\n> News\n> Sport\n> Weather\n> Contact us\n"
    assert run("fineweb_quality", [quote_only])[REASON_COLUMN][0] is not None


def test_fineweb_repeated_signature_is_no_duplicated_text():
    body = (
        "To fix this, you should copy each cross-linked file to a new name. This will fix "
        "the cross-link by giving the files unique data spaces. Now delete the cross-linked "
        "files, examine the copies and try to assemble them properly.\n\n"
    )
    sig = "-- \n-----------\nGordon S. Hlavenka\ncgordon@vpnet.example.us\nVote Procrastination!\n"
    doc = body + "In any case, something trashed your FAT.\n\n" + sig + sig
    new = run("fineweb_quality", [doc])
    assert new[REASON_COLUMN][0] is None
    assert new["fineweb_char_dup_ratio"][0] == 0
    # datatrove's count: the signature's lines are short and, pasted twice, duplicated
    old = run("fineweb_quality", [doc], judge_own_text=False, dup_ignore_short_lines=False)
    assert old[REASON_COLUMN][0] is not None
    assert old["fineweb_char_dup_ratio"][0] > 0.1


def test_c4_keeps_salutation_and_sign_off():
    doc = (
        "Howdy all,\n\n"
        "Does anyone know where the 42 came from? I am pretty sure Douglas Adams launched it "
        "in the Guide, and since then it has been showing up all over the place.\n\n"
        "Thanks a lot,\n"
        "Kevin\n"
    )
    out = run("c4_quality", [doc], min_num_sentences=1)
    assert out[REASON_COLUMN][0] is None
    text = out["text"][0]
    assert text.startswith("Howdy all,\n") and text.endswith("Thanks a lot,\nKevin")
    # the frame is no sentence: the count is the body's
    assert out["c4_sentences"][0] == 2
    old = run("c4_quality", [doc], min_num_sentences=1, keep_letter_frame=False)
    assert "Kevin" not in old["text"][0] and "Howdy" not in old["text"][0]


def test_bbs_quote_marker_survives_normalize_punctuation():
    """normalize_punctuation turns newsmth's ": " quote marker into "：" (no space, nesting
    folded); the quoted lines are still quoted for the line steps and letter_frame."""
    import re

    from corpuskit import registry
    from corpuskit.text.paragraphs import QUOTED, Wrapping, paragraphs

    post = (
        "我觉得不是这样的，你们说呢？\n"
        ": 标  题: Re: 姐姐快要生孩子了，很感慨\n"
        ": 发信站: 水木社区 (Mon Jul  4 05:08:11 2005), 站内\n"
        ": \n"
        ": 啊，我也以为是酱紫呢\n"
        ": : 这个是胡说。\n"
    )
    cls = registry.steps()["normalize_punctuation"]
    step = cls(cls.Config(), name="normalize_punctuation")
    step.validate()
    step.ensure_ready()
    out = step.process(pl.DataFrame({"id": ["1"], "text": [post]})).batch["text"][0]
    lines = out.split("\n")
    assert lines[1].startswith("：标")  # the marker as normalize_punctuation leaves it
    assert [bool(re.search(QUOTED, line)) for line in lines[:6]] == [False] + [True] * 5
    f = frame_of(out)
    assert f["quoted"].to_list()[:6] == [False] + [True] * 5
    # the compiled twin agrees: quoted lines are never joined
    uns = pl.Series([True])
    for kernels in (True, False):
        got = paragraphs(pl.Series([out]), uns, Wrapping(), kernels=kernels).text[0]
        assert got == out
