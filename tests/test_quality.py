"""gopher_quality, gopher_repetition, c4_quality, fineweb_quality: rules, Chinese, datatrove parity.

- table-driven cases, one per rule, English and Chinese;
- the word segmenter against spaCy's English tokenizer (what datatrove uses);
- side by side with datatrove 0.10.1 on real English documents of ../shared/corpora (ag_news,
  article_extraction_html articles, tinyshakespeare chunks): >= 99% same decisions per filter;
- ../shared/corpora/cnews_subset: >= 95% of the clean news pass all four steps;
- a real recipe run whose rejects carry `gopher_quality:...` style reasons.
"""

from __future__ import annotations

import collections
import csv
import json
import re
from pathlib import Path

import polars as pl
import pytest

from corpuskit import registry
from corpuskit.engine.run import run_recipe
from corpuskit.recipe import recipe_from_dict
from corpuskit.schema import REASON_COLUMN
from corpuskit.steps.c4_quality import DATATROVE as C4_DATATROVE
from corpuskit.steps.fineweb_quality import DATATROVE as FINEWEB_DATATROVE
from corpuskit.text.chars import unspaced_mask
from corpuskit.text.english import EnglishRules
from corpuskit.text.segment import Segmenter, sentence_units
from tests.conftest import needs_shared, write_jsonl

STEPS = ("gopher_quality", "gopher_repetition", "c4_quality", "fineweb_quality")

PROSE = (
    "The city council approved the new budget on Tuesday after a long debate. "
    "Members said that the plan would have to balance spending with the need to keep taxes low. "
    "The mayor thanked residents for their patience and promised to publish the details online. "
    "Several groups with an interest in public transport welcomed the decision. "
    "Others warned that the cost of repairs to the old bridge was still unclear. "
    "A final vote on the transport plan is expected next month."
)
PROSE_LINES = PROSE.replace(". ", ".\n")
ZH = (
    "新华社北京3月5日电 国务院总理今天在人民大会堂作政府工作报告。"
    "报告指出，过去一年我国经济保持平稳增长，就业和物价总体稳定，人民生活水平继续提高。"
    "报告提出，今年将继续实施积极的财政政策和稳健的货币政策，加大对中小企业的支持力度。"
    "代表们认为，报告实事求是，目标明确，措施有力，对做好今年的工作具有重要的指导意义。"
    "会议还审议了其他议程，各地代表团将在接下来的几天里分组讨论报告的内容。"
)


def run_step(name: str, texts: list[str], lang: list[str] | None = None, **config) -> pl.DataFrame:
    cls = registry.steps()[name]
    step = cls(cls.Config(**config), name=name)
    step.validate()
    step.ensure_ready()
    data = {"id": [str(i) for i in range(len(texts))], "text": texts}
    if lang is not None:
        data["lang"] = lang
    return step.process(pl.DataFrame(data)).batch


def reasons(name: str, texts: list[str], lang: list[str] | None = None, **config) -> list:
    return run_step(name, texts, lang, **config)[REASON_COLUMN].to_list()


def lines_of(*parts: str) -> str:
    return "\n".join(parts)


# --------------------------------------------------------------------------- rule tables

SHORT_REPLY = "Hahaha ... that is the way to go."
TRAILING_OFF = (
    "Seen that movie already, and the sequel to it.\n"
    "Come to think of it, they might send someone with a plan\n"
    "to get rid of the thing and the rest of it..."
)
GOPHER_QUALITY_CASES = [
    ("prose", PROSE, None),
    ("short_doc", "The vote is on Tuesday and the budget has passed.", "short_doc"),
    ("long_doc", PROSE, "long_doc", {"max_doc_words": 40}),
    ("short_avg_word", " ".join(["a", "to", "of", "an", "it", "is", "be"] * 10), "short_avg_word"),
    (
        "long_avg_word",
        " ".join(["internationalization", "characteristically", "the"] * 20),
        "long_avg_word",
    ),
    ("hash_ratio", PROSE + " #news" * 12, "hash_ratio"),
    ("ellipsis_ratio", PROSE + " etc…" * 12, "ellipsis_ratio"),
    ("bullet_lines", "\n".join("- " + s for s in PROSE.split(". ")), "bullet_lines"),
    (
        "ellipsis_lines",
        "\n".join(s + ("…" if i % 2 else ".") for i, s in enumerate(PROSE.split(". "))),
        "ellipsis_lines",
    ),
    ("alpha_words", PROSE + " " + " ".join(str(i) for i in range(40)), "alpha_words"),
    (
        "stop_words",
        " ".join(
            "Council approved budget Tuesday after debate members said plan would balance".split()
            * 6
        ),
        "stop_words",
    ),
    ("rule_off", PROSE + " #news" * 12, None, {"max_symbol_word_ratio": None}),
    # one ellipsis in a short reply: the ratio is over at least 50 words (datatrove: its own)
    ("ellipsis_short_reply", SHORT_REPLY, None, {"min_doc_words": 0}),
    (
        "ellipsis_short_reply_datatrove",
        SHORT_REPLY,
        "ellipsis_ratio",
        {"min_doc_words": 0, "symbol_ratio_min_words": 0},
    ),
    # one trailing-off line of three is no page of truncated teasers
    ("ellipsis_one_line", TRAILING_OFF, None, {"min_doc_words": 0}),
    (
        "ellipsis_one_line_datatrove",
        TRAILING_OFF,
        "ellipsis_lines",
        {"min_doc_words": 0, "min_ellipsis_lines": 1},
    ),
]

