"""convert_chinese: OpenCC conversions, the CJK prefilter, config validation, pickling."""

from __future__ import annotations

import pickle

import polars as pl
import pytest

from corpuskit.steps.convert_chinese import ConvertChinese, ConvertChineseConfig

pytest.importorskip("opencc")

CASES = [
    ("t2s", "繁體中文", "繁体中文"),
    ("t2s", "這是一個測試。Hello!", "这是一个测试。Hello!"),
    ("tw2s", "臺灣的軟體", "台湾的软体"),
    ("tw2sp", "臺灣的軟體", "台湾的软件"),
    ("s2t", "简体中文", "簡體中文"),
    ("s2tw", "台湾的软件", "臺灣的軟件"),
    ("s2twp", "台湾的软件", "臺灣的軟體"),
    ("hk2s", "香港電車", "香港电车"),
    ("t2s", "English only, 123.", "English only, 123."),
]


def make(config: str) -> ConvertChinese:
    step = ConvertChinese(ConvertChineseConfig(config=config), name="convert_chinese")
    step.validate()
    step.ensure_ready()
    return step


@pytest.mark.parametrize(("config", "text", "expected"), CASES)
def test_conversions(config: str, text: str, expected: str) -> None:
    df = pl.DataFrame({"id": ["1"], "text": [text]})
    assert make(config).process(df).batch["text"][0] == expected


def test_only_cjk_documents_and_counters() -> None:
    df = pl.DataFrame({"id": ["1", "2", "3", "4"], "text": ["繁體", "plain", None, "简体"]})
    result = make("t2s").process(df)
    assert result.batch["text"].to_list() == ["繁体", "plain", None, "简体"]
    assert result.counters == {"cjk_docs": 2, "changed_docs": 1}


def test_unknown_config_lists_valid_names() -> None:
    step = ConvertChinese(ConvertChineseConfig(config="x2y"))
    with pytest.raises(ValueError, match=r"unknown OpenCC config 'x2y'.*t2s"):
        step.validate()


def test_converter_is_not_pickled() -> None:
    step = make("t2s")
    clone = pickle.loads(pickle.dumps(step))
    assert "_converter" not in clone.__dict__
    clone.ensure_ready()
    df = pl.DataFrame({"id": ["1"], "text": ["臺灣"]})
    assert clone.process(df).batch["text"][0] == "台湾"
