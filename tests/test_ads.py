"""ad_filter: signal counts, the score, config, and the calibration on real corpora."""

from __future__ import annotations

import polars as pl
import pytest

from corpuskit.engine.stages import build_steps
from corpuskit.recipe import RecipeError, recipe_from_dict
from corpuskit.schema import REASON_COLUMN
from corpuskit.steps.ad_filter import COMPONENTS, DEFAULT_WEIGHTS, AdFilter, AdFilterConfig
from tests.conftest import needs_shared, write_jsonl

SIGNAL_COLUMNS = [f"ad_{k}" for k in COMPONENTS]


def scored(texts: list[str], **config) -> pl.DataFrame:
    step = AdFilter(AdFilterConfig(**config), name="ad_filter")
    return step.process(pl.DataFrame({"text": texts})).batch


# (text, expected signal counts in COMPONENTS order: promo url phone contact tag exclaim price)
CASES = [
    (
        "特价促销！！客服QQ：12345678，电话13800138000，访问www.example.com，"
        "仅售99元【ZOL-七天在线 it7t.com】",
        [3, 2, 1, 2, 1, 1, 1],
    ),
    (
        "Buy now!!! Free shipping on all orders, call 1-800-555-0199 or visit "
        "http://cheap-deals.example.com today. Only $19.99!",
        [2, 1, 1, 0, 0, 1, 1],
    ),
    ("限时抢购，免费领取大礼包！详情请咨询客服热线：400-8131988", [5, 0, 1, 2, 0, 0, 0]),
    ("[参考价格] 1750元送配件 [商家电话] 010-82660780 微信：shop2024", [0, 0, 1, 1, 2, 0, 1]),
    ("The central bank raised interest rates by a quarter point on Tuesday.", [0] * 7),
    ("国务院今天召开常务会议，研究部署进一步扩大内需促进经济增长的措施。", [0] * 7),
    # finance figures are not prices of goods: "4万亿元", "587.76万元"
    ("4万亿元投资计划落地，公司计提了587.76万元的预计负债。", [0] * 7),
]


@pytest.mark.parametrize(("text", "counts"), CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_signal_counts(text, counts):
    out = scored([text])
    assert out.select(SIGNAL_COLUMNS).row(0) == tuple(counts)
    weighted = sum(w * n for w, n in zip(DEFAULT_WEIGHTS.values(), counts, strict=True))
    assert out["ad_score"][0] == pytest.approx(weighted * 1000 / max(len(text), 500), abs=1e-3)


def test_score_threshold_and_reason():
    texts = [CASES[0][0], CASES[1][0], CASES[4][0]]
    out = scored(texts)
    assert out["ad_score"].to_list() == [26.0, 11.0, 0.0]
    assert out[REASON_COLUMN].to_list() == ["ad_filter:ad_score", "ad_filter:ad_score", None]
    assert scored(texts, threshold=20)[REASON_COLUMN].to_list() == [
        "ad_filter:ad_score",
        None,
        None,
    ]
    # density: the same promo block in a long article scores low
    long = CASES[0][0] + "。" + "国务院今天召开常务会议，研究部署经济工作。" * 80
    assert scored([long])["ad_score"][0] < 10


def test_weights_min_chars_and_lists():
    text = CASES[1][0]  # 119 characters
    assert scored([text], weights={"phone": 0, "exclaim": 0})["ad_score"][0] == pytest.approx(
        (2 * 0.5 + 1 + 0.5) * 1000 / 500
    )
    assert scored([text], min_chars=100)["ad_score"][0] == pytest.approx(
        5.5 * 1000 / len(text), abs=1e-3
    )
    assert scored([text], languages=[])["ad_promo"][0] == 0
    assert scored([text], languages=["zh"])["ad_promo"][0] == 0
    assert (
        scored(
            [text],
            exclude_terms=[
                r"\bfree (?:shipping|delivery|trial|gift|quote|consultation|download|sample)s?\b"
            ],
        )["ad_promo"][0]
        == 1
    )
    assert (
        scored(["Totally legit offer from Acme Widgets"], extra_terms=["acme widgets"])["ad_promo"][
            0
        ]
        == 1
    )


def test_terms_from_a_file_in_a_recipe(tmp_path):
    terms = tmp_path / "terms.txt"
    terms.write_text("# house brands\nacme widgets\n超级大卖场\n", encoding="utf-8")
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    raw = {
        "input": {"path": str(src)},
        "output": {"path": str(tmp_path / "out")},
        "steps": [{"ad_filter": {"term_files": [str(terms)], "languages": []}}],
    }
    (entry,) = build_steps(recipe_from_dict(raw))
    out = entry.step.process(pl.DataFrame({"text": ["Acme Widgets 超级大卖场 ACME WIDGETS"]})).batch
    assert out["ad_promo"][0] == 3


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"extra_terms": ["(unclosed"]}, r"invalid regex '\(unclosed' at extra_terms\[0\]"),
        ({"weights": {"spam": 1}}, "unknown signal 'spam'"),
        ({"weights": {"url": -1}}, "weights must be >= 0"),
        ({"threshold": -1}, "threshold"),
        ({"languages": ["xx"]}, "no shipped ads list 'xx'"),
        ({"exclude_terms": ["nope"]}, "exclude_terms: 'nope' is in none"),
        ({"term_files": ["/no/such/terms.txt"]}, "not found"),
    ],
)
def test_config_errors(tmp_path, config, message):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    raw = {
        "input": {"path": str(src)},
        "output": {"path": str(tmp_path / "out")},
        "steps": [{"ad_filter": config}],
    }
    with pytest.raises(RecipeError, match=message):
        build_steps(recipe_from_dict(raw))


