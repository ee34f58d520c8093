"""The trainer interface: split, configs, the corpus reader, launching, and the CLI.

A toy trainer (a character unigram model, no torch) registered through a real entry
point drives the commands end to end.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from pydantic import Field, ValidationError

from corpuskit import registry
from corpuskit.cli import main
from corpuskit.engine.run import run_recipe
from corpuskit.recipe import recipe_from_dict
from corpuskit.training import (
    CorpusData,
    SplitConfig,
    TrainConfigError,
    Trainer,
    TrainerConfig,
    assign_split,
    load_train_config,
    parse_overrides,
)
from corpuskit.training.collate import Ragged
from corpuskit.training.launch import (
    LaunchOptions,
    rank_environment,
    threads_per_rank,
    torchrun_command,
)
from corpuskit.training.split import split_positions
from tests.conftest import ROOT, corpuskit_cmd, install_distribution, write_jsonl


class ToyConfig(TrainerConfig):
    smoothing: float = Field(1.0, gt=0, description="add-k smoothing")


class ToyTrainer(Trainer):
    """Character unigram model (test only)."""

    Config = ToyConfig
    config: ToyConfig

    def fit(self, data: CorpusData, run_dir: Path) -> dict[str, Any]:
        counts: Counter[str] = Counter()
        docs = 0
        for texts in data.texts("train"):
            docs += len(texts)
            for t in texts:
                counts.update(t)
        (run_dir / "model.json").write_text(json.dumps(counts))
        return {"train_docs": docs, "chars": len(counts)}

    def evaluate(
        self, data: CorpusData, run_dir: Path, splits: Sequence[str] = ("val", "test"), **_
    ) -> dict[str, Any]:
        counts = json.loads((run_dir / "model.json").read_text())
        k = self.config.smoothing
        total = sum(counts.values()) + k * (len(counts) + 1)
        out = {}
        for split in splits:
            chars = [c for texts in data.texts(split) for t in texts for c in t]
            if chars:
                nll = -sum(math.log((counts.get(c, 0) + k) / total) for c in chars)
                out[f"{split}_loss"] = nll / len(chars)
        return out

    def generate(self, run_dir: Path, prompt: str, max_new_tokens: int = 5, **_) -> list[str]:
        counts = json.loads((run_dir / "model.json").read_text())
        return [prompt + max(counts, key=counts.get) * max_new_tokens]


@pytest.fixture
def toy_site(tmp_path_factory, monkeypatch) -> dict[str, str]:
    """Registers ToyTrainer as trainer `toy` through a real distribution's entry points."""
    site = tmp_path_factory.mktemp("toysite")
    entry_points = "[corpuskit.trainers]\ntoy = tests.test_training:ToyTrainer\n"
    env = install_distribution(site, "corpuskit-toytrainer", entry_points, monkeypatch)
    yield env
    registry.refresh()


