"""remove_boilerplate_lines: pattern lists (zh/en), units vs cut tags, config, and real cnews."""

from __future__ import annotations

import random
import re

import polars as pl
import pytest

from corpuskit.engine.run import run_recipe
from corpuskit.engine.stages import build_steps
from corpuskit.recipe import RecipeError, recipe_from_dict
from corpuskit.schema import REASON_COLUMN
from corpuskit.steps.patterns import (
    collect_patterns,
    combine_groups,
    parse_patterns,
    top_branches,
)
from corpuskit.steps.remove_boilerplate_lines import (
    BoilerplateConfig,
    RemoveBoilerplateLines,
    unit_regexes,
)
from tests.conftest import needs_shared, write_jsonl

NEWS_ZH = "国务院今天召开常务会议，研究部署进一步扩大内需促进经济增长的措施。"
NEWS_EN = "The central bank raised interest rates by a quarter point on Tuesday."


def clean(texts: list[str], **config) -> pl.DataFrame:
    step = RemoveBoilerplateLines(BoilerplateConfig(**config), name="remove_boilerplate_lines")
    return step.process(pl.DataFrame({"text": texts})).batch


def cleaned(text: str, **config) -> str:
    return clean([text], **config)["text"][0]


# (input, expected output): Chinese news with the boilerplate of real Chinese news sites
ZH_CASES = [
    # widget text glued to the last sentence: only the widget goes
    (NEWS_ZH + "(记者王浩) 我要评论", NEWS_ZH + "(记者王浩)"),
    (NEWS_ZH + "我要评论", NEWS_ZH),
    # a bracketed source tag inside the first sentence: only the tag goes
    (
        "精致小巧 烟台奥尼U660M笔记本摄像头【ZOL-七天在线 it7t.com】对于笔记本用户而言，"
        "外接摄像头的便携性非常重要。",
        "精致小巧 烟台奥尼U660M笔记本摄像头对于笔记本用户而言，外接摄像头的便携性非常重要。",
    ),
    (
        "富士J26仅售888元【山东IT在线报道】富士J26定位于入门家用市场。",
        "富士J26仅售888元富士J26定位于入门家用市场。",
    ),
    # Sina's inline link markers
    ("周迅(微博)在徐克最新喜剧中出演女一号。", "周迅在徐克最新喜剧中出演女一号。"),
    (
        "以公园1872 (论坛 相册 户型 样板间 地图搜索)为代表，成交量993套。",
        "以公园1872为代表，成交量993套。",
    ),
    # a rights notice as the last sentence of a one-line article
    (NEWS_ZH * 3 + "罗小麦/文声明：新浪网独家稿件，转载请注明出处。", NEWS_ZH * 3),
    # a contact block after the article, and a hotline sentence
    (
        NEWS_ZH * 3 + "客服热线：400-8131988客服邮件：nu@digifun.cn客服QQ：964559581",
        NEWS_ZH * 3,
    ),
    (NEWS_ZH * 3 + "全国统一招生咨询热线：400-0052-500", NEWS_ZH * 3),
    # a related-articles list up to the widget text
    (
        NEWS_ZH * 3 + "     相关新闻：    北京楼市首现供过于求    北京楼市首现价平量跌我要评论",
        NEWS_ZH * 3,
    ),
    # dealer listing fields after a product report
    (
        NEWS_ZH * 3 + "   [参考价格] 1750元送配件    [商家电话] 010-82660780",
        NEWS_ZH * 3,
    ),
    # whole boilerplate lines of a multi-line article
    ("原标题：国务院部署扩大内需\n" + NEWS_ZH, NEWS_ZH),
    (NEWS_ZH + "\n责任编辑：张三", NEWS_ZH),
    (NEWS_ZH + "\n扫码关注我们的微信公众号", NEWS_ZH),
    (NEWS_ZH + "\n（本文来源：人民网）", NEWS_ZH),
    (NEWS_ZH + "\n免责声明：本文仅代表作者个人观点，与本网无关。", NEWS_ZH),
    (NEWS_ZH + "\n点击查看更多精彩内容", NEWS_ZH),
    (NEWS_ZH + "\n官方QQ群：84922609", NEWS_ZH),
    (NEWS_ZH + "\n微信：corpuskit2024", NEWS_ZH),
    # real news that mentions the same words stays as it is
    (
        "市民可拨打世界卫生组织健康与医疗热线电话咨询。",
        "市民可拨打世界卫生组织健康与医疗热线电话咨询。",
    ),
    (
        "哪怕来电显示是官方公告的客服电话，也不要透露密码。",
        "哪怕来电显示是官方公告的客服电话，也不要透露密码。",
    ),
    ("收入来源：工资和奖金占了八成。", "收入来源：工资和奖金占了八成。"),
    (
        "NBA网页点击量也达到了59亿次，比上赛季增加了35%。",
        "NBA网页点击量也达到了59亿次，比上赛季增加了35%。",
    ),
    (
        "两国元首发表《联合声明》，并签署一系列合作文件。",
        "两国元首发表《联合声明》，并签署一系列合作文件。",
    ),
]