GOPHER_REPETITION_CASES = [
    ("prose", PROSE_LINES, None),
    ("empty", "", "empty"),
    ("dup_para_frac", "\n\n".join(["Same paragraph here."] * 3 + [PROSE]), "dup_para_frac"),
    (
        "dup_para_char_frac",
        "\n\n".join([PROSE, "Another paragraph.", "One more paragraph.", "The end.", PROSE]),
        "dup_para_char_frac",
    ),
    ("dup_line_frac", lines_of("Same line.", "Same line.", "Same line.", PROSE), "dup_line_frac"),
    (
        "dup_line_char_frac",
        lines_of(PROSE, *[f"Line number {i} is here." for i in range(8)], PROSE),
        "dup_line_char_frac",
    ),
    ("top_2_gram", "buy now " * 30 + PROSE, "top_2_gram"),
    ("duplicated_5_n_grams", PROSE + " " + PROSE, "duplicated_5_n_grams"),
    ("top_n_grams_off", "buy now " * 30 + PROSE, "duplicated_5_n_grams", {"top_n_grams": []}),
]

C4_CASES = [
    ("prose", PROSE_LINES, None),
    ("lorem_ipsum", PROSE_LINES + "\nLorem ipsum dolor sit amet, consectetur.", "lorem_ipsum"),
    ("curly_bracket", PROSE_LINES + "\nfunction f() { return the value; }.", "curly_bracket"),
    (
        "curly_bracket_off",
        PROSE_LINES + "\nA set {a, b} is here.",
        None,
        {"filter_curly_bracket": False},
    ),
    ("too_few_sentences", "One sentence here is fine.\nAnd a second one too.", "too_few_sentences"),
    (
        "lines_removed_first",
        "Menu Home About\nPlease enable JavaScript to view this page.\n" + PROSE_LINES,
        None,
    ),
]

HEADLINE_LEAD = (
    "Home Depot Likes High Oil\nRising fuel prices, a bugbear for most of the retail sector, "
    "are helping Home Depot, the remodeling retailer that reported"
)
LABELLED = "\n".join(
    f"{a}\n{b}\nSource: wire." for a, b in zip(*[iter(PROSE_LINES.split("\n"))] * 2, strict=True)
)
QUESTIONS = [f"* What does the council's decision number {i} mean?" for i in range(3)]
FAQ = (
    "Contents:\n\n"
    + "\n".join(QUESTIONS)
    + "".join(
        f"\n\n{q}\n\n{a} {b}"
        for q, a, b in zip(QUESTIONS, *[iter(PROSE_LINES.split("\n"))] * 2, strict=True)
    )
)
REFRAIN = "Will you, won't you, will you join the dance?\nSoup of the evening, beautiful Soup!"
CHAPTER = "\n".join(
    f"The council met for the {i}th time on Tuesday and approved the plan for district {i}."
    + (f"\n{REFRAIN}" if i in (10, 20) else "")
    for i in range(30)
)
PLAY = """VOLUMNIA:
If that I could for weeping, you should hear,--
Nay, and you shall hear some.
Will you be gone?

SICINIUS:
Are you mankind?

VOLUMNIA:
Ay, fool; is that a shame? Note but this fool.
Was not a man my father? Hadst thou foxship
To banish him that struck more blows for Rome
Than thou hast spoken words?

SICINIUS:
O blessed heavens!"""
FINEWEB_CASES = [
    ("prose", PROSE_LINES, None),
    # verse drama: the speaker labels are no lines of text (held-out gold, tinyshakespeare)
    ("speaker_labels", PLAY, None),
    ("speaker_labels_counted", PLAY, "short_line_ratio", {"skip_speaker_labels": False}),
    # a song's refrain sung twice in a chapter (4% of its characters): the FineWeb paper's
    # 0.1, not datatrove's 0.01
    ("char_dup_refrain", CHAPTER, None),
    ("char_dup_refrain_datatrove", CHAPTER, "char_dup_ratio", {"char_duplicates_ratio": 0.01}),
    ("empty", "  \n \n", "empty"),
    (
        "line_punct_ratio",
        "\n".join(f"Menu entry number {i} without a stop" for i in range(12)),
        "line_punct_ratio",
    ),
    (
        "short_line_ratio",
        "\n".join(f"Item {i}." for i in range(12)) + "\n" + PROSE,
        "short_line_ratio",
    ),
    (
        "char_dup_ratio",
        PROSE_LINES + "\n" + "\n".join(PROSE_LINES.split("\n")[:2]),
        "char_dup_ratio",
    ),
    # one repeated line (a pull quote) is no reason by default; datatrove counts it
    ("char_dup_one_line", PROSE_LINES + "\n" + PROSE_LINES.split("\n")[0], None),
    (
        "char_dup_one_line_datatrove",
        PROSE_LINES + "\n" + PROSE_LINES.split("\n")[0],
        "char_dup_ratio",
        {"char_dup_min_lines": 1, "char_duplicates_ratio": 0.01},
    ),
    # short label lines repeated under each section (a stock column's field names, a
    # contents list's headings) are no duplicated text by default; datatrove counts them
    ("char_dup_short_labels", LABELLED, None),
    # a FAQ's contents list repeated as its section headings
    ("char_dup_headings", FAQ, None),
    (
        "char_dup_headings_counted",
        FAQ,
        "char_dup_ratio",
        {"dup_ignore_headings": False, "char_duplicates_ratio": 0.01},
    ),
    # paragraphs (one line each, blank lines between) said twice still count
    (
        "char_dup_repeated_paragraphs",
        "\n\n".join(PROSE_LINES.split("\n") + PROSE_LINES.split("\n")[:2]),
        "char_dup_ratio",
    ),
    (
        "char_dup_short_labels_datatrove",
        LABELLED,
        "char_dup_ratio",
        {"dup_ignore_short_lines": False, "char_duplicates_ratio": 0.01},
    ),
    (
        "list_ratio",
        "\n".join(f"Supercalifragilisticexpialidociousness{i:02d}." for i in range(12)),
        "list_ratio",
    ),
    # a headline and its lead, cut off mid-sentence by the feed (15 words or more)
    ("lead_under_headline", HEADLINE_LEAD, None),
    ("lead_under_headline_strict", HEADLINE_LEAD, "line_punct_ratio", {"lenient_ends": False}),
    (
        "exclude_zero",
        "\n".join(f"Menu entry number {i} without a stop" for i in range(12)),
        None,
        {"line_punct_exclude_zero": True},
    ),
]