DOCS = [{"id": f"doc-{i}", "text": f"document {i}: " + "abc " * (i % 7 + 5)} for i in range(300)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A finished corpuskit run of 300 small documents."""
    tmp = tmp_path_factory.mktemp("corpus")
    src = write_jsonl(tmp / "docs.jsonl", DOCS)
    recipe = recipe_from_dict(
        {
            "input": {"path": str(src), "id_field": "id"},
            "output": {"path": str(tmp / "out")},
            "executor": {"workers": 1},
        }
    )
    run_recipe(recipe)
    return tmp / "out"


# --- the split ---------------------------------------------------------------


def test_split_depends_on_the_id_only():
    ids = [f"news/en-001.jsonl.gz:{i}" for i in range(20_000)]
    cfg = SplitConfig(val=0.1, test=0.05)
    splits = assign_split(ids, cfg).to_list()
    assert assign_split(list(reversed(ids)), cfg).to_list() == list(reversed(splits))
    chunked = [s for i in range(0, len(ids), 777) for s in assign_split(ids[i : i + 777], cfg)]
    assert chunked == splits
    counts = Counter(splits)
    assert abs(counts["val"] / len(ids) - 0.1) < 0.01
    assert abs(counts["test"] / len(ids) - 0.05) < 0.01
    # Pinned: a changed hash would silently move documents between train and test.
    assert assign_split(["doc-0", "doc-13", "doc-27"], cfg).to_list() == ["train", "test", "val"]
    assert split_positions(["doc-0"], 0)[0] == pytest.approx(0.922492, abs=1e-6)


def test_growing_val_only_moves_training_documents():
    ids = [str(i) for i in range(5000)]
    small = assign_split(ids, SplitConfig(val=0.05, test=0.05)).to_list()
    large = assign_split(ids, SplitConfig(val=0.2, test=0.05)).to_list()
    for before, after in zip(small, large, strict=True):
        if before == "val":
            assert after == "val"
        if after == "train":
            assert before == "train"
    assert sum(s == "test" for s in small) > 0


def test_split_seed_gives_another_split():
    ids = [str(i) for i in range(2000)]
    a = assign_split(ids, SplitConfig(seed=0)).to_list()
    b = assign_split(ids, SplitConfig(seed=1)).to_list()
    assert a != b and Counter(a)["train"] > 1600


def test_split_config_is_validated():
    with pytest.raises(ValidationError, match="val \\+ test must be < 1"):
        SplitConfig(val=0.6, test=0.4)
    with pytest.raises(ValidationError):
        SplitConfig(val=-0.1)
    with pytest.raises(ValidationError, match="Extra inputs"):
        SplitConfig(train=0.8)


# --- configs -----------------------------------------------------------------


def test_parse_overrides_nests_dotted_keys_and_reads_yaml_values():
    got = parse_overrides(
        ["max_iters=100", "split.val=0.2", "init_from=null", "name=x=y", "--flag=true", "lr=1.0e-3"]
    )
    assert got == {
        "max_iters": 100,
        "split": {"val": 0.2},
        "init_from": None,
        "name": "x=y",
        "flag": True,
        "lr": 1e-3,
    }
    with pytest.raises(TrainConfigError, match="expected key=value"):
        parse_overrides(["max_iters"])


def test_config_errors_name_the_key(toy_site, tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text("trainer: toy\nsmoothin: 2\n")
    with pytest.raises(TrainConfigError, match="smoothin: unknown key"):
        load_train_config(path)
    path.write_text("trainer: toy\nsmoothing: -1\n")
    with pytest.raises(TrainConfigError, match="smoothing: Input should be greater than 0"):
        load_train_config(path)
    path.write_text("trainer: nope\n")
    with pytest.raises(TrainConfigError, match=r"unknown trainer 'nope'; available: .*toy"):
        load_train_config(path)
    path.write_text("data: out\n")
    with pytest.raises(TrainConfigError, match="missing required key 'trainer'"):
        load_train_config(path)
    path.write_text("trainer: toy\nsplit: {val: 0.5, test: 0.5}\n")
    with pytest.raises(TrainConfigError, match="split: Value error, val \\+ test must be < 1"):
        load_train_config(path)


def test_config_defaults_and_overrides(toy_site, tmp_path):
    path = tmp_path / "my-run.yaml"
    path.write_text("trainer: toy\ndata: out/x\nsplit: {val: 0.2}\n")
    cfg = load_train_config(path, parse_overrides(["smoothing=0.5", "split.test=0.1"]))
    assert cfg.run_dir == str(Path("runs") / "my-run")
    assert cfg.smoothing == 0.5 and cfg.split == SplitConfig(val=0.2, test=0.1)


# --- the corpus reader -------------------------------------------------------


def test_corpus_data_reads_the_manifest_shards_with_their_split(corpus):
    data = CorpusData(corpus, SplitConfig(val=0.1, test=0.1))
    frames = list(data.batches(batch_rows=64))
    assert all(f.columns == ["id", "text", "split"] for f in frames)
    every = pl.concat(frames)
    assert sorted(every["id"]) == sorted(d["id"] for d in DOCS)
    assert (every["split"] == assign_split(every["id"], data.split)).all()
    counts = data.counts()
    assert sum(counts.values()) == 300 and min(counts.values()) > 10
    val_ids = {i for f in data.batches("val") for i in f["id"]}
    assert len(val_ids) == counts["val"]
    assert sum(len(t) for t in data.texts("train", batch_rows=50)) == counts["train"]
    fp = data.fingerprint()
    assert fp == CorpusData(corpus, SplitConfig(val=0.1, test=0.1)).fingerprint()
    assert fp != CorpusData(corpus, SplitConfig(val=0.2, test=0.1)).fingerprint()


def test_corpus_data_refuses_what_it_cannot_read(corpus, tmp_path):
    with pytest.raises(TrainConfigError, match="is not a folder"):
        CorpusData(tmp_path / "missing")
    with pytest.raises(TrainConfigError, match="holds no Parquet shards"):
        CorpusData(tmp_path)
    (tmp_path / "_state").mkdir()
    (tmp_path / "_state" / "run.json").write_text("{}")
    with pytest.raises(TrainConfigError, match="unfinished corpuskit run"):
        CorpusData(tmp_path)
    with pytest.raises(TrainConfigError, match="no column or meta key 'body' for the text"):
        CorpusData(corpus, text_field="body")
    # A plain folder of Parquet shards (no manifest) is read too.
    plain = tmp_path / "plain"
    (plain / "data").mkdir(parents=True)
    pl.DataFrame({"id": ["1", "2"], "text": ["x", "y"]}).write_parquet(plain / "data" / "a.parquet")
    assert sum(f.height for f in CorpusData(plain, SplitConfig(val=0, test=0)).batches()) == 2


def test_corpus_data_reads_pairs_from_columns_and_meta_keys(tmp_path):
    """Roles: the source from a meta key, the target from a column; split by id as ever."""
    folder = tmp_path / "pairs" / "data"
    folder.mkdir(parents=True)
    meta = [json.dumps({"en": f"sentence {i}", "n": i}) for i in range(40)]
    meta[3] = json.dumps({"n": 3})  # a document without the key reads as ""
    pl.DataFrame(
        {"id": [f"p{i}" for i in range(40)], "text": [f"句子{i}" for i in range(40)], "meta": meta}
    ).write_parquet(folder / "a.parquet")
    split = SplitConfig(val=0.2, test=0.2)
    data = CorpusData(folder.parent, split, fields={"source": "en", "target": "text"})
    every = pl.concat(list(data.batches()))
    assert every.columns == ["id", "source", "target", "split"]
    assert every.filter(pl.col("id") == "p7").row(0)[:3] == ("p7", "sentence 7", "句子7")
    assert every.filter(pl.col("id") == "p3")["source"][0] == ""
    assert (every["split"] == assign_split(every["id"], split)).all()
    sources = [s for batch in data.texts("train", role="source") for s in batch]
    assert len(sources) == data.counts()["train"]
    with pytest.raises(ValueError, match="not 'text'"):
        next(data.texts("train"))
    assert data.fingerprint() != CorpusData(folder.parent, split).fingerprint()
    with pytest.raises(TrainConfigError, match=r"no column or meta key 'fr' for the source.*'en'"):
        CorpusData(folder.parent, split, fields={"source": "fr", "target": "text"})


def test_ragged_sequences_pad_into_batches(tmp_path):
    seqs = [[5, 6, 7], [], [8], [9, 10, 11, 12, 13]]
    rag = Ragged.from_lists(seqs, np.uint16)
    assert len(rag) == 4 and rag.lengths.tolist() == [3, 0, 1, 5]
    rag.save(tmp_path / "train.source")
    rag = Ragged.load(tmp_path / "train.source")
    ids, mask = rag.pad([3, 0, 1], pad_id=0)
    assert ids.tolist() == [[9, 10, 11, 12, 13], [5, 6, 7, 0, 0], [0, 0, 0, 0, 0]]
    assert mask.sum(1).tolist() == [5, 3, 0] and ids.dtype == np.int64
    ids, mask = rag.pad([0, 3, 2], pad_id=0, max_len=4, append=1)  # EOS within max_len
    assert ids.tolist() == [[5, 6, 7, 1], [9, 10, 11, 1], [8, 1, 0, 0]]
    assert mask.tolist()[2] == [True, True, False, False]
    both = Ragged.concat([rag, Ragged.from_lists([[1, 2]], np.uint16)])
    assert [both.row(i).tolist() for i in range(len(both))] == [*seqs, [1, 2]]


# --- launching ---------------------------------------------------------------


def test_threads_per_rank_never_oversubscribes():
    assert threads_per_rank(1, cores=2) == 2
    assert threads_per_rank(2, cores=2) == 1
    assert threads_per_rank(4, cores=2) == 1
    assert threads_per_rank(3, cores=16) == 5
    env = rank_environment(LaunchOptions(nproc=2), base={"PATH": "/bin"})
    assert env["OMP_NUM_THREADS"] == str(threads_per_rank(2))
    kept = rank_environment(LaunchOptions(nproc=2), base={"OMP_NUM_THREADS": "3"})
    assert kept["OMP_NUM_THREADS"] == "3"


def test_torchrun_command_single_and_multi_node():
    run = Path("runs/x")
    one = torchrun_command(run, LaunchOptions(nproc=2))
    assert one[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=2" in one and "--standalone" in one
    assert one[-3:] == ["-m", "corpuskit.training.worker", str(run)]
    multi = torchrun_command(
        run,
        LaunchOptions(nproc=8, nnodes=2, node_rank=1, master_addr="10.0.0.1", master_port=29400),
    )
    assert "--standalone" not in multi
    assert {"--nnodes=2", "--node-rank=1", "--master-addr=10.0.0.1", "--master-port=29400"} <= set(
        multi
    )
    elastic = torchrun_command(run, LaunchOptions(nproc=4, nnodes=2, rdzv_endpoint="h:1"))
    assert {"--rdzv-backend=c10d", "--rdzv-endpoint=h:1", "--rdzv-id=x"} <= set(elastic)


# --- the command line --------------------------------------------------------


def test_importing_the_cli_does_not_import_torch():
    code = (
        "import sys\n"
        "from corpuskit.cli import main\n"
        "assert main.get_command(None, 'train') is not None\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_train_eval_generate_with_a_toy_trainer(toy_site, corpus, tmp_path):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(f"trainer: toy\ndata: {corpus}\nsplit: {{val: 0.1, test: 0.1}}\n")
    run_dir = tmp_path / "run"
    runner = CliRunner()
    r = runner.invoke(main, ["train", str(cfg), "--run-dir", str(run_dir), "smoothing=0.5"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output.strip().splitlines()[-1])
    counts = CorpusData(corpus, SplitConfig(val=0.1, test=0.1)).counts()
    assert summary["train_docs"] == counts["train"]
    saved = (run_dir / "config.yaml").read_text()
    assert "smoothing: 0.5" in saved and "trainer: toy" in saved
    r = runner.invoke(main, ["eval", str(run_dir), "--json"])
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.output)
    assert set(metrics) == {"val_loss", "test_loss"} and 0 < metrics["val_loss"] < 3
    r = runner.invoke(main, ["eval", str(run_dir), "--split", "val"])
    assert r.exit_code == 0 and "val_loss" in r.output and "test_loss" not in r.output
    r = runner.invoke(main, ["generate", str(run_dir), "--prompt", "go", "--max-new-tokens", "3"])
    assert r.exit_code == 0 and r.output == "go   \n"  # space is the commonest character
    # options a trainer does not declare are refused, not ignored
    r = runner.invoke(main, ["generate", str(run_dir), "--prompt", "go", "--num-beams", "4"])
    assert r.exit_code == 2 and "trainer 'toy' does not take --num-beams" in r.output
    r = runner.invoke(main, ["eval", str(run_dir), "--num-beams", "4"])
    assert r.exit_code == 2 and "(it takes: --bleu, --checkpoint, --samples)" in r.output
    r = runner.invoke(main, ["trainers"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "toy" in r.output and "Character unigram model" in r.output
    r = runner.invoke(main, ["trainers", "toy"], env={"COLUMNS": "200"})
    assert "smoothing" in r.output and "add-k smoothing" in r.output and "split" in r.output


def test_train_command_errors_exit_2_naming_the_key(toy_site, corpus, tmp_path):
    cfg = tmp_path / "toy.yaml"
    cfg.write_text(f"trainer: toy\ndata: {corpus}\n")
    base = [*corpuskit_cmd(), "train", str(cfg), "--run-dir", str(tmp_path / "run")]
    toy_site = {**toy_site, "COLUMNS": "300"}  # one-line messages
    p = subprocess.run([*base, "smoothin=1"], env=toy_site, capture_output=True, text=True)
    assert p.returncode == 2 and "smoothin: unknown key" in p.stderr
    p = subprocess.run([*base, "--nproc", "2"], env=toy_site, capture_output=True, text=True)
    assert p.returncode == 2 and "does not support --nproc > 1" in p.stderr
    p = subprocess.run(
        [*base, "--data", str(tmp_path / "nothing")], env=toy_site, capture_output=True, text=True
    )
    assert p.returncode == 2 and "is not a folder" in p.stderr
    p = subprocess.run(
        [*corpuskit_cmd(), "eval", str(tmp_path)], env=toy_site, capture_output=True, text=True
    )
    assert p.returncode == 2 and "is not a run folder" in p.stderr