EN_CASES = [
    (NEWS_EN + "\nClick here to subscribe to our newsletter.", NEWS_EN),
    (NEWS_EN + "\nSubscribe to our newsletter", NEWS_EN),
    (NEWS_EN + "\nCopyright © 2024 Example Media Group. All rights reserved.", NEWS_EN),
    (NEWS_EN + "\nThis site uses cookies. By continuing to browse the site you agree.", NEWS_EN),
    (
        NEWS_EN + "\nShare this article\nShare on Facebook\nTweet\n" + NEWS_EN,
        NEWS_EN + "\n" + NEWS_EN,
    ),
    ("Advertisement\n" + NEWS_EN, NEWS_EN),
    (NEWS_EN + "\nRead more", NEWS_EN),
    ("Skip to main content\n" + NEWS_EN, NEWS_EN),
    (NEWS_EN + "\nFollow us on Twitter for the latest updates", NEWS_EN),
    (NEWS_EN + "\nPrivacy Policy | Terms of Use | Contact Us", NEWS_EN),
    ("-Posted by dave.rosenberg 1:51 pm (PDT)\n" + NEWS_EN, NEWS_EN),
    # a boilerplate sentence inside a long paragraph: only that sentence goes
    (
        NEWS_EN + " Click here to read the full story. " + NEWS_EN,
        NEWS_EN + " " + NEWS_EN,
    ),
    # real news using the same words stays
    (
        "The court ruled on copyright infringement by file-sharing networks.",
        "The court ruled on copyright infringement by file-sharing networks.",
    ),
    (
        "Facebook changed its privacy policy on Monday, angering users.",
        "Facebook changed its privacy policy on Monday, angering users.",
    ),
    (
        "He said he would share the prize with his team.",
        "He said he would share the prize with his team.",
    ),
    ("Read more about the study in Nature.", "Read more about the study in Nature."),
    ("Photo: Sony's LocationFree TVs", "Photo: Sony's LocationFree TVs"),
]


@pytest.mark.parametrize(("text", "expected"), ZH_CASES)
def test_chinese_cases(text, expected):
    assert cleaned(text) == expected


@pytest.mark.parametrize(("text", "expected"), EN_CASES)
def test_english_cases(text, expected):
    assert cleaned(text) == expected


def test_columns_counters_and_untouched_text():
    texts = [
        "First paragraph of the story.\n\n  Indented second paragraph.  \n",  # untouched
        NEWS_ZH + "\n责任编辑：张三\n" + NEWS_ZH + "我要评论",
        NEWS_EN + "\nAdvertisement\nAdvertisement",
    ]
    step = RemoveBoilerplateLines(name="remove_boilerplate_lines")
    result = step.process(pl.DataFrame({"text": texts}))
    out = result.batch
    assert out["text"].to_list() == [texts[0], NEWS_ZH + "\n" + NEWS_ZH, NEWS_EN]
    assert out["boilerplate_lines_removed"].to_list() == [0, 1, 2]
    assert out["boilerplate_units_removed"].to_list() == [0, 1, 2]
    removed = [len(a) - len(b) for a, b in zip(texts, out["text"].to_list(), strict=True)]
    assert out["boilerplate_chars_removed"].to_list() == removed == [0, 12, 28]
    assert out[REASON_COLUMN].to_list() == [None, None, None]
    assert result.counters == {
        "lines_removed": 3,
        "units_removed": 3,
        "chars_removed": 40,
        "docs_changed": 2,
    }


