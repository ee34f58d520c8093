"""fix_unicode: mojibake repair, invisible characters, normalization with CJK protection."""

from __future__ import annotations

import pickle
import unicodedata

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from corpuskit.steps import fix_unicode as unicode_step
from corpuskit.steps.fix_unicode import CJK_PROTECTED, FixUnicode, FixUnicodeConfig, unstable_class


def run(texts: list[str | None], **config) -> tuple[list[str | None], dict[str, int]]:
    step = FixUnicode(FixUnicodeConfig(**config), name="fix_unicode")
    df = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    result = step.process(df)
    assert result.batch.columns == ["id", "text"]
    return result.batch["text"].to_list(), result.counters


CASES = [
    # mojibake: UTF-8 read as cp1252 / latin-1 / cp1251, also twice
    ("cafÃ©", "café"),
    ("donâ€™t stop", "don’t stop"),
    ("He said â€œhiâ€\x9d", "He said “hi”"),
    ("cafÃƒÂ©", "café"),
    ("Ã¤Ã¶Ã¼ ÃŸ", "äöü ß"),
    ("Â£100", "£100"),
    ("ä½\xa0å¥½ï¼Œä¸–ç•Œ", "你好，世界"),
    ("ðŸ˜€ ok", "😀 ok"),
    ("РїСЂРёРІРµС‚", "привет"),
    ("\x93quoted\x94", "“quoted”"),
    ("\x1b[31mred\x1b[0m", "red"),
    # correct text is left alone
    ("naïve déjà vu, café…", "naïve déjà vu, café…"),
    ("你好，世界！《三体》【注】", "你好，世界！《三体》【注】"),
    ("Ölçü ÇĞİÖŞÜ Ñandú", "Ölçü ÇĞİÖŞÜ Ñandú"),
    ("Привет, мир", "Привет, мир"),
    # invisible characters
    ("\ufeffhello", "hello"),
    ("mid\ufeffdle", "middle"),
    ("zero\u200bwidth\u200c\u200d\u2060", "zerowidth"),
    ("soft\u00adhyphen", "softhyphen"),
    ("a\x00b\x07c\x7fd", "abcd"),
    ("wait\x85", "wait…"),  # a C1 control is cp1252 read as latin-1: ftfy maps it
    ("keep\ttab\nline", "keep\ttab\nline"),
    ("crlf\r\nold mac\rend\x0cpage", "crlf\nold mac\nend\npage"),
    # NFC composes
    ("e\u0301", "é"),
    ("ｆｕｌｌ", "ｆｕｌｌ"),  # width is NFKC's business
    (None, None),
]


@pytest.mark.parametrize(("before", "after"), CASES)
def test_default_nfc(before, after):
    assert run([before])[0] == [after]


NFKC_CASES = [
    ("ｆｕｌｌ ｗｉｄｔｈ １２３", "full width 123"),
    ("你好，世界！", "你好，世界！"),
    ("（注）：是吗？好；１～３……", "（注）：是吗？好；1～3……"),
    ("“引号”、。《》【】「」", "“引号”、。《》【】「」"),
    ("第一段\u3000第二段", "第一段\u3000第二段"),
    ("ﬁne ①", "fine 1"),
    ("half ｶﾀｶﾅ", "half カタカナ"),
    ("ＡＢＣ，ｄｅｆ！", "ABC，def！"),  # protection is by character, not by context
    # a document that already holds a private-use stand-in takes the exact slow path
    ("\U0010ff00 ，ｘ", "\U0010ff00 ，x"),
]


@pytest.mark.parametrize(("before", "after"), NFKC_CASES)
def test_nfkc_keeps_cjk_punctuation(before, after):
    assert run([before], form="NFKC")[0] == [after]


def test_nfkc_unprotected():
    assert run(["你好，世界！…"], form="NFKC", protect_cjk_punct=False)[0] == ["你好,世界!..."]


def test_nfd_and_none():
    assert run(["é"], form="NFD")[0] == ["e\u0301"]
    assert run(["e\u0301"], form="none")[0] == ["e\u0301"]
    assert run(["ﬁ，"], form="NFKD")[0] == ["fi，"]


def test_switches():
    assert run(["cafÃ©\u200b"], fix_mojibake=False)[0] == ["cafÃ©"]
    assert run(["cafÃ©\u200b"], remove_control=False)[0] == ["café\u200b"]
    assert run(["a\x85b\x9f"], fix_mojibake=False)[0] == ["ab"]
    assert run(["👨\u200d👩\u200d👧 می\u200cخواهم\u200b"], keep_joiners=True)[0] == [
        "👨\u200d👩\u200d👧 می\u200cخواهم"
    ]