def _cases(table: list) -> list:
    return [pytest.param(c[1], c[2], c[3] if len(c) > 3 else {}, id=c[0]) for c in table]


@pytest.mark.parametrize(("text", "expected", "config"), _cases(GOPHER_QUALITY_CASES))
def test_gopher_quality_rules(text, expected, config):
    got = reasons("gopher_quality", [text], **config)[0]
    assert got == (f"gopher_quality:{expected}" if expected else None)


@pytest.mark.parametrize(("text", "expected", "config"), _cases(GOPHER_REPETITION_CASES))
def test_gopher_repetition_rules(text, expected, config):
    got = reasons("gopher_repetition", [text], **config)[0]
    assert got == (f"gopher_repetition:{expected}" if expected else None)


@pytest.mark.parametrize(("text", "expected", "config"), _cases(C4_CASES))
def test_c4_quality_rules(text, expected, config):
    got = reasons("c4_quality", [text], **config)[0]
    assert got == (f"c4_quality:{expected}" if expected else None)


@pytest.mark.parametrize(("text", "expected", "config"), _cases(FINEWEB_CASES))
def test_fineweb_quality_rules(text, expected, config):
    got = reasons("fineweb_quality", [text], **config)[0]
    assert got == (f"fineweb_quality:{expected}" if expected else None)


def test_gopher_quality_signals():
    out = run_step("gopher_quality", [PROSE + " #news #more", "word"])
    row = out.row(0, named=True)
    # spaCy tokens (what datatrove counts): words and punctuation, "#" split off
    assert row["gopher_words"] == 90
    assert row["gopher_nonsym_words"] == 82
    assert row["gopher_hash_ratio"] == pytest.approx(2 / 90)
    assert row["gopher_stop_words"] == 7  # and, have, of, that, the, to, with
    assert row["gopher_bullet_lines_ratio"] == 0.0
    assert out.row(1, named=True)["gopher_words"] == 1
    assert "_uns" not in out.columns


def test_c4_removes_lines_and_citations_and_counts_them():
    cls = registry.steps()["c4_quality"]
    # a first line like "Menu Home About" passes for a headline, which c4 keeps by default
    step = cls(cls.Config(keep_headlines=False), name="c4_quality")
    step.ensure_ready()
    text = (
        "Menu Home About\n"
        "Please enable JavaScript to view this page.\n"
        "We use cookies. See our privacy policy for details.\n"
        + PROSE_LINES.replace("debate.", "debate[1].")
    )
    res = step.process(pl.DataFrame({"id": ["a"], "text": [text]}))
    assert res.batch[REASON_COLUMN][0] is None
    assert res.batch["text"][0] == PROSE_LINES
    assert res.batch["c4_lines_removed"][0] == 3
    assert res.counters["lines_removed"] == 3
    assert res.counters["chars_removed"] == len(text) - len(PROSE_LINES)
    assert res.counters["lines_no_terminal_punct"] == 1
    assert res.counters["lines_javascript"] == 1 and res.counters["lines_policy"] == 1


def test_c4_continued_lines_join_a_sentence_that_goes_on():
    from corpuskit.steps.quality import continued_lines

    text = (
        "unfortunately, i don't have that info anymore.  try stopping\n"
        "at a local bookstore and calling them.\n"
        "> a quoted line that is long enough to be wrapped, and\n"
        "my reply starts in lower case.\n"
        "short menu entry\n"
        "about us\n"
        "- a list item that is long enough to be wrapped, and\n"
        "- another item."
    )
    got = continued_lines(pl.Series([text, text]), pl.Series([False, True]))
    assert got[0] == (
        "unfortunately, i don't have that info anymore.  try stopping at a local bookstore "
        "and calling them.\n" + text.split("\n", 2)[2]
    )
    assert got[1] == text  # unspaced documents are left alone


def test_c4_lenient_ends_in_email_prose():
    paragraphs = [
        # a sentence end inside closing brackets
        "The kubel had an external spare mounted on the hood, and the hood sloped down "
        "(for visibility?)",
        # a sentence trailing off after a clause
        "But then alcohol just isn't really important to me, mainly for financial reasons...",
    ]
    for para in paragraphs:
        out = run_step("c4_quality", [para + "\n" + PROSE_LINES])
        assert out[REASON_COLUMN][0] is None
        assert out["text"][0].startswith(para)
    # a teaser cut off without a clause before it still goes
    out = run_step("c4_quality", [PROSE_LINES + "\nRead the full story of the council budget..."])
    assert out["text"][0] == PROSE_LINES


