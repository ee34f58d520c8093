"""spacy_label: entities from the shipped patterns, counts, routing by language, config checks."""

from __future__ import annotations

import json
import pickle

import polars as pl
import pytest

from corpuskit.engine.run import run_recipe
from corpuskit.engine.stages import build_steps
from corpuskit.labelling import patterns as pattern_sets
from corpuskit.labelling.pipelines import build_pipeline
from corpuskit.recipe import RecipeError, recipe_from_dict
from corpuskit.steps.spacy_label import LABELS, SpacyLabel, SpacyLabelConfig
from tests.conftest import write_jsonl

EN = (
    "Shares of Google Inc. rose 3.5% to $10.5 million on Jan. 5, 2004, the Bank of England "
    "said. Write to news@example.com or see www.example.com before 5 p.m. in New York."
)
EN_ENTITIES = [
    ("Google Inc.", "ORG", 10, 21),
    ("3.5%", "PERCENT", 27, 31),
    ("$10.5 million", "MONEY", 35, 48),
    ("Jan. 5, 2004", "DATE", 52, 64),
    ("Bank of England", "ORG", 70, 85),
    ("news@example.com", "EMAIL", 101, 117),
    ("www.example.com", "URL", 125, 140),
    ("5 p.m.", "TIME", 148, 154),
    ("New York", "GPE", 158, 166),
]
ZH = (
    "2008年5月12日下午2点30分，阿里巴巴集团在北京市宣布投资100万元，增长了百分之三十。"
    "联系邮箱 abc@sina.com.cn 。"
)
ZH_ENTITIES = [
    ("2008年5月12日", "DATE", 0, 10),
    ("下午2点30分", "TIME", 10, 17),
    ("阿里巴巴集团", "ORG", 18, 24),
    ("北京市", "GPE", 25, 28),
    ("100万元", "MONEY", 32, 37),
    ("百分之三十", "PERCENT", 41, 46),
    ("abc@sina.com.cn", "EMAIL", 52, 67),
]


@pytest.fixture(scope="module")
def default_step() -> SpacyLabel:
    step = SpacyLabel(SpacyLabelConfig(), name="spacy_label")
    step.validate()
    step.ensure_ready()
    return step


def label(step: SpacyLabel, texts: list[str], langs: list[str | None] | None = None) -> list:
    frame = {"id": [str(i) for i in range(len(texts))], "text": texts}
    if langs is not None:
        frame["lang"] = langs
    out = step.process(pl.DataFrame(frame, schema_overrides={"lang": pl.String})).batch
    assert out.schema["labels"] == LABELS
    assert out.columns[-1] == "labels" and out.height == len(texts)
    return out["labels"].to_list()


def ents(row: dict) -> list[tuple]:
    return [(e["text"], e["label"], e["start"], e["end"]) for e in row["entities"]]


def test_shipped_patterns_pass_spacys_schema_and_compile():
    for name in ("common", "en", "zh"):
        found = list(pattern_sets.shipped(name))
        assert len(found) >= 6
        pattern_sets.validate_token_patterns(found, name)
    labels = {p["label"] for p in pattern_sets.shipped_for("en")}
    assert {"ORG", "GPE", "LOC", "MONEY", "DATE", "TIME", "PERCENT", "EMAIL", "URL"} <= labels


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_few_python_predicates_on_first_tokens(lang):
    """The Matcher runs a first token's REGEX/IN predicates at every token: keep them few."""
    first = {
        json.dumps([k, v], sort_keys=True)
        for p in pattern_sets.shipped_for(lang)
        if isinstance(p["pattern"], list)
        for k, v in p["pattern"][0].items()
        if isinstance(v, dict)
    }
    assert len(first) <= 10, sorted(first)


def test_english_entities_counts_and_offsets(default_step):
    (row,) = label(default_step, [EN], ["en"])
    assert ents(row) == EN_ENTITIES
    assert all(EN[s:e] == t for t, _, s, e in ents(row))
    assert row["lang"] == "en" and row["sentences"] == 2 and row["tokens"] == 36
    assert row["class"] is None and row["score"] is None


