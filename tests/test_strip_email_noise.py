"""strip_email_noise: headers, quoted replies, attribution lines and signatures removed and
counted; the Polars step equals its per-document reference on real 20news/trec06c bodies;
the span gold's forum posts lose their noise and keep their text; a recipe on 20news runs."""

from __future__ import annotations

import sys

import polars as pl
import pytest

from corpuskit import registry
from corpuskit.engine.run import run_recipe
from corpuskit.steps.strip_email_noise import StripEmailNoise, StripEmailNoiseConfig, strip_one
from tests.conftest import ROOT, SHARED, needs_shared

POST = """In article <1993Apr15.164605.8439@isc-br.isc-br.com>, steveh@thor.isc-br.com (Steve
Hendricks) writes:
>Libertarians want to limit incumbents' terms.
>
>And eliminate the legislators' pay.

Fine.  Libertarians and anarchists are not alone in being uncomfortable
with the use of state sponsored coercion.

jsh
--
Steve Hendricks                        |  DOMAIN:  steveh@thor.ISC-BR.COM
"One thing about data, it sure does cut|  Ma Bell: 509 838-8826"""

OWN = """Fine.  Libertarians and anarchists are not alone in being uncomfortable
with the use of state sponsored coercion.

jsh"""


def run(texts: list[str], **config) -> tuple[list[str], dict[str, int]]:
    step = StripEmailNoise(StripEmailNoiseConfig(**config), name="strip_email_noise")
    res = step.process(pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts}))
    return res.batch["text"].to_list(), res.counters


def test_quote_attribution_signature_removed_and_counted():
    got, counts = run([POST, "Nothing to remove here.\nA second line."])
    assert got == [OWN, "Nothing to remove here.\nA second line."]
    assert counts["attribution_lines"] == 2  # "In article <id> X" wrapped over two lines
    assert counts["quote_lines"] == 3
    assert counts["signature_lines"] == 3
    assert counts["docs_changed"] == 1
    assert counts["chars_removed"] == len(POST) - len(OWN)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # "X writes:" alone is an attribution only before a quote
        ("John Smith writes:\n> quoted\nMy answer.", "My answer."),
        ("The manual writes:\nthat the setting is global.", None),
        ("On Mon, 5 Apr 1993, Jane wrote:\n\n> hi\n\nhello", "hello"),
        # newsmth: ": " quotes, BBS attribution, source line
        (
            "我同意。\n【 在 abc (小明) 的大作中提到: 】\n: 原文\n※ 来源:·水木社区 newsmth.net",
            "我同意。",
        ),
        # headers left in a body (a run of two or more), a forward separator
        (
            "Text first.\n-----Original Message-----\nFrom: a@b.c\nSent: Monday\n\nOld.",
            "Text first.\n\nOld.",
        ),
        ("Subject: one header line alone stays.\nBody.", None),
        # a separator with a contact after it, at the end
        ("Body text here.\n\n" + "=" * 40 + "\nJane Doe  jane@example.org", "Body text here."),
        # a separator in the middle, far from the end, stays
        ("Part one.\n" + "=" * 40 + "\n" + "\n".join(f"line {i}." for i in range(20)), None),
        # a final contact block without a separator
        ("Thanks for the help.\n\nJoe Fisher\njoe@example.org", "Thanks for the help."),
        ("Write to me at joe@example.org.", None),  # a sentence stays
        # "-- " far from the end is not a signature marker
        ("A.\n-- \n" + "\n".join(f"Line {i} of text." for i in range(30)), None),
        # where a reply cut the quote ("...", "[deletions...]") goes with the quote
        ("Jeff (Jeff Cook) writes:\n...\n>a can of beer\n\nSeen it.", "Seen it."),
        ("[deletions...]\n\nMy own point.", "My own point."),
        ("It went on and on...\nand then it stopped.", None),
        # the tail of a quoted line that a later wrapper put on a line of its own
        (
            "> these cars can out-handle, out-corner, and\nout-\n> accelerate it.\nSo true.",
            "So true.",
        ),
        ("> Any takers?\nMe too.\n> Anyone else?\nNo.", "Me too.\nNo."),
        # a header folded over indented lines, an encoded Subject's last piece
        (
            "0rs=?=\nX-BeenThere: toefl@example.org\nList-Id: the list\n\t<toefl.example.org>\n"
            "\n我是gg，你是男生吧？",
            "我是gg，你是男生吧？",
        ),
        ("Code follows:\n    indented code line\nEnd.", None),
    ],
)
def test_rules(text, want):
    got, _ = run([text])
    assert got == [text if want is None else want]
    assert strip_one(text, StripEmailNoiseConfig())[0] == got[0]