def test_c4_counts_sentences_like_spacy():
    out = run_step(
        "c4_quality", ["Dr. Smith arrived. He said hello! Then he left... or not? Fine."]
    )
    # spaCy's sentencizer: "Dr." is one token, so 4 sentences; fewer than 5 -> rejected
    assert out["c4_sentences"][0] == 4
    assert out[REASON_COLUMN][0] == "c4_quality:too_few_sentences"


# --------------------------------------------------------------------------- Chinese


def test_unspaced_detection_from_lang_or_ratio():
    batch = pl.DataFrame(
        {
            "text": [ZH, ZH, PROSE, "中文 mixed with a lot of English words here"],
            "lang": ["zh", "en", None, None],
        }
    )
    assert unspaced_mask(batch).to_list() == [True, False, False, False]
    assert unspaced_mask(batch.drop("lang")).to_list() == [True, True, False, False]


def test_sentence_units_split_chinese_at_terminal_punctuation():
    got = pl.select(
        sentence_units(pl.lit("他说：“好的！”然后走了…… 最后(记者：张三)\n第二行。"))
    ).item()
    assert got.to_list() == ["他说：“好的！”", "然后走了……", " 最后(记者：张三)", "第二行。"]


INFORMAL_ZH = (
    "从小一直很向往有那样的一个好哥哥\n"
    "我和他已经两个月没见面了\n"
    "如果你想有个很贴心的妹妹的话\n"
    "那就给我回信吧：）"
)
JOB_ZH = "\n".join(
    [
        "招聘公司：北京某信息技术有限公司",
        "招聘职位：开发工程师（1人）",
        "职责要求：",
        "1、有两年以上商业化软件的开发经验；",
        "2、熟悉数据库设计和开发，有相关项目经验的优先考虑；",
        "3、主动性强，有敬业精神，勇于面对困难和接受挑战；",
        "4、有良好的团队协作能力和沟通能力；",
        "联系方式：",
        "如有意者请把个人简历发到邮箱",
    ]
)
RENTAL_ZH = (
    "本人在金桥路附近觅得一房，三房一厅两卫，房间宽敞明亮，附近生活设施齐全，"
    "现还有一朝南房间待租，要求入住者不吸烟，有意者站内联系，谢谢\n"
    "office：021-53560000\n"
    "13800000000魏先生"
)
BBS_QUOTE = (
    "\n: 标  题: Re: 真想死了算了\n"
    ": 发信站: 水木社区 (Thu Jul  7 22:59:31 2005), 站内\n"
    ": \n"
    ": 好歹也是名校的本科生，英语也有六级；就是找不到工作\n"
    ": 今天：\n"
    + "".join(f": 收到了第{i}家很想去的公司的拒电\n" for i in "一二三四五六七八九十")
    + ": 我都没感觉了"
)
ELLIPSIS_ZH = (
    "奇怪的就是，有人跟我说他是个平时不太说话，挺沉默的人...\n"
    "可是跟我在一起的时候，他却可以说个不停，所以我一般只是听着而已......"
)
ZH_CASES = [
    ("gopher_quality", ZH, None),
    ("gopher_quality", "中国经济保持平稳增长。", "gopher_quality:short_doc"),
    (
        "gopher_quality",
        ZH.replace("的", "").replace("和", "").replace("在", "").replace("对", ""),
        None,
    ),
    ("gopher_repetition", ZH, None),
    # a body given twice keeps one copy; near copies are judged by the n-gram rules
    ("gopher_repetition", ZH + ZH, None),
    (
        "gopher_repetition",
        ZH + ZH.replace("报告", "该报告"),
        "gopher_repetition:duplicated_5_n_grams",
    ),
    ("c4_quality", ZH + "（记者 张三）", None),
    ("c4_quality", "报告指出，经济平稳增长。", "c4_quality:too_few_sentences"),
    ("fineweb_quality", ZH + "（记者 张三）", None),
    (
        "fineweb_quality",
        "\n".join(["首页", "新闻", "体育", "财经", "娱乐", "科技"]),
        "fineweb_quality:line_punct_ratio",
    ),
    # informal Chinese breaks lines instead of writing "。": a sentence-final particle or an
    # emoticon ends the line's sentence; a menu of nouns still does not
    ("c4_quality", INFORMAL_ZH, None),
    ("fineweb_quality", INFORMAL_ZH, None),
    (
        "c4_quality",
        INFORMAL_ZH.replace("吧：）", "").replace("了\n", "\n"),
        "c4_quality:too_few_sentences",
    ),
    (
        "c4_quality",
        "\n".join(["首页新闻中心", "体育频道直播", "财经股票行情", "娱乐明星八卦"]),
        "c4_quality:too_few_sentences",
    ),
    # a numbered list item closed by "；" ends as a sentence does (GB/T 15834); "谢谢" ends
    # a post's last sentence; without them the same notices read as link lists
    ("fineweb_quality", JOB_ZH, None),
    ("fineweb_quality", JOB_ZH.replace("；", ""), "fineweb_quality:line_punct_ratio"),
    ("fineweb_quality", RENTAL_ZH, None),
    ("fineweb_quality", RENTAL_ZH.replace("，谢谢", ""), "fineweb_quality:line_punct_ratio"),
    # an informal sentence trails off in an ellipsis (held-out gold, trec-ham-5347)
    ("c4_quality", ELLIPSIS_ZH, None),
    ("c4_quality", ELLIPSIS_ZH.replace(".", ""), "c4_quality:too_few_sentences"),
    # a reply of two sentences is judged by its own, not by the quoted header and list;
    # a one-sentence reply says too little and is judged with the thread
    ("fineweb_quality", "找工作是持久战，不能急。\n转机往往就快要来了。" + BBS_QUOTE, None),
    ("fineweb_quality", "嗯，好。" + BBS_QUOTE, "fineweb_quality:line_punct_ratio"),
]


