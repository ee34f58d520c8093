"""garbled: unrepairable mojibake measured, documents over the threshold rejected, spans cut."""

from __future__ import annotations

import pickle

import polars as pl
import pytest
from pydantic import ValidationError

from corpuskit.schema import REASON_COLUMN
from corpuskit.steps.garbled import Garbled, GarbledConfig
from corpuskit.text.mojibake import GARBLED_RUN, repair_gbk_latin1
from tests.conftest import needs_shared

CLEAN = "新浪娱乐讯 今日，因主演的电影入围百花奖，她抵达大连。"
R = "garbled:too_garbled"
UU_LINE = "M" + "".join(chr(0x21 + (i * 7) % 64) for i in range(60))


def run(texts: list[str | None], **config) -> tuple[pl.DataFrame, dict[str, int]]:
    step = Garbled(GarbledConfig(**config), name="garbled")
    df = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    result = step.process(df)
    return result.batch, result.counters


@pytest.mark.parametrize(
    "run_text",
    [
        "\ufffd",
        "\ufffd\ufffd\ufffd",
        "锟斤拷锟斤拷",
        "?＃玻埃保蹦辏?",
        "玻埃保",
        "\ue40a",
        "\u00c3\u00a9\u00c3\u00a8\u00c3\u00a2",
        "ºÅÏß£ºÅ·ÖÞ",
        "鏜5覯t覯5覯8譥；髲|",
    ],
)
def test_each_kind_is_found(run_text):
    assert pl.Series([f"前文{run_text}后文"]).str.contains(GARBLED_RUN)[0]


@pytest.mark.parametrize(
    "clean",
    [
        CLEAN,
        "担保公司为上市公司提供16亿元融资担保。",
        "Ölçü ÇĞİÖŞÜ Ñandú, café déjà vu",
        "M" + "a" * 30,
        "2008年1月2日3时4分5秒，第1章第2节",
        "髮型設計師：陳1號、張2號",
        "特价促销·······电视购物价：1280元",
        "“正是他让我们有现在的统治力，”后卫德里克-费舍尔谈到拜纳姆时说。",
    ],
)
def test_clean_text_is_not_garbled(clean):
    assert not pl.Series([clean]).str.contains(GARBLED_RUN)[0]


def test_reject_over_threshold_and_remove_spans_below():
    garbled_doc = "\ufffd" * 40 + CLEAN
    one_lost = "徐若\ufffd入围百花影后" + CLEAN
    portal = "段落一\ue40a段落二" + CLEAN
    shifted = CLEAN + "?＃玻埃保蹦辏?" + CLEAN * 5
    uu = "begin 644 file.zip\n" + "\n".join([UU_LINE] * 20) + "\nend"
    texts = [CLEAN, garbled_doc, one_lost, portal, shifted, uu, None, ""]
    out, counters = run(texts)
    kept = dict(zip(out["id"].to_list(), out["text"].to_list(), strict=True))
    assert out[REASON_COLUMN].to_list() == [None, R, None, None, None, R, None, None]
    assert out.height == len(texts)
    ratio = out["garbled_ratio"].to_list()
    assert ratio[0] == 0 and ratio[6] == 0 and ratio[7] == 0
    assert ratio[1] > 0.05 and ratio[5] > 0.05
    assert kept["2"] == "徐若入围百花影后" + CLEAN
    assert kept["3"] == "段落一段落二" + CLEAN
    assert kept["4"] == CLEAN * 6
    assert out["garbled_chars"].to_list()[:5] == [0, 40, 1, 1, 8]
    assert counters["docs_rejected"] == 2
    assert counters["docs_cleaned"] == 3
    assert counters["chars_removed"] == 10


def test_rejections_carry_the_reason():
    step = Garbled(GarbledConfig(), name="garbled")
    df = pl.DataFrame({"id": ["a", "b"], "text": [CLEAN, "\ufffd" * 10 + "好"]})
    result = step.process(df)
    assert result.batch[REASON_COLUMN].to_list() == [None, R]


def test_options():
    doc = "徐若\ufffd入围" + CLEAN
    out, counters = run([doc], remove_spans=False)
    assert out["text"][0] == doc
    assert counters["docs_flagged"] == 1
    out, _ = run([doc], kinds=["private_use"])
    assert out["text"][0] == doc and out["garbled_chars"][0] == 0
    out, _ = run(["\ufffd" + "好" * 9], max_ratio=0.2)
    assert out["garbled_ratio"][0] == pytest.approx(0.1)
    with pytest.raises(ValidationError):
        GarbledConfig(kinds=[])
    with pytest.raises(ValidationError):
        GarbledConfig(kinds=["nonsense"])
    step = pickle.loads(pickle.dumps(Garbled(GarbledConfig(), name="garbled")))
    assert step.name == "garbled"


def test_gbk_latin1_repair_leaves_latin_text():
    assert repair_gbk_latin1("ÄÏ·ÇÓÖ³öÐÂ¼Û DURBAN") == "南非又出新价 DURBAN"
    assert repair_gbk_latin1("naïve déjà vu, Ölçü") == "naïve déjà vu, Ölçü"


def test_cnews_clean_documents_are_kept():
    path = needs_shared("cnews_subset/cnews.val.txt")
    lines = [ln.split("\t", 1)[-1] for ln in path.read_text(encoding="utf-8").splitlines()]
    _, counters = run(lines)
    assert counters["docs_rejected"] == 0
    assert counters["docs_cleaned"] == 3  # two U+FFFD, one private-use bullet line