def test_switches():
    got, counts = run([POST], quotes=False, signatures=False)
    assert ">Libertarians" in got[0] and "Steve Hendricks  " in got[0]
    assert "In article" not in got[0]
    assert counts["quote_lines"] == 0 and counts["signature_lines"] == 0


def _bodies(n: int) -> list[str]:
    reader = registry.get_reader("email")
    from corpuskit.readers.base import InputSpec

    r = reader(InputSpec(path="-", format="email"), 0)
    files = sorted(needs_shared("20news_train").glob("*/*"))[::40][:n]
    files += sorted((SHARED / "trec06c_subset" / "ham").glob("*"))[:50]
    _, units = r.plan(files, 1 << 22)
    return [t for u in units for b in r.read(u) for t in b.documents["text"].to_list()]


def test_polars_equals_reference_on_real_bodies():
    texts = _bodies(300)
    got, counts = run(texts)
    c = StripEmailNoiseConfig()
    ref = [strip_one(t, c) for t in texts]
    assert got == [t for t, _ in ref]
    for kind in ("header", "quote", "attribution", "signature"):
        assert counts[f"{kind}_lines"] == sum(k[kind] for _, k in ref)
    assert counts["quote_lines"] > 1000 and counts["signature_lines"] > 100


@pytest.mark.parametrize(
    ("corpus", "max_lost", "min_removed"), [("20news", 0.03, 0.8), ("trec06c_ham", 0.03, 0.8)]
)
def test_span_gold_forum_posts(corpus, max_lost, min_removed):
    """On the span gold's forum posts, most noise goes and almost no content."""
    sys.path.insert(0, str(ROOT / "bench"))
    from quality import gold
    from quality.metrics import SpanScore, score_spans

    if not SHARED.exists():
        pytest.skip(f"{SHARED} is absent")
    spans = gold.load_spans()
    docs = [d for d in gold.load_docs() if d["id"] in spans and d["corpus"] == corpus]
    texts = [gold.verified(d, SHARED).text for d in docs]
    got, _ = run(texts)
    total = SpanScore()
    for d, t, g in zip(docs, texts, got, strict=True):
        sp = spans[d["id"]]
        total.add(score_spans(sp["spans"], sp["default"], t, g))
    lost = total.content_lost / total.content
    removed = total.boilerplate_removed / total.boilerplate
    print(f"{corpus} span gold: content lost {lost:.1%}, noise removed {removed:.1%}")
    assert lost <= max_lost
    assert removed >= min_removed


@pytest.mark.slow
def test_forum_recipe_runs(tmp_path):
    """recipes/forum.yaml on a slice of 20news and trec06c ham: noise counted, none kept."""
    import yaml

    from corpuskit.recipe import recipe_from_dict

    needs_shared("20news_train")
    needs_shared("trec06c_subset")
    raw = yaml.safe_load((ROOT / "recipes" / "forum.yaml").read_text(encoding="utf-8"))
    raw["input"][0]["path"] = str(SHARED / "20news_train" / "sci.space" / "60*")
    raw["input"][1]["path"] = str(SHARED / "trec06c_subset" / "ham" / "10*")
    raw["output"]["path"] = str(tmp_path / "out")
    raw["executor"] = {"workers": 1}
    manifest = run_recipe(recipe_from_dict(raw)).manifest
    ledger = {row["step"].split(":")[-1]: row for row in manifest["ledger"]}
    counts = ledger["strip_email_noise"]["counters"]
    assert counts["quote_lines"] > 100 and counts["signature_lines"] > 10
    data = sorted((tmp_path / "out" / "data").glob("*.parquet"))
    kept = pl.concat([pl.read_parquet(p) for p in data])
    assert kept.height > 50
    assert not kept["text"].str.contains(r"(?m)^(?:>|:\s|：)").any()