# --- calibration on real corpora -----------------------------------------------------------

AD_HEAVY_LABELS = {"游戏", "科技", "教育", "房产"}  # game promotions, dealer listings, agencies


def test_calibration_on_cnews_and_ag_news():
    corpora = needs_shared("cnews_subset").parent
    cnews = pl.read_csv(
        corpora / "cnews_subset" / "cnews.val.txt",
        separator="\t",
        has_header=False,
        new_columns=["label", "text"],
        quote_char=None,
    )
    ag = pl.read_csv(
        corpora / "ag_news" / "test.csv", has_header=False, new_columns=["label", "title", "desc"]
    ).select(text=pl.col("title") + "\n" + pl.col("desc"))
    c = scored(cnews["text"].to_list()).with_columns(label=cnews["label"])
    a = scored(ag["text"].to_list())
    rejected = c.filter(pl.col(REASON_COLUMN).is_not_null())
    by_label = dict(rejected.group_by("label").len().sort("len", descending=True).iter_rows())
    print(
        f"\ncnews: {rejected.height}/{c.height} rejected by label {by_label}; "
        f"ag_news: {a[REASON_COLUMN].is_not_null().sum()}/{a.height} rejected, "
        f"max score {a['ad_score'].max():.1f} (threshold 10)"
    )
    for row in rejected.sort("ad_score").head(3).iter_rows(named=True):
        print(f"  lowest rejected {row['ad_score']:.1f} {row['label']}: {row['text'][:50]}")
    # English news is never taken for an ad, with a margin
    assert a[REASON_COLUMN].is_not_null().sum() == 0
    assert a["ad_score"].max() <= 8.0
    # the cnews ad-heavy documents (game promotions with contact blocks, dealer listings)
    # go; politics, sports, finance, entertainment and fashion news is all kept
    assert 60 <= rejected.height <= 100
    assert set(by_label) <= AD_HEAVY_LABELS and by_label["游戏"] >= 30 and by_label["科技"] >= 25
    # nearly every rejected document carries contact or dealer signals, not only promo words
    contacts = pl.sum_horizontal("ad_url", "ad_phone", "ad_contact", "ad_tag")
    promo_only = rejected.filter(contacts == 0)
    for row in promo_only.iter_rows(named=True):
        print(f"  rejected on promo terms and prices only: {row['text'][:50]}")
    assert promo_only.height <= 2