def test_document_left_empty_is_rejected_with_its_text():
    texts = ["原标题：某某\n责任编辑：张三", "All rights reserved.", NEWS_EN]
    out = clean(texts)
    assert out[REASON_COLUMN].to_list() == [
        "remove_boilerplate_lines:empty",
        "remove_boilerplate_lines:empty",
        None,
    ]
    assert out["text"].to_list() == texts  # the rejected keep their original text


def test_whole_line_bytes_decides_line_or_sentence():
    line = "Click here for more. " + NEWS_EN  # 92 bytes
    assert cleaned(line) == NEWS_EN  # long line: only the matching sentence goes
    out = clean([line], whole_line_bytes=200)  # short line: the whole line goes
    assert out[REASON_COLUMN][0] == "remove_boilerplate_lines:empty"
    # a Chinese paragraph of 40 characters is 120 bytes: its news sentence stays
    assert cleaned(NEWS_ZH + "本文来源：新华社") == NEWS_ZH
    # a Chinese line of one short sentence goes whole
    assert cleaned(NEWS_EN + "\n来源：新华社 编辑：李四") == NEWS_EN


def test_languages_extra_patterns_and_exclusions():
    zh = NEWS_ZH + "\n责任编辑：张三"
    en = NEWS_EN + "\nAll rights reserved."
    assert cleaned(zh, languages=["en"]) == zh  # the zh list is off
    assert cleaned(en, languages=["en"]) == NEWS_EN
    assert cleaned(zh, languages=[]) == zh
    custom = NEWS_EN + "\nSponsored by ACME Corp\n" + NEWS_EN + " [ACME-TAG] end."
    out = cleaned(custom, extra_patterns=[r"^sponsored by \w+", r"cut: \s*\[ACME-TAG\]"])
    assert out == NEWS_EN + "\n" + NEWS_EN + " end."
    # a shipped pattern switched off by its exact text
    kept = cleaned(zh, exclude_patterns=[r"(?:责任编辑|责编|实习编辑|本文编辑|网络编辑)\s*[:：]"])
    assert kept == zh
    assert cleaned(NEWS_ZH + "我要评论", exclude_patterns=["cut: [ \\t　]*我要评论"]).endswith(
        "我要评论"
    )
    # case: on by default, off on request
    assert cleaned(NEWS_EN + "\nALL RIGHTS RESERVED") == NEWS_EN
    assert cleaned(NEWS_EN + "\nALL RIGHTS RESERVED", ignore_case=False).endswith("RESERVED")


def raw_recipe(tmp_path, config: dict) -> dict:
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": NEWS_EN}])
    return {
        "input": {"path": str(src)},
        "output": {"path": str(tmp_path / "out")},
        "steps": [{"remove_boilerplate_lines": config}],
    }


def test_pattern_files_from_a_recipe(tmp_path):
    patterns = tmp_path / "site.txt"
    patterns.write_text(
        "# our site's footer\n\n本站所有稿件均为原创\ncut: \\s*【本站独家】\n", encoding="utf-8"
    )
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"text": NEWS_ZH + "本站所有稿件均为原创，欢迎分享。"},
            {"text": "【本站独家】" + NEWS_ZH},
            {"text": NEWS_ZH},
        ],
    )
    raw = {
        "input": {"path": str(src)},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"workers": 1},
        "steps": [{"remove_boilerplate_lines": {"pattern_files": [str(patterns)]}}],
    }
    m = run_recipe(recipe_from_dict(raw)).manifest
    kept = pl.read_parquet(tmp_path / "out" / "data" / "*.parquet").sort("id")
    assert kept["text"].to_list() == [NEWS_ZH, NEWS_ZH, NEWS_ZH]
    ledger = {row["step"]: row for row in m["ledger"]}
    counters = ledger["0:remove_boilerplate_lines"]["counters"]
    assert counters["docs_changed"] == 2 and counters["units_removed"] == 1
    assert counters["chars_removed"] == len("本站所有稿件均为原创，欢迎分享。") + len(
        "【本站独家】"
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"extra_patterns": ["(unclosed"]}, r"invalid regex '\(unclosed' at extra_patterns\[0\]"),
        ({"extra_patterns": ["a*"]}, "matches the empty string"),
        ({"extra_patterns": ["cut:"]}, r"empty pattern at extra_patterns\[0\]"),
        ({"languages": ["fr"]}, "no shipped boilerplate list 'fr'; available: en, zh"),
        ({"pattern_files": ["/no/such/file.txt"]}, "pattern file '/no/such/file.txt' not found"),
        ({"exclude_patterns": ["not a shipped pattern"]}, "exclude_patterns: 'not a shipped"),
        ({"whole_line_bytes": -1}, "whole_line_bytes"),
        ({"no_such_key": 1}, "no_such_key: unknown key"),
    ],
)
def test_config_errors(tmp_path, config, message):
    with pytest.raises(RecipeError, match=message) as e:
        build_steps(recipe_from_dict(raw_recipe(tmp_path, config)))
    assert "steps[0] (remove_boilerplate_lines)" in str(e.value)


