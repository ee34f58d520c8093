"""Chat fine-tuning in the GPT plugin: the ChatML template, the assistant-only loss, the
`chat_messages` recipe step, and a fine-tuning run from a pretrained run folder."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("corpuskit_gpt")

from corpuskit_gpt.chat import (  # noqa: E402
    CHATML_TEMPLATE,
    IM_END,
    IM_START,
    encode_conversations,
    render,
    with_chat_tokens,
)
from corpuskit_gpt.model import CausalLM, build_model  # noqa: E402
from corpuskit_gpt.tokenizer import load_tokenizer, save_tokenizer, train_bpe  # noqa: E402

from corpuskit.engine.run import run_recipe  # noqa: E402
from corpuskit.recipe import recipe_from_dict  # noqa: E402
from corpuskit.training.base import validate_config  # noqa: E402
from corpuskit.training.launch import load_run, run_training  # noqa: E402
from tests.conftest import write_jsonl  # noqa: E402
from tests.test_gpt_plugin import TINY, make_docs  # noqa: E402
from tests.test_serving import conversations  # noqa: E402

CONVERSATION = [
    {"role": "system", "content": "Be brief. 简洁。"},
    {"role": "user", "content": "the king said 你好"},
    {"role": "assistant", "content": "the queen 王后 saw\nhim"},
    {"role": "user", "content": "again"},
    {"role": "assistant", "content": "a lord"},
]


def chat_tokenizer(folder: Path):
    texts = [d["text"] for d in make_docs(50)] + ["你好王后简洁"]
    tok = with_chat_tokens(train_bpe(lambda: [texts], 400, 2))
    save_tokenizer(tok, folder, 64, CHATML_TEMPLATE)
    return tok


def test_the_template_is_transformers_chat_template_with_the_same_assistant_mask(tmp_path):
    from transformers import AutoTokenizer

    tok = chat_tokenizer(tmp_path)
    assert tok.token_to_id(IM_START) == tok.get_vocab_size() - 2
    hf = AutoTokenizer.from_pretrained(tmp_path)
    assert hf.apply_chat_template(CONVERSATION, tokenize=False) == render(CONVERSATION)[0]
    prompt = hf.apply_chat_template(CONVERSATION[:2], tokenize=False, add_generation_prompt=True)
    assert prompt == render(CONVERSATION[:2], add_generation_prompt=True)[0]
    assert prompt.endswith(f"{IM_START}assistant\n")
    out = hf.apply_chat_template(
        CONVERSATION, return_assistant_tokens_mask=True, return_dict=True, tokenize=True
    )
    ids, mask = next(encode_conversations(load_tokenizer(tmp_path), [CONVERSATION]))
    assert out["input_ids"] == ids and out["assistant_masks"] == mask
    # the masked tokens are the two replies and their end-of-turn tokens, nothing else
    learnt = [t for t, m in zip(ids, mask, strict=True) if m]
    assert (
        tok.decode(learnt, skip_special_tokens=False)
        == f"the queen 王后 saw\nhim{IM_END}a lord{IM_END}"
    )


def test_the_masked_loss_is_the_cross_entropy_of_the_masked_tokens_only():
    cfg = validate_config({**TINY, "block_size": 16})
    lm = CausalLM(build_model(cfg, 50, 0)).eval()
    x = torch.randint(0, 50, (3, 16), generator=torch.Generator().manual_seed(0))
    mask = torch.zeros_like(x, dtype=torch.bool)
    mask[0, 5:9] = mask[2, 12:] = True
    logits = lm.logits(x)[:, :-1]
    ce = torch.nn.functional.cross_entropy(
        logits.reshape(-1, 50), x[:, 1:].reshape(-1), reduction="none"
    )
    expected = ce[mask[:, 1:].reshape(-1)].mean()
    assert torch.allclose(lm(x, mask), expected, atol=1e-6)
    assert torch.allclose(lm(x, torch.ones_like(mask)), lm(x), atol=1e-6)
    assert lm(x, torch.zeros_like(mask)).item() == 0.0  # nothing to learn, no NaN


def test_chat_messages_builds_conversations_and_accounts_for_every_document(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    rows = [f"English {i}.\t中文{i}。\tattr" for i in range(200)] + [
        "Only English.\t\tattr",
        "\t没有英文。\tattr",
    ]
    pairs.write_text("\n".join(rows) + "\n", encoding="utf-8")
    news = tmp_path / "news.labelled.txt"
    news.write_text(
        "体育\t湖人赢球了，这是一条很长的体育新闻。\n科技\t手机发布。\n", encoding="utf-8"
    )
    other = write_jsonl(tmp_path / "other.jsonl", [{"text": "no task matches this file"}])
    recipe = recipe_from_dict(
        {
            "input": [
                {
                    "path": str(pairs),
                    "format": "tsv",
                    "columns": ["en", "zh", "a"],
                    "text_field": "zh",
                },
                {"path": str(news), "format": "labelled_text"},
                {"path": str(other)},
            ],
            "output": {"path": str(tmp_path / "out")},
            "executor": {"workers": 1},
            "steps": [
                {
                    "chat_messages": {
                        "system": "You are helpful.",
                        "tasks": [
                            {
                                "name": "translate",
                                "source": r"pairs\.tsv",
                                "keep": 0.5,
                                "variants": [
                                    {"user": "To Chinese: {en}", "assistant": "{text}"},
                                    {"user": "To English: {text}", "assistant": "{en}"},
                                ],
                            },
                            {
                                "source": "news",
                                "system": "You label news.",
                                "variants": [{"user": "Topic? {text:.4}", "assistant": "{label}"}],
                            },
                        ],
                    }
                }
            ],
        }
    )
    run_recipe(recipe)
    kept = pl.read_parquet(tmp_path / "out" / "data")
    rejected = pl.read_parquet(tmp_path / "out" / "rejected")
    assert kept.height + rejected.height == 205
    reasons = dict(rejected.group_by("reason").len().iter_rows())
    assert reasons["chat_messages:no_task"] == 1
    assert reasons["read:empty_text"] == 1  # the pair without Chinese (the text)
    assert reasons["chat_messages:missing_field"] == 1  # the pair without English
    assert 70 < reasons["chat_messages:sampled_out"] < 130  # keep: 0.5
    assert kept.schema["messages"] == pl.List(pl.Struct({"role": pl.String, "content": pl.String}))
    news_rows = kept.filter(pl.col("task") == "news")
    assert news_rows["messages"].to_list()[0] == [
        {"role": "system", "content": "You label news."},
        {"role": "user", "content": "Topic? 湖人赢球"},
        {"role": "assistant", "content": "体育"},
    ]
    users = [m[1]["content"] for m in kept.filter(pl.col("task") == "translate")["messages"]]
    to_zh = [u for u in users if u.startswith("To Chinese: English ")]
    to_en = [u for u in users if u.startswith("To English: 中文")]
    assert to_zh and to_en and len(to_zh) + len(to_en) == len(users)  # both variants used
    # which documents a task keeps is independent of the train/val/test split
    from corpuskit.training import SplitConfig, assign_split

    split = assign_split(kept["id"], SplitConfig(val=0.3, test=0.0))
    assert 0.15 < (split == "val").mean() < 0.45


def test_a_bad_template_is_refused_before_anything_runs(tmp_path):
    from corpuskit.engine.stages import build_steps
    from corpuskit.recipe import RecipeError

    with pytest.raises(RecipeError, match=r"variants\[0\].user.*\{f:\.N\}"):
        build_steps(
            recipe_from_dict(
                {
                    "input": {"path": "x.jsonl"},
                    "output": {"path": str(tmp_path)},
                    "steps": [
                        {
                            "chat_messages": {
                                "tasks": [
                                    {
                                        "source": "x",
                                        "variants": [{"user": "{text:>5}", "assistant": "{text}"}],
                                    }
                                ]
                            }
                        }
                    ],
                }
            )
        )


@pytest.fixture(scope="module")
def chat_corpus(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sft")
    rows = conversations(400, seed=1)
    for r in rows:  # prompt/completion columns too, for the pair form
        r["prompt"] = r["messages"][-2]["content"]
        r["completion"] = r["messages"][-1]["content"]
    src = write_jsonl(tmp / "chat.jsonl", rows)
    run_recipe(
        recipe_from_dict(
            {
                "input": {"path": str(src), "id_field": "id"},
                "output": {"path": str(tmp / "out")},
                "executor": {"workers": 1},
            }
        )
    )
    return tmp / "out"


@pytest.mark.slow
def test_fine_tuning_a_pretrained_run_on_conversations(chat_corpus, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    docs = write_jsonl(tmp_path / "docs.jsonl", make_docs(300))
    run_recipe(
        recipe_from_dict(
            {
                "input": {"path": str(docs), "id_field": "id"},
                "output": {"path": str(tmp_path / "docs")},
                "executor": {"workers": 1},
            }
        )
    )
    common = {**TINY, "tokenizer": "bpe", "vocab_size": 300, "block_size": 48, "bleu_docs": 0}
    base = tmp_path / "base"
    run_training(validate_config({**common, "data": str(tmp_path / "docs"), "run_dir": str(base)}))
    base_vocab = load_tokenizer(base / "model").get_vocab_size()
    sft = tmp_path / "sft"
    cfg = {
        **common,
        "data": str(chat_corpus),
        "run_dir": str(sft),
        "init_from": str(base),  # a run folder stands for its model/
        "messages_field": "messages",
        "max_iters": 60,
        "eval_interval": 20,
        "reply_checks": 10,
    }
    summary = run_training(validate_config(cfg))
    tok = load_tokenizer(sft / "model")
    assert tok.token_to_id(IM_START) == base_vocab and tok.token_to_id(IM_END) == base_vocab + 1
    config = json.loads((sft / "model" / "tokenizer_config.json").read_text())
    assert config["chat_template"] == CHATML_TEMPLATE
    assert 0.0 <= summary["test_end_of_turn_share"] <= 1.0 and summary["test_replies"] > 0
    assert "test_content_loss" in summary and (sft / "samples.txt").read_text().startswith("###")

    # the fine-tuned model beats the base model (with its new rows) on held-out assistant tokens
    trainer, corpus = load_run(sft)
    tuned = trainer.evaluate(corpus, sft, ("test",), samples=0)
    from corpuskit_gpt.chat_data import ChatShards
    from corpuskit_gpt.dist import setup

    shards = ChatShards.open(Path(json.loads((sft / "tokens.json").read_text())["path"]))
    env = setup(trainer.config)
    start = build_model(trainer.config, tok.get_vocab_size(), 0, base / "model")
    before = shards.metrics(CausalLM(start), "test", 48, 8, None, env)
    assert tuned["test_loss"] < before["loss"] - 1.0
    assert tuned["test_content_loss"] < before["content_loss"]

    # transformers loads it and stops at the end of the turn
    model = AutoModelForCausalLM.from_pretrained(sft / "model")
    hf = AutoTokenizer.from_pretrained(sft / "model")
    assert model.get_input_embeddings().weight.shape[0] == base_vocab + 2
    assert model.generation_config.eos_token_id == [0, base_vocab + 1]
    inputs = hf.apply_chat_template(
        [{"role": "user", "content": "repeat: the king"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    room = 48 - inputs["input_ids"].shape[1]
    out = model.generate(**inputs, max_new_tokens=room, do_sample=False)
    assert out.shape[1] <= 48

    # the prompt/completion form of the same data
    pairs = {**cfg, "run_dir": str(tmp_path / "pairs"), "messages_field": None}
    pairs.update(prompt_field="prompt", completion_field="completion", max_iters=3, reply_checks=0)
    summary = run_training(validate_config(pairs))
    assert summary["steps"] == 3 and summary["test_loss"] > 0


def test_chat_keys_are_validated():
    with pytest.raises(Exception, match="prompt_field and completion_field go together"):
        validate_config({**TINY, "prompt_field": "p"})
    with pytest.raises(Exception, match="not both"):
        validate_config(
            {**TINY, "messages_field": "m", "prompt_field": "p", "completion_field": "c"}
        )


def test_the_chat_sft_recipe_fine_tunes_the_news_gpt_on_the_instruction_set():
    import yaml

    root = Path(__file__).resolve().parents[1]
    cfg = validate_config(yaml.safe_load((root / "recipes" / "chat-sft.yaml").read_text()))
    news = yaml.safe_load((root / "recipes" / "news-gpt.yaml").read_text())
    instructions = yaml.safe_load((root / "recipes" / "chat-instructions.yaml").read_text())
    assert cfg.chat and cfg.messages_field == "messages"
    assert cfg.init_from == news["run_dir"] and cfg.data == instructions["output"]["path"]
    assert cfg.block_size == news["block_size"]  # the base model's context