@pytest.mark.parametrize(("name", "text", "expected"), ZH_CASES)
def test_chinese_rules(name, text, expected):
    assert reasons(name, [text], lang=["zh"])[0] == expected


def test_chinese_words_are_jieba_words():
    out = run_step("gopher_quality", [ZH], lang=["zh"])
    row = out.row(0, named=True)
    # jieba words average under two characters; the English bounds (3..10) would reject this
    assert 1.2 < row["gopher_avg_word_length"] < 2.5
    assert row["gopher_stop_words"] >= 5
    assert row["gopher_alpha_words_ratio"] > 0.9
    # the same text read as English (one "word" per clause) is rejected
    assert reasons("gopher_quality", [ZH], lang=["en"])[0] == "gopher_quality:short_doc"


def test_c4_drops_chinese_byline_unit_and_keeps_the_rest():
    out = run_step("c4_quality", [ZH + "（记者 张三）"], lang=["zh"])
    assert out[REASON_COLUMN][0] is None
    assert out["text"][0] == ZH
    assert out["c4_sentences"][0] == 5


# --------------------------------------------------------------------------- segmenter


TOKEN_CASES = [
    ("don't", ["do", "n't"]),
    ("U.S.", ["U.S."]),
    ("(D-Minn.),", ["(", "D", "-", "Minn.", ")", ","]),
    ("$3.50", ["$", "3.50"]),
    ("http://x.com/a?b=1", ["http://x.com/a?b=1"]),
    ("co-operate.", ["co", "-", "operate", "."]),
    ("election.’’", ["election", ".", "’’"]),
    ("B):", ["B", "):"]),
    ("1,000", ["1,000"]),
    ("Smith...", ["Smith", "..."]),
]


@pytest.mark.parametrize(("chunk", "tokens"), TOKEN_CASES)
def test_english_rules_tokenize_like_spacy(chunk, tokens):
    assert EnglishRules().tokenize(chunk) == tokens


def test_english_rules_match_spacy_on_tricky_chunks():
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    rules = EnglishRules()
    chunks = [c for c, _ in TOKEN_CASES] + [
        "can't", "I'm", "Mr.", "a.m.,", "(AP)--", "9/11", "e-mail:", "#39;)", "St.Laurent,",
        "km/h.", "“Quoted”", "'90s", "O'Neill's", "well-known.", "—and", "5km", "C++", ":-)",
    ]  # fmt: skip
    for chunk in chunks:
        assert rules.tokenize(chunk) == [t.text for t in nlp.tokenizer(chunk)], chunk


def test_token_table_lines_and_reuse():
    seg = Segmenter()
    texts = pl.Series(["one two\nthree", "", "a\r\nb\x1cc", "x y"])
    t = seg.tokens(texts)
    assert t["row"].to_list() == [0, 0, 0, 2, 2, 2, 3, 3]
    # lines are numbered batch-wide with str.splitlines semantics: 2 + 1 + 3 + 1
    assert t["line"].to_list() == [0, 0, 1, 3, 4, 5, 6, 6]
    again = seg.tokens(texts.gather([3, 0]))  # taken from the kept table
    assert again.equals(Segmenter().tokens(texts.gather([3, 0])))


# --------------------------------------------------------------------------- datatrove parity

CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def english_corpus() -> list[str]:
    """Real English documents: ag_news (title + description, and descriptions alone), the
    articles of article_extraction_html, tinyshakespeare in 2,500- and 600-character chunks."""
    ag = needs_shared("ag_news/test.csv")
    articles = needs_shared("article_extraction_html/ground-truth.json")
    shakespeare = needs_shared("tinyshakespeare/input.txt")
    with ag.open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    texts = [r[1] + ". " + r[2] for r in rows[:400]] + [r[2] for r in rows[400:700]]
    texts += [
        v["articleBody"]
        for v in json.loads(articles.read_text(encoding="utf-8")).values()
        if len(CJK.findall(v["articleBody"])) < 20
    ]
    sh = shakespeare.read_text(encoding="utf-8")
    texts += [sh[i : i + 2500] for i in range(0, 250_000, 2500)]
    texts += [sh[i : i + 600] for i in range(300_000, 360_000, 600)]
    return texts


def peer_filter(name: str):
    pytest.importorskip("datatrove")
    pytest.importorskip("spacy", reason="datatrove's English word tokenizer needs spaCy")
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return {
        "gopher_quality": GopherQualityFilter,
        "gopher_repetition": GopherRepetitionFilter,
        "c4_quality": C4QualityFilter,
        "fineweb_quality": FineWebQualityFilter,
    }[name]()