def test_bad_regex_in_a_file_names_pattern_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("# header\nfine pattern\n[unclosed class\n", encoding="utf-8")
    with pytest.raises(RecipeError) as e:
        build_steps(recipe_from_dict(raw_recipe(tmp_path, {"pattern_files": [str(bad)]})))
    assert f"invalid regex '[unclosed class' at {bad}:3" in str(e.value)


def test_shipped_lists_compile_and_are_commented():
    step = RemoveBoilerplateLines(name="x")
    patterns = step.patterns()
    origins = {p.origin.split(":")[0] for p in patterns}
    assert origins == {"boilerplate/zh.txt", "boilerplate/en.txt"}
    assert len(patterns) > 60 and any(p.cut for p in patterns)
    step.validate()


@pytest.mark.parametrize(
    ("regex", "branches"),
    [
        ("a|b(c|d)|e", ["a", "b(c|d)", "e"]),
        (
            r"a\|b|[|(]x|[]|]y|[^]|]z|[[:alpha:]|]w",
            [r"a\|b", "[|(]x", "[]|]y", "[^]|]z", "[[:alpha:]|]w"],
        ),
        (r"\\|\(|\[|c", [r"\\", r"\(", r"\[", "c"]),
        (r"\p{Han}|\x{41}", [r"\p{Han}", r"\x{41}"]),
        ("a|", ["a", ""]),
        # not split: a flag set to the end of the group, verbose mode, unbalanced
        ("(?-i)a|b", ["(?-i)a|b"]),
        ("(?x: a # (\n)|b", ["(?x: a # (\n)|b"]),
        ("(a|b", ["(a|b"]),
    ],
)
def test_top_branches(regex, branches):
    assert (top_branches(regex) or [regex]) == branches


def unit_hits(regexes: list[str], units: list[str]) -> list[bool]:
    frame = pl.DataFrame({"u": units})
    return frame.select(pl.any_horizontal([pl.col("u").str.contains(r) for r in regexes]))[
        :, 0
    ].to_list()


def test_unit_regexes_match_the_units_the_patterns_match():
    """Regrouped branches: the same units match as with one alternation per list and
    anchoring; the anchored English regex is anchored throughout and says \\W* once."""
    patterns = [p for p in RemoveBoilerplateLines(name="x").patterns() if not p.cut]
    words = sorted(
        {w for p in patterns for w in re.findall(r"[A-Za-z]+|[\u4e00-\u9fff]+|\d+", p.regex)}
    )
    seps = [" ", "", ": ", "：", " | ", "-", "…", ".", "!", "(", "(c)", "©", "\t", "、", "。", "ſ"]
    rnd = random.Random(16)
    units = [
        "".join(rnd.choice(seps) + rnd.choice(words) for _ in range(rnd.randint(1, 5)))
        + rnd.choice(["", " ", ".", " >>", "!!"])
        for _ in range(3000)
    ]
    units = [u.upper() if i % 5 == 0 else u for i, u in enumerate(units)]
    units += [t for case in ZH_CASES + EN_CASES for t in case[0].split("\n")]
    for lang in (("zh", "en"), ("en",)):
        chosen = [p for p in patterns if p.origin.split(":")[0].split("/")[1][:2] in lang]
        for ignore_case in (True, False):
            new = unit_regexes(chosen, ignore_case)
            expected = unit_hits(combine_groups(chosen, ignore_case), units)
            assert unit_hits(new, units) == expected
            assert 300 < sum(expected) < 2700
    english = unit_regexes([p for p in patterns if "en.txt" in p.origin], True)
    assert len(english) == 2 and english[0].startswith(r"(?i:^(?:(?:\W*(?:")
    assert english[0].count(r"\W") == 5 and "^" not in english[1]