def test_counters_and_batch():
    texts = ["cafÃ©", "fine", "a\u200bb", "donâ€™t", None]
    out, counters = run(texts)
    assert out == ["café", "fine", "ab", "don’t", None]
    assert counters == {"mojibake_repaired": 2, "docs_changed": 3}


@pytest.mark.parametrize(
    "config",
    [{}, {"form": "NFKC"}, {"fix_mojibake": False}, {"remove_control": False, "form": "none"}],
)
def test_batch_equals_rows_one_at_a_time(config):
    # The batch scans once for the union of the passes' row gates; rows it leaves out
    # must be exactly those no pass would change.
    texts = [before for before, _ in CASES] + ["fine", "中文，好", "", None, "ｘ①"]
    out, counters = run(texts, **config)
    alone = [run([t], **config)[0][0] for t in texts]
    assert out == alone
    assert counters["docs_changed"] == sum(a != t for a, t in zip(alone, texts, strict=True))


def test_everything_off():
    texts = ["cafÃ©\u200b", None]
    off = {"fix_mojibake": False, "remove_control": False, "form": "none"}
    assert run(texts, **off) == (texts, {"docs_changed": 0})


def test_other_columns_untouched_and_pickle():
    step = FixUnicode(FixUnicodeConfig(form="NFKC"), name="fix_unicode")
    df = pl.DataFrame({"id": ["a", "b"], "text": ["ｘ", "y"], "source": ["s1", "s2"]})
    out = pickle.loads(pickle.dumps(step)).map(df)
    assert out.to_dict(as_series=False) == {
        "id": ["a", "b"],
        "text": ["x", "y"],
        "source": ["s1", "s2"],
    }


def test_empty_batch():
    assert run([])[0] == []


def test_config_rejects_unknown():
    with pytest.raises(ValidationError):
        FixUnicodeConfig(form="NFX")
    with pytest.raises(ValidationError):
        FixUnicodeConfig(normalise="NFC")


# Text without a character of `unstable_class(form)` is skipped by the normalizer, so it
# must already be in that form. Characters drawn near the interesting ranges.
_CHARS = st.one_of(
    st.characters(max_codepoint=0x24F),
    st.characters(min_codepoint=0x300, max_codepoint=0x36F),  # combining marks
    st.characters(min_codepoint=0x1100, max_codepoint=0x11FF),  # Hangul jamo
    st.characters(min_codepoint=0x3000, max_codepoint=0x30FF),
    st.characters(min_codepoint=0xAC00, max_codepoint=0xAC40),  # Hangul syllables
    st.characters(min_codepoint=0xF900, max_codepoint=0xFB4F),  # compatibility, ligatures
    st.characters(min_codepoint=0xFF00, max_codepoint=0xFFEF),  # full width
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80),
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_CHARS, max_size=12).map("".join), st.sampled_from(["NFC", "NFKC", "NFD"]))
def test_unstable_class_flags_every_text_the_form_changes(text, form):
    flagged = pl.Series([text]).str.contains(unstable_class(form)).item()
    if unicodedata.normalize(form, text) != text:
        assert flagged


def test_unstable_class_leaves_out_kept_characters():
    cls = unstable_class("NFKC", CJK_PROTECTED)
    series = pl.Series(["你好，世界！（一）", "ｆｕｌｌ", "ﬁ"])
    assert series.str.contains(cls).to_list() == [False, True, True]


def test_unstable_class_is_built_once_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CORPUSKIT_CACHE_DIR", str(tmp_path))
    unstable_class.cache_clear()
    try:
        built = unstable_class("NFKC", CJK_PROTECTED)
        files = list((tmp_path / "unicode").glob("unstable-*.txt"))
        assert len(files) == 1
        assert files[0].read_text() == built
        assert built == unicode_step._build_unstable_class("NFKC", CJK_PROTECTED)
        files[0].write_text("[x]")  # a later process reads the file, not the tables
        unstable_class.cache_clear()
        assert unstable_class("NFKC", CJK_PROTECTED) == "[x]"
        assert unstable_class("NFC") != "[x]"  # another key, another file
        files[0].write_text("[\\x{41")  # truncated or damaged: rebuilt, not used
        unstable_class.cache_clear()
        assert unstable_class("NFKC", CJK_PROTECTED) == built
        assert files[0].read_text() == built
    finally:
        unstable_class.cache_clear()