# c4_quality and fineweb_quality judge paragraphs, keep headlines and accept a sentence end
# followed by a bracket or an emoticon by default (issue 16: the physical-line rules shred
# hard-wrapped text and reject briefs); datatrove judges physical lines. Parity is checked
# with those options off; the default mode is compared in test_default_mode_stays_close.
DATATROVE_MODE = {"c4_quality": C4_DATATROVE, "fineweb_quality": FINEWEB_DATATROVE}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["c4_quality", "fineweb_quality"])
def test_default_mode_stays_close(name):
    """On web text (ag_news, article pages, verse) the paragraph mode changes few decisions."""
    peer = peer_filter(name)
    from datatrove.data import Document

    texts = english_corpus()
    peer_keep = [peer.filter(Document(text=t, id=str(i))) is True for i, t in enumerate(texts)]
    ours = run_step(name, texts, lang=["en"] * len(texts))[REASON_COLUMN].to_list()
    same = sum((r is None) == k for r, k in zip(ours, peer_keep, strict=True))
    print(f"{name} default mode: same decision {same / len(texts):.4f}")
    # measured: c4 0.980, fineweb 0.901: 83 of fineweb's 107 are ag_news descriptions cut off
    # by the feed (one line, 200+ characters, sentence ends inside), which datatrove rejects
    # for a line punctuation ratio of 0, most others a single repeated line
    # (char_dup_min_lines); the paragraph mode keeps both on purpose. fineweb 0.784 since
    # dup_ignore_short_lines: 104 of the 200 tinyshakespeare chunks, which datatrove rejects
    # for their repeated speaker names ("ROMEO:"), and 2 articles are kept; 0.783 with the
    # FineWeb paper's char_duplicates_ratio of 0.1; 0.770 with skip_speaker_labels (14 more
    # tinyshakespeare chunks kept, which datatrove rejects for their short lines)
    assert same / len(texts) >= (0.75 if name == "fineweb_quality" else 0.88)


@pytest.mark.slow
@pytest.mark.parametrize("name", STEPS)
def test_agrees_with_datatrove(name):
    from datatrove.data import Document

    peer = peer_filter(name)
    texts = english_corpus()
    peer_keep, peer_reason, peer_text = [], [], []
    for i, text in enumerate(texts):
        doc = Document(text=text, id=str(i))
        res = peer.filter(doc)
        peer_keep.append(res is True)
        peer_reason.append(None if res is True else res[1])
        peer_text.append(doc.text)
    # gopher_quality and gopher_repetition default to curator's relaxations of datatrove's
    # rules (short briefs, forum posts, other languages, Chinese: bench/quality, issue 16);
    # DATATROVE restores datatrove's rules exactly, and the defaults must only keep more.
    # c4_quality and fineweb_quality judge physical lines only in DATATROVE_MODE.
    config = PARITY.get(name) or DATATROVE_MODE.get(name, {})
    out = run_step(name, texts, lang=["en"] * len(texts), **config)
    ours = out[REASON_COLUMN].to_list()
    if name in PARITY:
        defaults = run_step(name, texts, lang=["en"] * len(texts))[REASON_COLUMN].to_list()
        extra = [i for i, r in enumerate(defaults) if r is not None and ours[i] is None]
        kept_more = sum(r is None and o is not None for r, o in zip(defaults, ours, strict=True))
        print(f"{name}: defaults keep {kept_more} more of {len(texts)}, reject {len(extra)} more")
        assert not extra, f"defaults reject what datatrove's rules keep: {extra[:5]}"
    same = sum((r is None) == k for r, k in zip(ours, peer_keep, strict=True))
    same_reason = sum(
        (r is None and k) or (r is not None and not k and r.split(":", 1)[1] == _our_name(p))
        for r, k, p in zip(ours, peer_keep, peer_reason, strict=True)
    )
    kept = sum(peer_keep)
    print(
        f"{name}: {len(texts)} docs, datatrove keeps {kept}, corpuskit keeps "
        f"{ours.count(None)}, same decision {same / len(texts):.4f}, same reason "
        f"{same_reason / len(texts):.4f}"
    )
    assert 0.1 * len(texts) < kept < 0.9 * len(texts), "the test set needs kept and dropped docs"
    assert same / len(texts) >= 0.99
    assert same_reason / len(texts) >= 0.99
    if name == "c4_quality":
        both = [i for i, r in enumerate(ours) if r is None and peer_keep[i]]
        equal = sum(out["text"][i] == peer_text[i] for i in both)
        print(f"c4_quality: kept text identical for {equal}/{len(both)}")
        assert equal / len(both) >= 0.99


def _parity_configs() -> dict[str, dict]:
    from corpuskit.steps.gopher_quality import DATATROVE as GQ
    from corpuskit.steps.gopher_repetition import DATATROVE as GR

    return {"gopher_quality": GQ, "gopher_repetition": GR}


PARITY = _parity_configs()


def _our_name(peer_reason: str | None) -> str | None:
    """datatrove's reason names -> corpuskit's."""
    names = {
        "gopher_short_doc": "short_doc",
        "gopher_long_doc": "long_doc",
        "gopher_below_avg_threshold": "short_avg_word",
        "gopher_above_avg_threshold": "long_avg_word",
        "gopher_too_many_hashes": "hash_ratio",
        "gopher_too_many_ellipsis": "ellipsis_ratio",
        "gopher_too_many_bullets": "bullet_lines",
        "gopher_too_many_end_ellipsis": "ellipsis_lines",
        "gopher_below_alpha_threshold": "alpha_words",
        "gopher_enough_stop_words": "stop_words",
    }
    return names.get(peer_reason, peer_reason)


# --------------------------------------------------------------------------- cnews

ZH_MARKERS = re.compile(
    r"我要评论|客服|联系电话|咨询电话|商家电话|参考价格|参考报价|产品价格|联系方式|联系地址"
    r"|官方网站|官网|WAP|QQ|it7t|ZOL|https?://|www\.|\.com|\.cn|@|下载"
)