def test_unit_regexes_keep_what_they_cannot_regroup():
    patterns = parse_patterns(
        "^\\W*a|b\n^\\W*c\\W*$\n^\\W*?d\n(?m)^e|f\n^\\s*g\n\\\\W*$h\\\\W*$\n", "t.txt"
    )
    assert unit_regexes(patterns, False) == [
        r"^(?:(?:\W*(?:(?:a)|(?:(?:(?:c))\W*$)))|(?:\W*?d)|(?:\s*g))",
        r"(?:b)|(?:(?m)^e|f)|(?:\\W*$h\\W*$)",
    ]
    units = ["a", " a", "xa", "b", "- c -", "c x", "d", "x\ne", "f", " g", r"\W$h\W", ""]
    assert unit_hits(unit_regexes(patterns, False), units) == unit_hits(
        combine_groups(patterns, False), units
    )
    # "(?-i)" reaches "b" too: the pattern stays whole, "b" unanchored and case-sensitive
    flagged = parse_patterns("^\\W*(?-i)a|b\n", "f.txt")
    assert unit_regexes(flagged, True) == [r"(?i:(?:^\W*(?-i)a|b))"]
    units = ["xb", "B", " a", "A", "x a"]
    assert unit_hits(unit_regexes(flagged, True), units) == [True, False, True, False, False]
    extra = collect_patterns("boilerplate", (), (), ("^foo|bar",), (), allow_cut=True)
    assert unit_regexes(extra, True) == ["(?i:^(?:(?:foo)))", "(?i:(?:bar))"]


# --- real data --------------------------------------------------------------------------

CNEWS_MARKERS = {
    "ZOL tag": r"(?i)【ZOL-七天在线 it7t\.com】",
    "我要评论": "我要评论",
    "hotline number": r"热线(?:电话)?\s*[:：]?\s*[0-9][0-9 \-]{6,}",
    "customer-service contact": r"客服(?:热线|电话|QQ|邮箱|邮件)\s*[:：]\s*\S",
    "QQ number": r"(?i)QQ群?\s*[:：]?\s*[0-9]{5,}",
    "reprint notice": "转载请注明",
}


def test_cnews_markers_gone_and_news_survives(tmp_path):
    cnews = needs_shared("cnews_subset") / "cnews.val.txt"
    original = pl.read_csv(
        cnews, separator="\t", has_header=False, new_columns=["label", "text"], quote_char=None
    )["text"]
    before = {k: int(original.str.contains(r).sum()) for k, r in CNEWS_MARKERS.items()}
    assert before["我要评论"] > 100 and before["ZOL tag"] >= 6 and before["hotline number"] > 5
    raw = {
        "input": {"path": str(cnews), "format": "labelled_text"},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"workers": 2},
        "steps": [
            {"ad_filter": {}},
            {"remove_boilerplate_lines": {}},
            {"remove_frequent_lines": {}},
        ],
    }
    m = run_recipe(recipe_from_dict(raw)).manifest
    kept = pl.read_parquet(tmp_path / "out" / "data" / "*.parquet")
    after = {k: int(kept["text"].str.contains(r).sum()) for k, r in CNEWS_MARKERS.items()}
    print(f"\ncnews markers before: {before}\ncnews markers in kept documents: {after}")
    assert after == dict.fromkeys(CNEWS_MARKERS, 0)

    removed = kept["boilerplate_chars_removed"] + kept["frequent_chars_removed"]
    lost = kept.with_columns(
        lost=removed / (kept["text"].str.len_chars() + removed), removed=removed
    ).sort("lost", descending=True)
    heavy = lost.filter(pl.col("lost") > 0.2)
    ledger = {row["step"]: row for row in m["ledger"]}
    print(
        f"kept {kept.height} of {m['totals']['read']}; boilerplate counters "
        f"{ledger['1:remove_boilerplate_lines']['counters']}; documents that lost >20% of "
        f"their characters: {heavy.height}"
    )
    for row in heavy.head(8).iter_rows(named=True):
        print(f"  {row['lost']:.0%} of {row['id'].rsplit(':', 1)[1]}: {row['text'][:60]}...")
    # real news survives: few documents lose more than a fifth, and none is emptied
    assert heavy.height <= 30
    assert lost["lost"].max() < 0.7
    assert m["totals"]["kept"] >= 900
    assert "remove_boilerplate_lines:empty" not in ledger["1:remove_boilerplate_lines"]["reasons"]