def test_chinese_entities_with_jieba(default_step):
    (row,) = label(default_step, [ZH], ["zh"])
    assert ents(row) == ZH_ENTITIES
    # jieba words, not characters; the dots of the e-mail address do not end sentences
    assert row["tokens"] == 35 and row["sentences"] == 2


def test_numbers_next_to_money_stay_apart(default_step):
    (row,) = label(default_step, ["It cost €30 million 12 cents."], ["en"])
    assert [e[:2] for e in ents(row)] == [("€30 million", "MONEY"), ("12 cents", "MONEY")]
    (row,) = label(default_step, ["百分之三十 三千万元 30％ 上涨了2个百分点"], ["zh"])
    assert [e[:2] for e in ents(row)] == [
        ("百分之三十", "PERCENT"),
        ("三千万元", "MONEY"),
        ("30％", "PERCENT"),
        ("2个百分点", "PERCENT"),
    ]


def test_common_words_are_not_places(default_step):
    (row,) = label(default_step, ["他去超市买菜，股市上涨，城市很大，上市公司很多。"], ["zh"])
    assert ents(row) == []
    (row,) = label(default_step, ["May I help? The turkey was good."], ["en"])
    assert ents(row) == []


def test_sentences_ignore_trailing_whitespace_and_empty_text(default_step):
    rows = label(default_step, ["Hello there.  \n\nNew para! Another one?  \n", ""], ["en", "en"])
    assert [(r["sentences"], r["tokens"]) for r in rows] == [(3, 9), (0, 0)]


def test_routing_by_language_and_fallback(default_step):
    texts = ["北京市很大。", "北京市很大。", "Paris is big.", "Paris is big.", "Paris is big."]
    rows = label(default_step, texts, ["zh", "zh-CN", "fr", None, "en"])
    assert [r["lang"] for r in rows] == ["zh", "zh", "en", "en", "en"]
    assert ents(rows[1]) == [("北京市", "GPE", 0, 3)]
    assert ents(rows[2]) == [("Paris", "GPE", 0, 5)]
    # no lang column at all: everything goes to the fallback
    assert [r["lang"] for r in label(default_step, ["北京市很大。"])] == ["en"]


def test_fallback_null_leaves_other_languages_unlabelled():
    step = SpacyLabel(SpacyLabelConfig(pipelines={"zh": "blank"}, fallback=None), name="s")
    step.ensure_ready()
    batch = pl.DataFrame(
        {"id": ["a", "b", "c"], "text": ["北京市很大。", "Paris is big.", "Paris"]}
    )
    result = step.process(batch.with_columns(lang=pl.Series(["zh", "en", None])))
    rows = result.batch["labels"].to_list()
    assert rows[0]["lang"] == "zh" and rows[0]["sentences"] == 1
    assert rows[1] is None and rows[2] is None
    assert result.counters == {
        "docs_labelled": 1,
        "docs_unlabelled": 2,
        "entities": 1,
        "pipeline:zh": 1,
    }


def test_recipe_patterns_inline_and_from_file(tmp_path):
    extra = tmp_path / "products.jsonl"
    extra.write_text(
        "# our products\n"
        '{"label": "PRODUCT", "pattern": "Widget Pro"}\n'
        '{"label": "PRODUCT", "pattern": [{"LOWER": "gizmo"}, {"IS_DIGIT": true}]}\n',
        encoding="utf-8",
    )
    config = SpacyLabelConfig(
        pipelines={"en": "blank"},
        entities=False,
        patterns={"all": [str(extra)], "en": [{"label": "ORG", "pattern": "Acme"}]},
    )
    step = SpacyLabel(config, name="s")
    step.validate()
    step.ensure_ready()
    (row,) = label(step, ["Acme sells the Widget Pro and gizmo 3 in Paris."], ["en"])
    # entities: false drops the shipped sets (Paris), the recipe's own still apply
    assert ents(row) == [
        ("Acme", "ORG", 0, 4),
        ("Widget Pro", "PRODUCT", 15, 25),
        ("gizmo 3", "PRODUCT", 30, 37),
    ]