def repeats_itself(text: str, width: int = 20, probes: int = 10) -> bool:
    """Some 20-character span, of 10 probed along the text, occurs twice in it."""
    n = len(text)
    if n < 2 * width:
        return False
    starts = [(n - width) * j // (probes - 1) for j in range(probes)]
    return any(text.count(text[s : s + width]) >= 2 for s in starts)


def test_clean_chinese_news_passes():
    path = needs_shared("cnews_subset/cnews.val.txt")
    rows = [line.rstrip("\n").split("\t", 1) for line in path.open(encoding="utf-8")]
    texts = [r[1] for r in rows]
    # what a reader calls clean news: no ad/contact/boilerplate markers, no sentence or body
    # repeated, at least 80 characters
    clean = [not ZH_MARKERS.search(t) and not repeats_itself(t) and len(t) >= 80 for t in texts]
    rejected: dict[int, str] = {}
    per_step = {}
    for name in STEPS:  # no lang column: detected from the CJK share
        got = reasons(name, texts)
        per_step[name] = sum(1 for r in got if r)
        for i, r in enumerate(got):
            if r and i not in rejected:
                rejected[i] = r
    n_clean = sum(clean)
    passed = sum(1 for i, c in enumerate(clean) if c and i not in rejected)
    by_reason = collections.Counter(r for i, r in rejected.items() if clean[i])
    print(f"cnews: {passed}/{n_clean} clean documents pass all four steps ({passed / n_clean:.1%})")
    print(f"clean ones rejected, by first reason: {dict(by_reason.most_common())}")
    print(f"all documents rejected per step: {per_step}")
    assert n_clean > 600
    assert passed / n_clean >= 0.95
    # the documents whose body is there twice: gopher_repetition keeps one copy of the body
    # (issue 16's gold set labels them keep), or rejects them where the copies differ
    doubled = [i for i, t in enumerate(texts) if body_doubled(t)]
    out = run_step("gopher_repetition", [texts[i] for i in doubled])
    collapsed = [len(t) < 0.6 * len(texts[i]) for i, t in zip(doubled, out["text"], strict=True)]
    assert len(doubled) > 20
    assert all(c or r is not None for c, r in zip(collapsed, out[REASON_COLUMN], strict=True))
    assert sum(collapsed) >= 0.8 * len(doubled)


def body_doubled(text: str) -> bool:
    """A 40-character span of the first half comes back more than 0.4 of the text later."""
    n = len(text)
    probe = text[n // 4 : n // 4 + 40]
    a = text.find(probe)
    b = text.find(probe, a + 1)
    return n > 300 and b > 0 and b - a > 0.4 * n


# --------------------------------------------------------------------------- recipe


def test_recipe_run_rejects_with_step_reasons(tmp_path):
    rows = [
        {"id": "good", "text": PROSE_LINES},
        {"id": "short", "text": "Too short to judge."},
        {"id": "repeated", "text": PROSE_LINES + "\n" + PROSE_LINES},
        {"id": "menu", "text": PROSE_LINES + "\nfunction f() { return the value; }."},
        {"id": "zh", "text": ZH + "（记者 张三）", "lang": "zh"},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    raw = {
        "input": {"path": str(src), "id_field": "id"},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"workers": 1},
        "steps": [
            {"gopher_repetition": {}},
            {"gopher_quality": {}},
            {"c4_quality": {}},
            {"fineweb_quality": {}},
        ],
    }
    manifest = run_recipe(recipe_from_dict(raw)).manifest
    out = Path(tmp_path / "out")
    kept = pl.concat([pl.read_parquet(p) for p in sorted((out / "data").glob("*.parquet"))])
    rejected = pl.concat([pl.read_parquet(p) for p in sorted((out / "rejected").glob("*.parquet"))])
    got = dict(zip(rejected["id"], rejected["reason"], strict=True))
    assert got == {
        # a 4-word text has no n-gram statistics worth the name (min_ngram_words)
        "short": "gopher_quality:short_doc",
        "repeated": "gopher_repetition:dup_line_frac",
        "menu": "c4_quality:curly_bracket",
    }
    assert sorted(kept["id"]) == ["good", "zh"]
    assert kept.filter(pl.col("id") == "zh")["text"][0] == ZH  # byline unit removed by c4
    ledger = {row["step"]: row for row in manifest["ledger"]}
    assert ledger["2:c4_quality"]["counters"]["lines_removed"] == 1
    assert {"gopher_words", "gopher_dup_line_frac", "c4_sentences", "fineweb_list_ratio"} <= set(
        kept.columns
    )


# --------------------------------------------------------------------------- n-gram kernel


def repetitive_texts(seed: int, n: int) -> list[str]:
    """Documents of 0-400 words from a small vocabulary, some with a paragraph or a phrase
    repeated, so that every n-gram statistic and both of its bounds come into play."""
    import random

    rng = random.Random(seed)
    vocab = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away", "x"]
    vocab += ["longerword", "repetition", "in", "it", ",", "."]
    zh = ["新闻", "记者", "今天", "北京", "的", "报道", "，", "。", "经济", "增长"]
    texts = []
    for i in range(n):
        words_of = zh if i % 5 == 0 else vocab
        words = [rng.choice(words_of[: rng.randint(3, len(words_of))])]
        words += [rng.choice(words_of) for _ in range(rng.randint(0, 300))]
        if i % 3 == 0:
            start = rng.randrange(len(words))
            words += words[start : start + rng.randint(5, 120)] * rng.randint(1, 4)
        texts.append("".join(words) if i % 5 == 0 else " ".join(words))
    return texts


NGRAM_CONFIGS = [
    ({}, {}),
    ({"top_n_grams": ((2, 0.05), (2, 0.1), (7, 0.01))}, {}),
    ({"dup_n_grams": ((3, 0.02), (5, 0.05), (6, 0.0), (8, 0.9), (12, 0.01))}, {}),
    ({"top_n_grams": (), "dup_n_grams": ((1, 0.3),)}, {}),
]


@pytest.mark.parametrize("config", [c for c, _ in NGRAM_CONFIGS])
def test_ngram_kernel_equals_polars_reference(config):
    from corpuskit.steps.gopher_repetition import GopherRepetitionConfig, ngram_fracs, ngram_kernel

    assert ngram_kernel() is not None, "numba is installed, the kernel must load"
    c = GopherRepetitionConfig(**config)
    texts = repetitive_texts(seed=len(str(config)), n=300)
    batch = pl.DataFrame({"text": texts})
    unspaced = unspaced_mask(batch)
    tokens = Segmenter().tokens(batch["text"], unspaced)
    length = batch["text"].str.len_chars().cast(pl.Float64)
    undecided = pl.Series([i % 7 != 3 and t != "" for i, t in enumerate(texts)])
    args = (tokens, unspaced, length, undecided, c.top_n_grams, c.dup_n_grams)
    fast = pl.DataFrame(ngram_fracs(*args, kernel=True))
    ref = pl.DataFrame(ngram_fracs(*args, kernel=False))
    assert fast.columns == ref.columns and fast.height == len(texts)
    assert fast.equals(ref)
    # the statistics fire: repeated documents, the exact greedy scan, decided rows null
    assert (fast.select(pl.max_horizontal(pl.all())).to_series() > 0.2).sum() > 30
    assert unspaced.sum() >= 50
    assert fast.filter(~undecided).select(pl.all().is_null().all()).row(0) == (True,) * fast.width


@pytest.mark.parametrize("config", ["defaults", "datatrove"])
def test_gopher_repetition_kernel_and_reference_on_real_text(config):
    ag = needs_shared("ag_news/test.csv")
    cn = needs_shared("cnews_subset/cnews.val.txt")
    with ag.open(encoding="utf-8") as f:
        texts = [r[1] + "\n" + r[2] for r in list(csv.reader(f))[:1500]]
    texts += [line.split("\t", 1)[1] for line in cn.open(encoding="utf-8")][:400]
    data = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    out = []
    for kernel in (True, False):
        cls = registry.steps()["gopher_repetition"]
        step = cls(cls.Config(**PARITY["gopher_repetition"] if config == "datatrove" else {}))
        step.ensure_ready()
        step._kernel = step._kernel and kernel
        assert step._kernel is kernel
        out.append(pl.concat([step.process(data.slice(i, 500)).batch for i in range(0, 1900, 500)]))
    assert out[0].equals(out[1])
    # the n-gram statistics decide documents (only long ones with the defaults)
    assert out[0][REASON_COLUMN].drop_nulls().len() > (50 if config == "datatrove" else 10)


def test_row_sums_equal_per_row():
    from corpuskit.text.rows import per_row, row_sums

    t = pl.DataFrame(
        {"row": pl.Series([0, 0, 2, 2, 2, 5], dtype=pl.UInt32), "v": [1, 2, 3, 4, 5, 6]}
    ).with_columns(b=pl.col("v") % 2 == 0)
    got = row_sums(t, 7, n=pl.lit(1), v=pl.col("v"), b=pl.col("b"))
    want = per_row(t, 7, pl.len().alias("n"), pl.col("v").sum(), pl.col("b").sum()).fill_null(0)
    assert got.to_dicts() == want.drop("row").cast(pl.Int64).to_dicts()
    assert row_sums(t.clear(), 3, n=pl.lit(1))["n"].to_list() == [0, 0, 0]


def test_gopher_repetition_skips_speaker_labels():
    """A play's speaker labels repeat in every scene (held-out gold, ho-shakespeare-l31031);
    datatrove counts them as duplicated lines."""
    speeches = [
        "Bid them all home; he's gone, and we'll no further.",
        "Now we have shown our power, let us seem humbler.",
        "Bid them home: say their great enemy is gone.",
        "Dismiss them home. Here comes his mother.",
        "Let's not meet her, for they say she's mad.",
        "They have ta'en note of us: keep on your way.",
    ]
    scene = "\n\n".join(
        f"{who}:\n{line}" for line, who in zip(speeches, ["SICINIUS", "BRUTUS"] * 3, strict=True)
    )
    assert reasons("gopher_repetition", [scene])[0] is None
    assert (
        reasons("gopher_repetition", [scene], skip_speaker_labels=False)[0]
        == "gopher_repetition:dup_line_frac"
    )


def test_gopher_repetition_text_of_symbol_lines_only_says_so():
    """With symbol-only lines and speaker labels set aside, a text of nothing else has no line
    to count: its reason is no_text_lines, not a dup_line_frac of 0/0 (NaN, which Polars
    orders above the threshold) that no line was duplicated to earn."""
    junk = ["!" * 10_000, "\ufffd" * 500, "----\n====\n****", "ANGELO:\nISABELLA:"]
    assert reasons("gopher_repetition", junk) == ["gopher_repetition:no_text_lines"] * 4
    out = run_step("gopher_repetition", junk)
    assert out["gopher_dup_line_frac"].null_count() == 4
    assert reasons("gopher_repetition", ["", "A line of text with words in it.\n!!!!"]) == [
        "gopher_repetition:empty",
        None,
    ]
