"""clean_text: HTML entities (also broken ones), tags, whitespace."""

from __future__ import annotations

import csv
import itertools

import polars as pl
import pytest
from pydantic import ValidationError

from corpuskit.steps.clean_text import CleanText, CleanTextConfig, decode_entities
from tests.conftest import SHARED


def run(texts: list[str | None], **config) -> list[str | None]:
    step = CleanText(CleanTextConfig(**config), name="clean_text")
    df = pl.DataFrame(
        {"id": [str(i) for i in range(len(texts))], "text": texts},
        schema={"id": pl.String, "text": pl.String},
    )
    out = step.process(df).batch
    assert out.columns == ["id", "text"]
    return out["text"].to_list()


ENTITY_CASES = [
    # well-formed
    ("&#39;a&#x27; &quot;b&quot; &lt;c&gt; &apos;d&apos;", "'a' \"b\" <c> 'd'"),
    ("Tom &amp; Jerry", "Tom & Jerry"),
    ("&Eacute;t&eacute; &hellip; &copy; &euro;5 &mdash;", "Été … © €5 —"),
    ("&#151; &#146; &#x2019; &#0039;", "— ’ ’ '"),  # cp1252 code points like browsers
    ("a&nbsp;&nbsp;b", "a b"),
    # double-escaped, repeatedly
    ("&amp;amp;", "&"),
    ("AT&amp;amp;amp;T", "AT&T"),
    ("&amp;quot;x&amp;quot; &amp;#39;", '"x" \''),
    ("&#38;quot;", '"'),
    # '&' lost or replaced by a space (AG News)
    ("Fed #39;s plan", "Fed's plan"),
    ("Fed#39;s plan", "Fed's plan"),
    ("the players #39; union", "the players' union"),
    ("quot;hi quot;", '"hi"'),
    ("In  quot;helping themselves, quot; Rick said", 'In "helping themselves," Rick said'),
    ("(quot;x quot;)", '("x")'),
    ("Johnson  amp; Johnson", "Johnson & Johnson"),
    ("a  lt; b  gt; c", "a < b > c"),
    ("the  #36;10 million", "the $10 million"),
    ("Sony #146;s player, #151; he said", "Sony’s player, — he said"),
    ("don apos;t", "don't"),
    ("中国 #39;s 经济  quot;增长 quot;", '中国\'s 经济 "增长"'),
    # not entities
    ("aliquot; camp; Gmbh#39", "aliquot; camp; Gmbh#39"),
    ("issue #12; fixed", "issue #12; fixed"),
    ("?a=1&not=2&copy=3 &foo; AT&T R&D", "?a=1&not=2&copy=3 &foo; AT&T R&D"),
    ("C# and F#; 50% off", "C# and F#; 50% off"),
]

TAG_CASES = [
    ("a<br>b", "a\nb"),
    ("a<br/>b<BR />c", "a\nb\nc"),
    ("<p>Hello</p><p>World</p>", "Hello\n\nWorld"),
    ('<div class="x">one</div>two', "one\ntwo"),
    ('<a href="http://x.com/?a=1">link</a> text', "link text"),
    ("<b>bold</b> and <i>it</i><span>alic</span>", "bold and italic"),
    ("<td>1</td><td>2</td>", "1 2"),
    ("x < y and y > z", "x < y and y > z"),
    ("x<3 and 5>4", "x<3 and 5>4"),
    ("a<b and c>d", "a<b and c>d"),
    ("if (a<b) {c>d}", "if (a<b) {c>d}"),
    ("Dell Inc. <DELL.O> and <AAPL>", "Dell Inc. <DELL.O> and <AAPL>"),
    ("<script>var x = 1 < 2;</script>ok<style>p{}</style>!", "ok!"),
    ("a<!-- comment\n -->b<!DOCTYPE html>", "ab"),
    ('&lt;A HREF="http://www.reuters.com"&gt;SPLS.O&lt;/A&gt;, up', "SPLS.O, up"),
    ("Inc. &lt;TXN.N&gt;, up", "Inc. <TXN.N>, up"),
    ("<p>你好</p><p>世界</p>", "你好\n\n世界"),
]

WHITESPACE_CASES = [
    ("a  b\t\tc \t d", "a b c d"),
    ("a\r\nb\rc", "a\nb\nc"),
    ("a\n\n\n\n\nb", "a\n\nb"),
    ("  a  \n   b   \n \n \n \n c  ", "a\nb\n\nc"),
    ("\n\n  text  \n\n", "text"),
    ("a\u00a0b\u2003c\u202fd", "a b c d"),
    ("你好\u3000世界", "你好 世界"),
    ("\u3000\u3000第一段。", "第一段。"),
    ("line\u2028sep\x0cff", "line\nsep\nff"),
    ("", ""),
    (None, None),
]


@pytest.mark.parametrize(("before", "after"), ENTITY_CASES + TAG_CASES + WHITESPACE_CASES)
def test_clean_text(before, after):
    assert run([before]) == [after]


@pytest.mark.parametrize(("before", "after"), ENTITY_CASES)
def test_vectorized_agrees_with_reference(before, after):
    """The vectorized path and the per-document reference give the same text."""
    reference = decode_entities(before)
    assert run([reference], entities=False) == run([before])


def test_whole_batch_mixed():
    texts = ["Fed #39;s", "plain text", None, "a<br>b", "x &amp;amp; y", "你好，世界！"]
    assert run(texts) == ["Fed's", "plain text", None, "a\nb", "x & y", "你好，世界！"]


def test_switches():
    text = "<p>Tom &amp; Jerry</p>  \n\n\n\n end"
    assert run([text], entities=False) == ["Tom &amp; Jerry\n\nend"]
    assert run([text], tags=False) == ["<p>Tom & Jerry</p>\n\nend"]
    assert run([text], whitespace=False) == ["\nTom & Jerry\n  \n\n\n\n end"]
    assert run(["你好\u3000\u3000世界"], keep_ideographic_space=True) == ["你好\u3000\u3000世界"]
    assert run(["\u3000段落 \u3000"], keep_ideographic_space=True) == ["\u3000段落 \u3000"]


def test_counters_and_other_columns():
    step = CleanText(CleanTextConfig(), name="clean_text")
    df = pl.DataFrame({"id": ["1", "2"], "text": ["a  b", "ok"], "source": ["s", "t"]})
    result = step.process(df)
    assert result.counters == {"docs_changed": 1}
    assert result.batch.to_dict(as_series=False) == {
        "id": ["1", "2"],
        "text": ["a b", "ok"],
        "source": ["s", "t"],
    }
    assert step.map(df).equals(result.batch)


def test_config_rejects_unknown():
    with pytest.raises(ValidationError):
        CleanTextConfig(html=True)


def test_ag_news_entities_gone():
    path = SHARED / "ag_news" / "test.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/corpora ships beside the repo in CI only)")
    with path.open(newline="", encoding="utf-8") as f:
        descriptions = [row[2] for row in itertools.islice(csv.reader(f), 2000)]
    cleaned = run(descriptions)
    assert len(cleaned) == 2000
    for before, after in zip(descriptions, cleaned, strict=True):
        for broken in ("#39;", "quot;", "&amp;", "&lt;", "&gt;", "&quot;", "#36;"):
            assert broken not in after, (before, after)
        assert "  " not in after and after == after.strip()
    joined = "\n".join(cleaned)
    assert "Federal Mogul" in joined and "'" in joined