@pytest.mark.parametrize(
    ("step_config", "message"),
    [
        ({"pipelines": {"en": "en_core_web_sm"}}, "python -m spacy download en_core_web_sm"),
        ({"pipelines": {"en": "./no/such/model"}}, "not a spaCy pipeline folder"),
        ({"pipelines": {"qq": "blank"}, "fallback": None}, "no blank pipeline for language 'qq'"),
        ({"fallback": "de"}, "fallback 'de' is not one of the pipelines"),
        ({"patterns": {"de": []}}, "patterns: no pipeline for de"),
        ({"patterns": [{"label": "X", "pattern": [{"NOPE": 1}]}]}, "NOPE"),
        ({"patterns": [{"label": "X", "pattern": [{"TEXT": {"REGEX": "\\p{Han}"}}]}]}, "REGEX"),
        ({"patterns": ["missing.jsonl"]}, "pattern file 'missing.jsonl' not found"),
        ({"patterns": [{"label": "", "pattern": "x"}]}, "label"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_configs_fail_validation_with_a_clear_message(tmp_path, step_config, message):
    raw = {
        "input": {"path": str(write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}]))},
        "output": {"path": str(tmp_path / "out")},
        "steps": [{"spacy_label": step_config}],
    }
    with pytest.raises(RecipeError, match=r"steps\[0\] \(spacy_label\)") as err:
        build_steps(recipe_from_dict(raw))
    assert message in str(err.value)


def test_step_pickles_without_its_pipelines(default_step):
    blob = pickle.dumps(default_step)
    assert len(blob) < 5_000
    clone = pickle.loads(blob)
    assert not clone._ready and not hasattr(clone, "_pipelines")


def test_build_pipeline_keeps_existing_components_and_adds_the_rest():
    nlp = build_pipeline("en", "blank")
    assert nlp.pipe_names == ["sentencizer", "corpuskit_entities"]
    nlp = build_pipeline("en", "blank", entities=False)
    assert nlp.pipe_names == ["sentencizer"]


def test_recipe_run_labels_every_document(tmp_path):
    rows = [
        {"id": "en1", "text": EN},
        {"id": "zh1", "text": ZH},
        {"id": "en2", "text": "Microsoft Corp. opened an office in Shanghai on Monday."},
    ]
    src = write_jsonl(tmp_path / "docs.jsonl", rows)
    raw = {
        "input": {"path": str(src), "id_field": "id"},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"workers": 1},
        "steps": [{"language": {}}, {"spacy_label": {"batch_size": 2}}],
    }
    manifest = run_recipe(recipe_from_dict(raw)).manifest
    assert manifest["totals"]["kept"] == 3
    out = pl.read_parquet(tmp_path / "out" / "data").sort("id")
    assert out.schema["labels"] == LABELS
    by_id = dict(zip(out["id"].to_list(), out["labels"].to_list(), strict=True))
    assert ents(by_id["en1"]) == EN_ENTITIES
    assert ents(by_id["zh1"]) == ZH_ENTITIES and by_id["zh1"]["lang"] == "zh"
    assert [e[:2] for e in ents(by_id["en2"])] == [
        ("Microsoft Corp.", "ORG"),
        ("Shanghai", "GPE"),
        ("Monday", "DATE"),
    ]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert "labels" in manifest["schema"]
    (entry,) = [e for e in manifest["ledger"] if e["step"].endswith("spacy_label")]
    assert entry["counters"] == {
        "docs_labelled": 3,
        "docs_unlabelled": 0,
        "entities": len(EN_ENTITIES) + len(ZH_ENTITIES) + 3,
        "pipeline:en": 2,
        "pipeline:zh": 1,
    }


@pytest.mark.slow
def test_n_process_pool_gives_the_same_labels(default_step):
    """Two pool processes, each loading the pipelines once, give the in-process result."""
    texts = [EN, ZH, "Paris is big.", "", "北京市很大。"] * 4
    langs = ["en", "zh", "fr", "en", "zh"] * 4
    expected = label(default_step, texts, langs)
    step = SpacyLabel(SpacyLabelConfig(n_process=2, batch_size=3), name="s")
    step.ensure_ready()
    assert label(step, texts, langs) == expected
    assert label(step, texts[:3], langs[:3]) == expected[:3]  # the pool is reused
    step._pool.shutdown()
